#!/usr/bin/env bash
# The Citus test: a coordinator and two workers of the PostgreSQL this runs with (PG_MAJOR),
# each preloading citus and lamin_branch, then test/citus/citus.sql on the coordinator, its
# output compared with test/citus/expected/citus.out.
#   bash test/citus/run.sh WORKDIR      (scripts/test.sh runs it; WORKDIR holds the servers)
# Citus is not in Debian's packages. Where it is not installed this prints
# "skipped: Citus not installed" and succeeds; README (Scale-out) says how to install it.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$REPO/scripts/lib.sh"
WORK=${1:?usage: run.sh WORKDIR}

if [ ! -e "$(pg_config --pkglibdir)/citus.so" ] || [ ! -e "$(pg_config --sharedir)/extension/citus.control" ]; then
    echo "skipped: Citus not installed"
    exit 0
fi

D=$WORK/citus
rm -rf "$D"; mkdir -p "$D"; chmod 755 "$D"
[ "$(id -u)" -eq 0 ] && chown postgres "$D"
BASE=${CITUS_PORT:-56100}
cleanup() {
    for n in 0 1 2; do as_pg pg_ctl -D "$D/n$n" -m immediate -w stop >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
for n in 0 1 2; do
    as_pg initdb -D "$D/n$n" -A trust -U postgres >/dev/null
    as_pg pg_ctl -D "$D/n$n" -l "$D/n$n.log" -w -o "-p $((BASE + n)) -k $D -c listen_addresses=localhost \
        -c shared_preload_libraries=citus,lamin_branch -c max_connections=50 -c fsync=off" start >/dev/null
    as_pg psql -X -q -h "$D" -p $((BASE + n)) -U postgres -d postgres \
        -c "CREATE EXTENSION citus" -c "CREATE EXTENSION lamin_branch" >/dev/null
done
as_pg psql -X -q -h "$D" -p "$BASE" -U postgres -d postgres >/dev/null <<SQL
SELECT citus_set_coordinator_host('localhost', $BASE);
SELECT citus_add_node('localhost', $((BASE + 1)));
SELECT citus_add_node('localhost', $((BASE + 2)));
SQL

(cd "$REPO/test/citus" && as_pg psql -X -a -q -h "$D" -p "$BASE" -U postgres -d postgres -v VERBOSITY=terse \
    -f citus.sql) > "$D/citus.out" 2>&1 || true
if diff -u "$REPO/test/citus/expected/citus.out" "$D/citus.out" > "$D/citus.diff"; then
    echo "citus: same as expected"
else
    cat "$D/citus.diff"
    exit 1
fi
