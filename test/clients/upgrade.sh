#!/usr/bin/env bash
# The upgrade paths: a fresh install of the current version (its own install script) against every
# older version updated to it, each in a database of its own. Each path ends with the schema of
# the fresh install (pg_dump --binary-upgrade -s, which lists extension members, minus OIDs), the
# rows it held are still there on the same branches, and its enabled tables hold the same rows as
# the fresh install's.
#
# Known differences, documented in README ("Upgrading"), apply only to tables enabled under 0.2.0
# and are checked to be exactly these before they are removed as README says:
#   - a spaces table keeps its 0.2.0 main view until SELECT lamin.refresh_views(...), as the
#     update's warning says;
#   - the SELECT, INSERT and UPDATE grants that 0.2.0 left on a renamed table stay there until
#     they are revoked.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$REPO/scripts/lib.sh"
WORK=$(make_workdir upgrade)
PORT=54331
trap 'stop_server "$WORK"; rm -rf "$WORK"' EXIT
start_server "$WORK" "$PORT"
psql_() { as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres "$@"; }
q() { local db=$1; shift; psql_ -d "$db" -At -c "$*"; }

current=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$REPO/lamin_branch.control")
[ -e "$REPO/sql/lamin_branch--$current.sql" ] || { echo "FAIL: no install script for $current"; exit 1; }
# every version a script installs or updates to
versions=$(ls "$REPO"/sql/lamin_branch--*.sql | sed -e 's/.*lamin_branch--//' -e 's/\.sql$//' | tr -- '-' '\n' \
           | grep -E '^[0-9.]+$' | sort -u -V)
schema() {
    as_pg pg_dump --binary-upgrade -s -h "$WORK" -p "$PORT" -U postgres "$1" \
        | grep -v -e 'binary_upgrade_set' -e '^--' -e '^$' -e 'pg_dump' -e '^SET ' -e 'set_config' \
                 -e '^\\restrict' -e '^\\unrestrict' -e 'pg_catalog.setval' \
        | sed -e "s/WHERE oid = '[0-9]*'/WHERE oid = N/" -e "s/'{[0-9,]*}'/'{oids}'/"
    # a constraint's triggers, which the dump leaves out, and whether each is enabled
    q "$1" "SELECT t.tgrelid::regclass || ' ' || k.conname || ' ' || t.tgfoid::regproc || ' ' || t.tgenabled::text
              FROM pg_trigger t JOIN pg_constraint k ON k.oid = t.tgconstraint
             WHERE t.tgisinternal AND t.tgrelid::regclass::text LIKE 'lamin.%' ORDER BY 1"
}
# rows of the extension's own table, and of the enabled application tables
artifact_rows() {
    q "$1" "SELECT string_agg(uid || ':' || branch_id || ':' || is_latest, ' ' ORDER BY uid) FROM lamin.artifact_all"
}
app_rows() {
    q "$1" "SELECT concat_ws(' | ',
              (SELECT string_agg(id || ':' || branch_id || ':' || space_id, ' ' ORDER BY id) FROM app.doc_all),
              (SELECT string_agg(id || ':' || branch_id || ':' || is_latest, ' ' ORDER BY id) FROM app.note_all),
              (SELECT string_agg(id || ':' || branch_id, ' ' ORDER BY id) FROM app.log))"
}

# a role the application tables are granted to (roles belong to the cluster: made once)
psql_ -c "CREATE ROLE upgrade_app NOLOGIN"
# application tables, enabled: renamed with spaces, renamed with version families, views mode
enable_tables() {
    psql_ -d "$1" >/dev/null <<'SQL'
CREATE SCHEMA app;
CREATE SCHEMA app_views;
GRANT USAGE ON SCHEMA app, app_views TO upgrade_app;
CREATE TABLE app.doc (id int PRIMARY KEY, body text);
CREATE TABLE app.note (id int PRIMARY KEY, uid varchar(20), is_latest boolean NOT NULL DEFAULT true);
CREATE TABLE app.log (id int PRIMARY KEY, line text);
GRANT SELECT, INSERT, UPDATE, DELETE ON app.doc TO upgrade_app;
GRANT SELECT ON app.note TO upgrade_app;
INSERT INTO app.doc VALUES (1, 'one'), (2, 'two'), (3, 'three');
INSERT INTO app.note VALUES (1, 'updNNNNNNNNNNNNN0000', true), (2, 'updNNNNNNNNNNNNN0001', true),
                            (3, 'updMMMMMMMMMMMMM0000', false);
INSERT INTO app.log VALUES (1, 'a'), (2, 'b');
SELECT lamin.enable('app.doc', spaces => true);
SELECT lamin.enable('app.note');
SELECT lamin.enable('app.log', views_schema => 'app_views');
DELETE FROM app.doc WHERE id = 2;
SELECT lamin.archive('app.doc', 3);
DELETE FROM app.note WHERE id = 2;
DELETE FROM app_views.log WHERE id = 2;
SQL
}
psql_ -c "CREATE DATABASE fresh"
psql_ -d fresh -c "CREATE EXTENSION lamin_branch"
[ "$(q fresh "SELECT extversion FROM pg_extension WHERE extname = 'lamin_branch'")" = "$current" ] \
    || { echo "FAIL: a fresh install is not $current"; exit 1; }
enable_tables fresh
schema fresh > "$WORK/fresh.sql"
fresh_rows=$(app_rows fresh)
echo "fresh install of $current: $(grep -c . "$WORK/fresh.sql") schema lines; enabled tables: $fresh_rows"

