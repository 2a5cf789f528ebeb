#!/usr/bin/env bash
# Installs what lamin_branch needs on Debian 12 (when missing), then builds and installs it.
# Sourced by demo.sh and test.sh; safe to run on its own.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need=()
for pkg in postgresql-15 postgresql-server-dev-15 postgresql-contrib make gcc libipc-run-perl; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "== installing: ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

export PATH=/usr/lib/postgresql/15/bin:$PATH
echo "== building and installing lamin_branch"
make -C "$REPO" -s PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config >/dev/null
$SUDO make -C "$REPO" -s install PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config >/dev/null
