#!/usr/bin/env bash
# pg_dump and pg_restore: a reader's dump fails rather than holding part of the data; the
# superuser's dump (plain, custom, and data-only into a database that already has the
# extension) restores every branch, user branches, enabled tables, their views, triggers and
# policies; a trashed row stays trashed.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$REPO/scripts/lib.sh"
WORK=$(make_workdir dump)
PORT=54332
trap 'stop_server "$WORK"; rm -rf "$WORK"' EXIT
start_server "$WORK" "$PORT"
psql_() { as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres "$@"; }
dump_() { as_pg pg_dump -h "$WORK" -p "$PORT" "$@"; }

psql_ -c "CREATE DATABASE src"
psql_ -d src >/dev/null 2>&1 <<'SQL'
CREATE EXTENSION lamin_branch;
INSERT INTO lamin.branch (name, description) VALUES ('feature', 'a user branch');
INSERT INTO lamin.space (name) VALUES ('lab');
INSERT INTO lamin.artifact (uid, key) VALUES ('dmpAAAAAAAAAAAAA0000', 'a');
INSERT INTO lamin.artifact (uid, key, hash) VALUES ('dmpAAAAAAAAAAAAA0001', 'a', 'h');
INSERT INTO lamin.artifact (uid, key) VALUES ('dmpBBBBBBBBBBBBB0000', 'b'), ('dmpCCCCCCCCCCCCC0000', 'c'),
                                            ('dmpDDDDDDDDDDDDD0000', 'd');
SELECT lamin.artifact_archive((SELECT id FROM lamin.artifact_all WHERE key = 'b'));
SELECT lamin.artifact_delete((SELECT id FROM lamin.artifact_all WHERE uid = 'dmpAAAAAAAAAAAAA0001'));
UPDATE lamin.artifact SET branch_id = 2 WHERE key = 'c';
UPDATE lamin.artifact SET is_locked = true WHERE key = 'd';
-- made on a branch that was merged since: created_on_id names a merged branch
INSERT INTO lamin.branch (name) VALUES ('done');
INSERT INTO lamin.artifact_all (uid, key, branch_id, created_on_id)
     SELECT 'dmpEEEEEEEEEEEEE0000', 'e', id, id FROM lamin.branch WHERE name = 'done';
SELECT lamin.merge('done');
CREATE SCHEMA app;
CREATE TABLE app.project (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text UNIQUE NOT NULL);
CREATE TABLE app.task (id bigserial PRIMARY KEY, project_id int REFERENCES app.project (id), title text);
INSERT INTO app.project (name) VALUES ('p1'), ('p2');
INSERT INTO app.task (project_id, title) SELECT 1 + i % 2, 't' || i FROM generate_series(1, 10) i;
SELECT lamin.enable('app.task');
SELECT lamin.enable('app.project', spaces => true);
CREATE SCHEMA views;
CREATE TABLE app.note (id int PRIMARY KEY, body text);
INSERT INTO app.note SELECT i, 'n' || i FROM generate_series(1, 4) i;
SELECT lamin.enable('app.note', views_schema => 'views');
DELETE FROM app.task WHERE id <= 3;
DELETE FROM views.note WHERE id = 1;
SELECT lamin.delete_many('app.task', ARRAY[4, 5], permanent => true);
CREATE ROLE dump_reader LOGIN;
GRANT USAGE ON SCHEMA app TO dump_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA lamin TO dump_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA app TO dump_reader;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA app, lamin TO dump_reader;
SQL

# what must survive: rows per table and branch, branches, registry, views, triggers, policies,
# the move log
cat > "$WORK/state.sql" <<'SQL'
SELECT 'artifact', uid || ' created on ' || created_on_id, branch_id, is_latest, is_locked FROM lamin.artifact_all
UNION ALL SELECT 'task', id::text, branch_id, NULL, NULL FROM app.task_all
UNION ALL SELECT 'project', id::text, branch_id, NULL, NULL FROM app.project_all
UNION ALL SELECT 'note', id::text, branch_id, NULL, NULL FROM app.note
UNION ALL SELECT 'branch', name, id, NULL, NULL FROM lamin.branch
UNION ALL SELECT 'space', name, id, NULL, NULL FROM lamin.space
UNION ALL SELECT 'enabled', relation::text || ' ' || mode || ' ' || main_view::text || ' ' || trash_view::text || ' '
                 || added_columns::text || ' ' || spaces, NULL, NULL, NULL FROM lamin.enabled_table
