# Sourced by the ORM client tests (test/clients/sqlalchemy.sh, django.sh, node.sh): the packages
# they need, a throw-away server with lamin_branch preloaded, and a database per client run with
# the schema of schema.sql. Expects REPO; sets WORK, PORT, ORM.
. "$REPO/scripts/lib.sh"
ORM=$REPO/test/clients/orm
ORM_SUDO=""
[ "$(id -u)" -eq 0 ] || ORM_SUDO=sudo

# ensure_debs PKG...: install the Debian packages that are missing (one apt-get update first)
ensure_debs() {
    local need=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
    done
    [ ${#need[@]} -eq 0 ] && return 0
    echo "== installing: ${need[*]}"
    # a testing release's Release file may be past its date between publications
    # one apt-get at a time on this system (scripts/setup.sh)
    $ORM_SUDO flock /var/lock/lamin_branch.apt apt-get -o Acquire::Check-Valid-Until=false update -qq >/dev/null
    $ORM_SUDO env DEBIAN_FRONTEND=noninteractive flock /var/lock/lamin_branch.apt \
        apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# orm_server NAME PORT: a throw-away server (stopped and removed on exit) with the two roles
orm_server() {
    WORK=$(make_workdir "$1")
    PORT=$2
    trap 'stop_server "$WORK"; rm -rf "$WORK"' EXIT
    start_server "$WORK" "$PORT"
    orm_psql -c "CREATE ROLE app_owner LOGIN" -c "CREATE ROLE app_user LOGIN"
}

orm_psql() { as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres "$@"; }

# orm_database DB: a new database with schema.sql
orm_database() {
    orm_psql -c "CREATE DATABASE $1" >/dev/null
    orm_psql -d "$1" < "$ORM/schema.sql" >/dev/null
}
