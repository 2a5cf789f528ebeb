#!/usr/bin/env bash
# The upgrade path: every version from 0.1.0 updated to the current one has the same schema as a
# fresh install (pg_dump --binary-upgrade -s, which lists extension members, minus OIDs), and the
# rows it held are still there, on the same branches.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$REPO/scripts/lib.sh"
WORK=$(make_workdir upgrade)
PORT=54331
trap 'stop_server "$WORK"; rm -rf "$WORK"' EXIT
start_server "$WORK" "$PORT"
psql_() { as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres "$@"; }

current=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$REPO/lamin_branch.control")
# every version a script installs or updates to
versions=$(ls "$REPO"/sql/lamin_branch--*.sql | sed -e 's/.*lamin_branch--//' -e 's/\.sql$//' | tr -- '-' '\n' \
           | grep -E '^[0-9.]+$' | sort -u -V)
schema() {
    as_pg pg_dump --binary-upgrade -s -h "$WORK" -p "$PORT" -U postgres "$1" \
        | grep -v -e 'binary_upgrade_set' -e '^--' -e '^$' -e 'pg_dump' -e '^SET ' -e 'set_config' \
                 -e '^\\restrict' -e '^\\unrestrict' -e 'pg_catalog.setval' \
        | sed -e "s/WHERE oid = '[0-9]*'/WHERE oid = N/" -e "s/'{[0-9,]*}'/'{oids}'/"
}

psql_ -c "CREATE DATABASE fresh" -c "CREATE DATABASE fresh_data"
# application tables, enabled: with spaces and without
enable_tables() {
    psql_ -d "$1" >/dev/null <<'SQL'
CREATE SCHEMA app;
CREATE TABLE app.doc (id int PRIMARY KEY, body text);
CREATE TABLE app.note (id int PRIMARY KEY, uid varchar(20), is_latest boolean NOT NULL DEFAULT true);
INSERT INTO app.doc VALUES (1, 'one'), (2, 'two');
SELECT lamin.enable('app.doc', spaces => true);
SELECT lamin.enable('app.note');
DELETE FROM app.doc WHERE id = 2;
SQL
}
psql_ -d fresh -c "CREATE EXTENSION lamin_branch"
enable_tables fresh
schema fresh > "$WORK/fresh.sql"
echo "fresh install of $current: $(grep -c . "$WORK/fresh.sql") schema lines"

status=0
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
    has_enable=$(psql_ -d "$db" -At -c "SELECT count(*) FROM pg_proc WHERE proname = 'enable' AND pronamespace = 'lamin'::regnamespace")
    [ "$has_enable" = 0 ] || enable_tables "$db"
    before=$(psql_ -d "$db" -At -c "SELECT string_agg(uid || ':' || branch_id || ':' || is_latest, ' ' ORDER BY uid) FROM lamin.artifact_all")
    psql_ -d "$db" -c "ALTER EXTENSION lamin_branch UPDATE TO '$current'"
    after=$(psql_ -d "$db" -At -c "SELECT string_agg(uid || ':' || branch_id || ':' || is_latest, ' ' ORDER BY uid) FROM lamin.artifact_all")
    [ "$has_enable" != 0 ] || enable_tables "$db"
    # a spaces table enabled before 0.3.0 gets its new main view from refresh_views(), as the
    # update's notice says
    psql_ -d "$db" -c "SELECT lamin.refresh_views(relation) FROM lamin.enabled_table WHERE spaces" >/dev/null
    got=$(psql_ -d "$db" -At -c "SELECT extversion FROM pg_extension WHERE extname = 'lamin_branch'")
    schema "$db" > "$WORK/$db.sql"
    if [ "$got" != "$current" ]; then
        echo "FAIL: $v updated to $got, not $current"; status=1
    elif ! diff -u "$WORK/fresh.sql" "$WORK/$db.sql"; then
        echo "FAIL: $v -> $current differs from a fresh install of $current"; status=1
    elif [ "$before" != "$after" ]; then
        echo "FAIL: rows changed by the update: $before / $after"; status=1
    else
        echo "ok: $v -> $current has the schema of a fresh install; rows kept: $after"
    fi
    # the updated extension works: enable a table
    psql_ -d "$db" -c "CREATE TABLE t (id int PRIMARY KEY)" -c "SELECT lamin.enable('t')" \
          -c "INSERT INTO t VALUES (1)" -c "DELETE FROM t" >/dev/null
    [ "$(psql_ -d "$db" -At -c "SELECT branch_id FROM t_all")" = "-1" ] || { echo "FAIL: enable after update"; status=1; }
done
exit $status
