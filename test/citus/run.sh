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

. "$REPO/test/citus/cluster.sh"
if ! citus_installed; then
    echo "skipped: Citus not installed"
    exit 0
fi

D=$WORK/citus
BASE=${CITUS_PORT:-56100}
trap 'citus_down "$D"' EXIT
citus_up "$D" "$BASE"

(cd "$REPO/test/citus" && as_pg psql -X -a -q -h "$D" -p "$BASE" -U postgres -d postgres -v VERBOSITY=terse \
    -f citus.sql) > "$D/citus.out" 2>&1 || true
if diff -u "$REPO/test/citus/expected/citus.out" "$D/citus.out" > "$D/citus.diff"; then
    echo "citus: same as expected"
else
    cat "$D/citus.diff"
    exit 1
fi
