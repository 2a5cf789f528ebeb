#!/usr/bin/env bash
# lamin_branch on Citus: an enabled distributed table (Citus mode) next to the distributed table a
# user would write by hand, measured in the same run on a throw-away cluster (a coordinator and
# two workers of this machine's PostgreSQL, test/citus/cluster.sh).
#
#   bash test/bench/citus.sh [--rows N]      (default 10^6 rows per table; needs Citus installed)
#
# Tables, both distributed by id over 32 shards, both with 1 row in 20 in the trash:
#   lamin  app.task (id bigint primary key, title text, n int, updated_at timestamptz), enabled
#          with lamin.enable(): app.task_all, its views app.task, app.task_trash
#   hand   hand.task: the same columns and a plain integer branch_id, no view, policy or check
# Cases (ratio lamin / hand; median of RUNS runs, sides alternating):
#   read-agg    count(*), sum(n) of the main view vs WHERE branch_id = 1 (every shard)
#   read-range  the same over 1 000 ids (id BETWEEN)
#   read-one    one row by id (one shard)
#   trash       lamin.delete_many(tbl, keys) of 10^5 main rows vs UPDATE ... SET branch_id = -1
#               WHERE id = ANY (keys) AND branch_id = 1, in a transaction rolled back
#   restore     lamin.restore_many of the trashed rows among 10^5 keys vs the UPDATE back
# Each result line starts with "=>".
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$REPO/scripts/lib.sh"
. "$REPO/test/citus/cluster.sh"
ROWS=1000000
RUNS=${RUNS:-5}
while [ $# -gt 0 ]; do
    case $1 in
        --rows) ROWS=$2; shift ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
citus_installed || { echo "Citus is not installed for PostgreSQL $PG_MAJOR (README: Scale-out)"; exit 1; }
bash "$REPO/scripts/setup.sh" >/dev/null

