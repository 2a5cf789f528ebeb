#!/usr/bin/env bash
# Helpers for a throw-away Citus cluster of the PostgreSQL in use (scripts/lib.sh): a coordinator
# on port BASE and two workers on BASE+1 and BASE+2, each preloading citus and lamin_branch.
# Sourced by test/citus/run.sh and test/bench/citus.sh.

# Is Citus installed for this PostgreSQL?
citus_installed() {
    [ -e "$(pg_config --pkglibdir)/citus.so" ] && [ -e "$(pg_config --sharedir)/extension/citus.control" ]
}

# citus_up DIR BASE: initdb and start the three servers under DIR, make the cluster
citus_up() {
    local dir=$1 base=$2 n
    rm -rf "$dir"; mkdir -p "$dir"; chmod 755 "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    for n in 0 1 2; do
        as_pg initdb -D "$dir/n$n" -A trust -U postgres >/dev/null
        as_pg pg_ctl -D "$dir/n$n" -l "$dir/n$n.log" -w -o "-p $((base + n)) -k $dir -c listen_addresses=localhost \
            -c shared_preload_libraries=citus,lamin_branch -c max_connections=50 -c fsync=off" start >/dev/null
        as_pg psql -X -q -h "$dir" -p $((base + n)) -U postgres -d postgres \
            -c "CREATE EXTENSION citus" -c "CREATE EXTENSION lamin_branch" >/dev/null
    done
    as_pg psql -X -q -h "$dir" -p "$base" -U postgres -d postgres >/dev/null <<SQL
SELECT citus_set_coordinator_host('localhost', $base);
SELECT citus_add_node('localhost', $((base + 1)));
SELECT citus_add_node('localhost', $((base + 2)));
SQL
}

# citus_down DIR: stop the three servers
citus_down() {
    local n
    for n in 0 1 2; do as_pg pg_ctl -D "$1/n$n" -m immediate -w stop >/dev/null 2>&1 || true; done
}
