#!/usr/bin/env bash
# The demo: installs what is missing, builds and installs lamin_branch, starts a throw-away
# Postgres, creates the extension, runs LaminDB's trash/archive scenario in psql and cleans up.
#   --keep   leave the server running and print how to connect
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1

bash "$REPO/scripts/setup.sh"
. "$REPO/scripts/lib.sh"

WORK=$(make_workdir demo)
PORT=54329
cleanup() { stop_server "$WORK"; rm -rf "$WORK"; }
[ $KEEP -eq 1 ] || trap cleanup EXIT

echo "== starting a throw-away PostgreSQL 15 in $WORK"
start_server "$WORK" "$PORT"
cp "$REPO/scripts/demo.sql" "$WORK/demo.sql"
as_pg psql -X -h "$WORK" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE EXTENSION lamin_branch" -f "$WORK/demo.sql"

if [ $KEEP -eq 1 ]; then
    echo
    echo "The server keeps running. Connect with:"
    echo "  psql -h $WORK -p $PORT -U postgres"
    echo "Stop it with:"
    echo "  runuser -u postgres -- $PGBIN/pg_ctl -D $WORK/data stop && rm -rf $WORK"
fi
