#!/usr/bin/env bash
# Helpers shared by demo.sh, test.sh and the benchmark: which PostgreSQL to use, running as the
# postgres OS user when we are root (Postgres refuses to run as root), and a throw-away server.
#
# PG_MAJOR picks the major version (default: the newest server installed here, else 15). On this
# machine that is the server of the system itself; scripts/pgroots.sh makes Debian roots that
# hold other major versions and runs these same scripts inside them.
if [ -z "${PG_MAJOR:-}" ]; then
    PG_MAJOR=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
    PG_MAJOR=${PG_MAJOR:-15}
fi
export PG_MAJOR
PGBIN=/usr/lib/postgresql/$PG_MAJOR/bin
PGXS_TEST=/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test
export PATH=$PGBIN:$PATH

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A work directory the server's user can read and write, wherever the repository lives.
make_workdir() {
    local dir
    dir=$(mktemp -d "/tmp/lamin_branch.$1.XXXXXX")
    chmod 755 "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    echo "$dir"
}

# start_server DIR PORT: initdb and start a private server listening on a socket in DIR only,
# with lamin_branch preloaded as README recommends (its planner hook reads branch views as tables).
start_server() {
    local dir=$1 port=$2
    as_pg initdb -D "$dir/data" -A trust -U postgres >/dev/null
    as_pg pg_ctl -D "$dir/data" -l "$dir/server.log" -w \
        -o "-p $port -k $dir -c listen_addresses='' -c shared_preload_libraries=lamin_branch" start >/dev/null
}

stop_server() {
    as_pg pg_ctl -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true
}