WORK=$(make_workdir citus-bench)
BASE=${CITUS_PORT:-56200}
trap 'citus_down "$WORK/c"; rm -rf "$WORK"' EXIT
citus_up "$WORK/c" "$BASE"
psql_() { as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$WORK/c" -p "$BASE" -U postgres -d postgres "$@"; }

echo "loading $ROWS rows per table"
psql_ <<SQL
SET citus.shard_count = 32;
CREATE SCHEMA app;
CREATE SCHEMA hand;
CREATE TABLE app.task (id bigint PRIMARY KEY, title text, n int, updated_at timestamptz);
SELECT create_distributed_table('app.task', 'id');
INSERT INTO app.task SELECT g, 'task ' || g, g % 1000 FROM generate_series(1, $ROWS) g;
SELECT count(*) FROM lamin.enable('app.task');
UPDATE app.task_all SET branch_id = -1 WHERE id % 20 = 0;
CREATE TABLE hand.task (id bigint PRIMARY KEY, title text, n int, updated_at timestamptz,
                        branch_id integer NOT NULL DEFAULT 1, created_on_id integer NOT NULL DEFAULT 1);
SELECT create_distributed_table('hand.task', 'id', colocate_with => 'app.task_all');
INSERT INTO hand.task SELECT id, title, n, updated_at, branch_id, created_on_id FROM app.task_all;
CREATE TABLE public.keys AS SELECT g AS id FROM generate_series(1, $ROWS) g WHERE g % 10 <> 0 LIMIT 100000;
CREATE TABLE public.tkeys AS SELECT g AS id FROM generate_series(1, $ROWS) g LIMIT 100000;
VACUUM ANALYZE app.task_all;
VACUUM ANALYZE hand.task;
SQL

# ms SQL: the time of SQL (one statement) in a transaction that is rolled back
ms() {
    psql_ -At <<SQL | tail -1
BEGIN;
SELECT pg_catalog.clock_timestamp() AS t0 \gset
$1;
SELECT round(extract(epoch FROM pg_catalog.clock_timestamp() - :'t0') * 1000, 1);
ROLLBACK;
SQL
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# case NAME LAMIN_SQL HAND_SQL [REPEAT]: RUNS runs of each side, alternating; each run the time of
# REPEAT executions (default 1)
bench_case() {
    local name=$1 lsql=$2 hsql=$3 rep=${4:-1} i l=() h=() ml mh
    for i in $(seq 1 "$RUNS"); do
        if [ $((i % 2)) -eq 1 ]; then
            l+=("$(ms "SELECT count(*) FROM (SELECT ($lsql) FROM generate_series(1, $rep)) x")")
            h+=("$(ms "SELECT count(*) FROM (SELECT ($hsql) FROM generate_series(1, $rep)) x")")
        else
            h+=("$(ms "SELECT count(*) FROM (SELECT ($hsql) FROM generate_series(1, $rep)) x")")
            l+=("$(ms "SELECT count(*) FROM (SELECT ($lsql) FROM generate_series(1, $rep)) x")")
        fi
    done
    ml=$(printf '%s\n' "${l[@]}" | median)
    mh=$(printf '%s\n' "${h[@]}" | median)
    printf '=> %s N=%s: lamin %s ms, hand %s ms, ratio %s\n' "$name" "$ROWS" "$ml" "$mh" \
        "$(awk -v a="$ml" -v b="$mh" 'BEGIN { printf "%.3f", a / b }')"
}
# bench_stmt NAME LAMIN_SQL HAND_SQL: a statement each side, rolled back
bench_stmt() {
    local name=$1 lsql=$2 hsql=$3 i l=() h=() ml mh
    for i in $(seq 1 "$RUNS"); do
        if [ $((i % 2)) -eq 1 ]; then l+=("$(ms "$lsql")"); h+=("$(ms "$hsql")")
        else h+=("$(ms "$hsql")"); l+=("$(ms "$lsql")"); fi
    done
    ml=$(printf '%s\n' "${l[@]}" | median)
    mh=$(printf '%s\n' "${h[@]}" | median)
    printf '=> %s N=%s: lamin %s ms, hand %s ms, ratio %s\n' "$name" "$ROWS" "$ml" "$mh" \
        "$(awk -v a="$ml" -v b="$mh" 'BEGIN { printf "%.3f", a / b }')"
}

bench_stmt read-agg "SELECT count(*), sum(n) FROM app.task" \
                    "SELECT count(*), sum(n) FROM hand.task WHERE branch_id = 1"
bench_stmt read-range "SELECT count(*), sum(n) FROM app.task WHERE id BETWEEN 5000 AND 5999" \
                      "SELECT count(*), sum(n) FROM hand.task WHERE branch_id = 1 AND id BETWEEN 5000 AND 5999"
bench_stmt read-one "SELECT sum(x.n) FROM generate_series(1, 200) g, LATERAL (SELECT n FROM app.task WHERE id = g * 7) x" \
                    "SELECT sum(x.n) FROM generate_series(1, 200) g, LATERAL (SELECT n FROM hand.task WHERE branch_id = 1 AND id = g * 7) x"
bench_stmt trash "SELECT count(*) FROM lamin.delete_many('app.task_all', (SELECT array_agg(id) FROM public.keys))" \
                 "WITH m AS (UPDATE hand.task SET branch_id = -1, updated_at = statement_timestamp() WHERE id = ANY ((SELECT array_agg(id) FROM public.keys)::bigint[]) AND branch_id = 1 RETURNING id) SELECT count(*) FROM m"
bench_stmt restore "SELECT count(*) FROM lamin.restore_many('app.task_all', (SELECT array_agg(id) FROM public.tkeys WHERE id % 20 = 0))" \
                   "WITH m AS (UPDATE hand.task SET branch_id = 1, updated_at = statement_timestamp() WHERE id = ANY ((SELECT array_agg(id) FROM public.tkeys WHERE id % 20 = 0)::bigint[]) AND branch_id = -1 RETURNING id) SELECT count(*) FROM m"
