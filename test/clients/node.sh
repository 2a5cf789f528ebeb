#!/usr/bin/env bash
# Node clients against tables enabled in rename mode and lamin.artifact: node-postgres (pg),
# knex and Sequelize 6, exact versions from test/clients/orm/package.json and its lock file,
# installed with npm into a cache kept between runs (/var/cache/lamin_branch/npm as root).
# CRUD through the views, delete to trash with its count, upsert, FOR UPDATE, lamin.restore()
# in a savepoint, the trash views, a knex migration (alterTable, references) and Sequelize
# queryInterface.addColumn on the view's name (test/clients/orm/*.js). Node and npm are
# Debian's packages where no node and npm are installed.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$REPO/test/clients/orm/lib.sh"
# Debian's nodejs and npm, unless node and npm are here already (another distribution of Node,
# e.g. NodeSource's nodejs, which brings its own npm and conflicts with Debian's)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    ensure_debs nodejs npm ca-certificates
fi
echo "note: node $(node --version) ($(command -v node)), npm $(npm --version)"
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 16 ]; then
    echo "FAIL: node $(node --version) is older than 16, which knex 3 and pg 8 need"; exit 1
fi

# the packages, once per lock file
if [ "$(id -u)" -eq 0 ]; then CACHE=/var/cache/lamin_branch/npm; else CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/lamin_branch/npm; fi
NPMDIR=$CACHE/$(cat "$ORM/package.json" "$ORM/package-lock.json" | sha256sum | cut -c1-16)
if [ ! -e "$NPMDIR/.installed" ]; then
    rm -rf "$NPMDIR"
    mkdir -p "$NPMDIR"
    cp "$ORM/package.json" "$ORM/package-lock.json" "$NPMDIR/"
    echo "== npm install into $NPMDIR"
    (cd "$NPMDIR" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error) || { echo "FAIL: npm install"; exit 1; }
    touch "$NPMDIR/.installed"
fi

orm_server node 54336
status=0
for client in node_pg knex sequelize; do
    echo "== $client"
    orm_database "$client"
    NODE_PATH=$NPMDIR/node_modules LAMIN_HOST=$WORK LAMIN_PORT=$PORT LAMIN_DB=$client \
        node "$ORM/$client.js" || status=1
done
exit $status
