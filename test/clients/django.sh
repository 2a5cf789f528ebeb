#!/usr/bin/env bash
# Django (Debian's python3-django) with psycopg2 and psycopg 3 against tables enabled in rename
# mode and lamin.artifact: CRUD through the views and Django's row-count checks, delete to trash
# with its count, upsert (bulk_create with update_conflicts, Django 4.1 and later),
# select_for_update, lamin.restore() in a savepoint, the trash view, a migration (AddField,
# AlterField, a ForeignKey to the model's table, a new model referencing it) on the view's name,
# inspectdb of a view and manage.py check once its key is declared, and parents deleted with
# on_delete=DO_NOTHING or CASCADE (test/clients/orm/django_client.py). Django 3.2 (Debian 12,
# where PostgreSQL 15 is tested) supports psycopg2 only: there it runs with psycopg2, and says so.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$REPO/test/clients/orm/lib.sh"
ensure_debs python3 python3-django python3-psycopg2 python3-psycopg
PY=/usr/bin/python3
orm_server django 54335
status=0
for driver in psycopg2 psycopg; do
    if [ "$driver" = psycopg ] && ! $PY -c 'import sys, django; sys.exit(django.VERSION[:2] < (4, 2))'; then
        echo "note: Django $($PY -c 'import django; print(django.get_version())') supports psycopg2 only (psycopg 3 from Django 4.2): psycopg 3 is not run here"
        continue
    fi
    echo "== Django with $driver"
    orm_database "dj_$driver"
    $PY "$ORM/django_client.py" "$driver" "$WORK" "$PORT" "dj_$driver" || status=1
done
exit $status
