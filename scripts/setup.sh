#!/usr/bin/env bash
# Installs what lamin_branch needs on Debian (when missing), then builds and installs it for the
# PostgreSQL major version PG_MAJOR (default 15, the server of Debian 12). Sourced by demo.sh and
# test.sh; safe to run on its own.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
V=${PG_MAJOR:-15}

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need=()
for pkg in postgresql-$V postgresql-server-dev-$V make gcc libipc-run-perl; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "== installing: ${need[*]}"
    # One apt-get at a time on this system: scripts/test.sh makes the Debian roots of other
    # versions in the background (pgroots.sh installs debootstrap) while the client tests
    # install their packages, and apt-get fails at once when another holds its lock. flock
    # makes them wait for each other.
    $SUDO flock /var/lock/lamin_branch.apt apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive flock /var/lock/lamin_branch.apt apt-get install -y -qq "${need[@]}" >/dev/null
fi

PG_CONFIG=/usr/lib/postgresql/$V/bin/pg_config
echo "== building and installing lamin_branch for PostgreSQL $V"
make -C "$REPO" -s clean PG_CONFIG=$PG_CONFIG >/dev/null
make -C "$REPO" -s PG_CONFIG=$PG_CONFIG >/dev/null
$SUDO make -C "$REPO" -s install PG_CONFIG=$PG_CONFIG >/dev/null