UNION ALL SELECT 'view', c.oid::regclass::text || ' ' || coalesce(array_to_string(c.reloptions, ','), ''), NULL, NULL, NULL
            FROM pg_class c WHERE c.relkind = 'v' AND c.relnamespace::regnamespace::text IN ('app', 'views', 'lamin')
UNION ALL SELECT 'trigger', tgrelid::regclass::text || ' ' || tgname, NULL, NULL, NULL FROM pg_trigger
           WHERE NOT tgisinternal AND tgrelid::regclass::text ~ '^(app|views|lamin)\.'
UNION ALL SELECT 'policy', polrelid::regclass::text || ' ' || polname || ' ' || polpermissive, NULL, NULL, NULL FROM pg_policy
           WHERE polrelid::regclass::text ~ '^(app|lamin)\.'
UNION ALL SELECT 'move', concat_ws(' ', relation, key, uid, from_branch, to_branch, role, operation IS NOT NULL, row_data),
                 NULL, NULL, NULL FROM lamin.move_log
ORDER BY 1, 2;
SQL
state() { psql_ -d "$1" -At -f "$WORK/state.sql"; }
state src > "$WORK/src.state"
echo "source: $(grep -c . "$WORK/src.state") facts; trashed artifact: $(grep 'dmpAAAAAAAAAAAAA0001' "$WORK/src.state")"

status=0
# a reader's dump fails: row-level security would hide part of the data
if dump_ -U dump_reader -d src > "$WORK/reader.sql" 2> "$WORK/reader.err"; then
    echo "FAIL: pg_dump as a reader succeeded"; status=1
elif grep -q 'query would be affected by row-level security' "$WORK/reader.err"; then
    echo "ok: pg_dump as a reader fails: $(grep -m1 -o 'query would be affected by row-level security.*' "$WORK/reader.err")"
else
    echo "FAIL: pg_dump as a reader failed for another reason:"; cat "$WORK/reader.err"; status=1
fi

check() {   # check NAME: compare the state of database NAME with the source
    state "$1" > "$WORK/$1.state"
    if diff -u "$WORK/src.state" "$WORK/$1.state"; then
        echo "ok: $2 restores every branch ($(grep -c . "$WORK/$1.state") facts)"
    else
        echo "FAIL: $2 differs"; status=1
    fi
}

dump_ -U postgres -d src -f "$WORK/plain.sql"
psql_ -c "CREATE DATABASE dst_plain"
psql_ -d dst_plain -f "$WORK/plain.sql" >/dev/null 2>&1
check dst_plain "plain pg_dump | psql"

dump_ -U postgres -d src -Fc -f "$WORK/custom.dump"
psql_ -c "CREATE DATABASE dst_custom"
as_pg pg_restore -h "$WORK" -p "$PORT" -U postgres -d dst_custom "$WORK/custom.dump"
check dst_custom "pg_dump -Fc | pg_restore"

# data only, into a database that already has the extension and the schema
psql_ -c "CREATE DATABASE dst_data"
dump_ -U postgres -d src -s -f "$WORK/schema.sql"
psql_ -d dst_data -f "$WORK/schema.sql" >/dev/null 2>&1
dump_ -U postgres -d src -a -f "$WORK/data.sql"
psql_ -d dst_data -f "$WORK/data.sql" >/dev/null
check dst_data "pg_dump -s, then pg_dump -a"

# the restored database works: a trashed row stays trashed and can be restored
psql_ -d dst_custom -At -c "SET client_min_messages = warning; SELECT action FROM lamin.restore('app.task', 1::bigint)" | grep -q restored \
    && echo "ok: restored database moves rows" || { echo "FAIL: restored database cannot move rows"; status=1; }
exit $status