status=0
fail() { echo "FAIL: $*"; status=1; }
for v in $versions; do
    [ "$v" = "$current" ] && continue
    db="from_${v//./_}"
    psql_ -c "CREATE DATABASE $db"
    psql_ -d "$db" -c "CREATE EXTENSION lamin_branch VERSION '$v'"
    # rows on every branch, a user branch, a version family
    psql_ -d "$db" >/dev/null 2>&1 <<'SQL'
INSERT INTO lamin.branch (name) VALUES ('feature');
INSERT INTO lamin.artifact (uid, key) VALUES ('upgAAAAAAAAAAAAA0000', 'a');
INSERT INTO lamin.artifact (uid, key, hash) VALUES ('upgAAAAAAAAAAAAA0001', 'a', 'h');
INSERT INTO lamin.artifact (uid, key) VALUES ('upgBBBBBBBBBBBBB0000', 'b'), ('upgCCCCCCCCCCCCC0000', 'c');
SELECT lamin.artifact_archive((SELECT id FROM lamin.artifact_all WHERE key = 'b'));
SELECT lamin.artifact_delete((SELECT id FROM lamin.artifact_all WHERE key = 'c'));
SQL
    # versions with lamin.enable() enable the application tables before the update, the others after
    has_enable=$(q "$db" "SELECT count(*) FROM pg_proc WHERE proname = 'enable' AND pronamespace = 'lamin'::regnamespace")
    before=$(artifact_rows "$db")
    if [ "$has_enable" != 0 ]; then
        enable_tables "$db"
        app_before=$(app_rows "$db")
    fi
    notices=$(psql_ -d "$db" -c "ALTER EXTENSION lamin_branch UPDATE TO '$current'" 2>&1)
    after=$(artifact_rows "$db")
    if [ "$has_enable" != 0 ]; then
        app_after=$(app_rows "$db")
        [ "$app_before" = "$app_after" ] || fail "$v: the update changed rows of enabled tables: $app_before / $app_after"
    else
        enable_tables "$db"
    fi
    got=$(q "$db" "SELECT extversion FROM pg_extension WHERE extname = 'lamin_branch'")
    # rows in a trash before the update are in lamin.trash after it, recorded when the log began
    if [ "$has_enable" != 0 ]; then
        trash=$(q "$db" "SELECT string_agg(relation || ':' || key, ' ' ORDER BY relation::text, key) FROM lamin.trash
                          WHERE relation::text LIKE 'app.%' AND trashed_by IS NULL AND operation IS NULL")
        [ "$trash" = "app.doc_all:2 app.log:2 app.note_all:2" ] || fail "$v: the trash after the update: $trash"
    fi

    # tables enabled under 0.2.0 (before 0.3.0): the two documented differences, exactly, then
    # what README says to do about them
    if [ "$has_enable" != 0 ] && [ "$(printf '%s\n' "$v" 0.3.0 | sort -V | head -1)" != 0.3.0 ]; then
        expect="WARNING:  table app.doc_all keeps its 0.2.0 main view until SELECT lamin.refresh_views('app.doc_all');"
        [ "$notices" = "$expect" ] || fail "$v: the update said '$notices', not '$expect'"
        opts=$(q "$db" "SELECT string_agg(c.relname || ':' || array_to_string(c.reloptions, ','), ' ' ORDER BY c.relname)
                          FROM pg_class c WHERE c.oid IN (SELECT main_view FROM lamin.enabled_table WHERE mode <> 'extension')")
        [ "$opts" = "doc:security_invoker=true log:security_barrier=true note:security_barrier=true" ] \
            || fail "$v: main views after the update: $opts"
        grants=$(q "$db" "SELECT string_agg(c.relname || ':' || x.privilege_type, ' ' ORDER BY c.relname, x.privilege_type)
                            FROM pg_class c, aclexplode(c.relacl) x
                           WHERE c.relnamespace = 'app'::regnamespace AND c.relkind = 'r'
                             AND x.grantee = 'upgrade_app'::regrole")
        [ "$grants" = "doc_all:INSERT doc_all:SELECT doc_all:UPDATE note_all:SELECT" ] \
            || fail "$v: grants left on the tables: $grants"
        psql_ -d "$db" -c "SELECT lamin.refresh_views('app.doc_all')" \
              -c "REVOKE SELECT, INSERT, UPDATE ON app.doc_all, app.note_all FROM upgrade_app" >/dev/null
    elif [ -n "$notices" ]; then
        fail "$v: the update said '$notices'"
    fi

    schema "$db" > "$WORK/$db.sql"
    rows=$(app_rows "$db")
    if [ "$got" != "$current" ]; then
        fail "$v updated to $got, not $current"
    elif ! diff -u "$WORK/fresh.sql" "$WORK/$db.sql"; then
        fail "$v -> $current differs from a fresh install of $current"
    elif [ "$before" != "$after" ]; then
        fail "rows changed by the update: $before / $after"
    elif [ "$rows" != "$fresh_rows" ]; then
        fail "$v -> $current: enabled tables hold $rows, a fresh install $fresh_rows"
    else
        echo "ok: $v -> $current has the schema of a fresh install; rows kept: $after; enabled tables: $rows"
    fi
    # the updated extension works: enable a table
    psql_ -d "$db" -c "CREATE TABLE t (id int PRIMARY KEY)" -c "SELECT lamin.enable('t')" \
          -c "INSERT INTO t VALUES (1)" -c "DELETE FROM t" >/dev/null
    [ "$(q "$db" "SELECT branch_id FROM t_all")" = "-1" ] || fail "enable after update from $v"
done
exit $status
