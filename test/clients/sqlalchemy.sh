#!/usr/bin/env bash
# SQLAlchemy (Debian's python3-sqlalchemy, Alembic for the migration) with psycopg2 and
# psycopg 3 against tables enabled in rename mode and lamin.artifact: CRUD through the views,
# the ORM's row-count checks, delete to trash, upsert, FOR UPDATE, lamin.restore() in a
# savepoint, the trash view, an Alembic migration on the view's name, automap and reflection of
# a view with its key declared (test/clients/orm/sqlalchemy_client.py). SQLAlchemy 1.4 (Debian
# 12, where PostgreSQL 15 is tested) has no psycopg 3 dialect: there it runs with psycopg2 only,
# and says so.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$REPO/test/clients/orm/lib.sh"
ensure_debs python3 python3-sqlalchemy python3-alembic python3-psycopg2 python3-psycopg
PY=/usr/bin/python3
orm_server sqlalchemy 54334
status=0
for driver in psycopg2 psycopg; do
    if [ "$driver" = psycopg ] && ! $PY -c 'import sys, sqlalchemy; sys.exit(int(sqlalchemy.__version__.split(".")[0]) < 2)'; then
        echo "note: SQLAlchemy $($PY -c 'import sqlalchemy; print(sqlalchemy.__version__)') has no psycopg 3 dialect (SQLAlchemy 2.0 has): psycopg 3 is not run here"
        continue
    fi
    echo "== SQLAlchemy with $driver"
    orm_database "sa_$driver"
    $PY "$ORM/sqlalchemy_client.py" "$driver" "$WORK" "$PORT" "sa_$driver" || status=1
done
exit $status
