#!/usr/bin/env bash
# lamin_branch benchmark: what an enabled table costs next to the table a user would write by hand.
#
#   bash test/bench/bench.sh [--pg N] [--quick | --huge] [--out FILE]
#
# On its own on a fresh Debian 12 machine: installs and builds (scripts/setup.sh), starts a
# throw-away server and, for each table size N, loads two workloads, half of each table's rows
# in trash (even ids) and half on main (odd ids):
#   artifact  lamin.artifact_all (the extension's artifact table; views lamin.artifact, ...)
#   task      app.task (id bigint generated always as identity primary key, title text, n int),
#             enabled with lamin.enable('app.task') in rename mode: the table is app.task_all,
#             the main view app.task
# Each workload is measured on three sides, in the same run, alternating:
#   lamin  what a user of the extension writes: the views and the lamin.* functions
#   hand   the primary baseline, a hand-rolled table: the enabled table's columns, types,
#          defaults, identity, CHECK constraints, storage parameters and every index (the
#          extension's branch and version-family indexes included), copied with CREATE TABLE
#          ... (LIKE ... INCLUDING ...) from the catalog, so it follows whatever the extension's
#          tables look like, and the table's foreign keys but those of its branch columns (a user's
#          table keeps its own: lamin.artifact_all's space_id). No triggers, views, policies, and
#          branch_id and created_on_id are plain integer columns without a foreign key: the extension's domain
#          lamin.branch_id (CHECK VALUE >= -1) becomes its base type. The domain check is a
#          single comparison, but a user writing the table by hand would not have it, so it
#          counts as the extension's. Defaults that call extension functions (the artifact uid's
#          lamin.random_base62) stay: the same work on both sides, and no case below uses them.
#          The hand-written SQL filters and moves with branch_id by hand.
#   same   the secondary baseline: that hand-written SQL on the enabled table itself
#          (lamin.artifact_all, app.task_all), so it pays the extension's row triggers, foreign
#          keys and row-level security; lamin / same is the cost of the views and functions alone
# Cases (ratio lamin / hand, the goal next to it; the same ratio against "same" for information):
#   insert       INSERT ... SELECT of BENCH_ROWS new rows: artifact into lamin.artifact_all (so
#                no "same" side), task through the view app.task (same: into app.task_all),
#                hand into its table (time ratio, goal <= 1.3)
#   trash        DELETE FROM lamin.artifact / app.task WHERE id <= 2R (R = min(BENCH_ROWS, N/2)
#                main rows) vs UPDATE ... SET branch_id = -1 WHERE branch_id = 1 AND id <= 2R
#                (goal <= 1.5)
#   restore      lamin.restore_many(view, keys) of R trashed rows vs UPDATE ... SET branch_id = 1
#                WHERE id = ANY(keys) AND branch_id = -1; the keys are read from a table, as a
#                bound array parameter would be (goal <= 1.5)
#   trash-nolog, restore-nolog  trash and restore with the table's move-log trigger disabled
#                in the run's transaction (no goal: what the move log costs)
#   trash-norow, restore-norow  the same with the row trigger (lamin_branch_row) disabled too
#                (no goal: what the row trigger's own work costs a move; the extension never
#                runs without it). A disabled trigger is not a removed one: Postgres still locks
#                each row before it would fire a BEFORE ROW UPDATE trigger, enabled or not, and
#                still fills the transition tables of a disabled statement trigger (the artifact
#                table's version heads trigger has them; the move log's UPDATE trigger has none,
#                the row trigger notes the moved rows for it), so both kinds of cases bound from
#                above what a table without those triggers would cost
#   trash-floor, restore-floor  the hand-rolled UPDATE with one BEFORE ROW UPDATE trigger that
#                does nothing (Postgres's own suppress_redundant_updates_trigger, made in the
#                run's transaction, which is rolled back) vs the same UPDATE without it (no goal: what
#                any row trigger costs a move, the row lock above included: the least a move
#                kept by a row trigger can cost)
#   pairs-fn     lamin.artifact_delete(id) + lamin.artifact_restore(id) (task: lamin.delete and
#                lamin.restore) of a random main row vs the guarded UPDATE pair; throughput ratio
#                (pairs/s lamin / pairs/s hand, goal >= 0.8)
#   pairs-view   DELETE FROM the main view + lamin.restore(view, id) vs the same UPDATE pair
#                (goal >= 0.8)
#   read         SELECT sum() over 201 ids through the main view vs "branch_id = 1 AND" by hand;
#                time ratio (hand tps / lamin tps, goal <= 1.03)
#   read-branch  task only: read with a user branch current, which holds one in ten of the
#                main rows, vs "branch_id IN (1, x) AND" by hand (goal <= 1.05)
#   read-generic artifact only: read with plan_cache_mode = force_generic_plan (execution only)
#   read-no-hook artifact only: read with lamin_branch.flatten_views = off (no goal: what
#                preloading the module saves)
# insert, trash and restore: one statement in a transaction that is rolled back after VACUUM (of
# the tables and the move log) and CHECKPOINT, sides in rotating order, each run checked (the
# rows inserted or where the moved rows ended up); a side's figure is the median of its runs, the
# ratio the median over rounds of the ratio within a round (the sides of a round run one after
# the other and meet the same machine). The log also shows each side's fastest run and their
# ratio, the figure of earlier versions, which assumed that interference only ever adds time: on
# a machine whose own speed changes (runs of one side a statement apart differing by half) the
# fastest run is whichever side met a fast moment, not the one that measured its own work.
# BENCH_BULK_STAT=min or median give the fastest run or the median of each side and their
# ratio instead. read and pairs: median over rounds of pgbench
# -T runs that mix the sides' scripts at random per transaction (a side's figure is clients / its
# average latency), so every side meets the same machine; BENCH_METHOD=separate runs each side on
# its own instead (rotating order, tps of each run). Their ratios are paired: the median over
# rounds of the ratio within a round (the machine's speed changes between rounds, by up to half,
# and is shared by the sides of one round); the log also shows the ratio of the sides' medians.
# Pairs use one client, so that no two clients move the same row.
# Further tables report:
#   HOT      per workload and side, n_tup_hot_upd / n_tup_upd (pg_stat_xact_user_tables, read
#            inside the transaction of the trash and restore runs) and the rows updated per row
#            moved (the extension's triggers may update more rows than the ones moved). The
#            freshly loaded pages are full, so these moves are hardly ever HOT; the storage
#            cycles show the share on a table in use.
#   storage  for deciding whether the branch index earns its keep, on the enabled table: the
#            table rewritten in key order (CLUSTER on its primary key), its size and index sizes
#            (pg_relation_size, pg_indexes_size, each index), then BENCH_CYCLES trash/restore
#            cycles, each of its own BENCH_CYCLE_PERCENT % of the rows (main rows picked by a
#            hash, spread over the table), each statement committed, no VACUUM in between; their
#            time and HOT share (pg_stat_user_tables deltas), the time of the VACUUM after them
#            and the sizes after it; with the branch index present, then dropped. Rows move by
#            the UPDATE pair: it runs the extension's triggers, so it writes the row versions
#            every path of the extension writes (the _many functions run one such UPDATE), in
#            less time. BENCH_STORAGE_SIDES="lamin hand" runs the hand-rolled table too: the same
#            rows and indexes give the same sizes and HOT share, so only what the extension's
#            triggers write beyond the moved rows would differ (the HOT table shows that count).
#            The branch index is found in the catalog: an index whose only key column is
#            branch_id (artifact_branch_idx today; enable() makes none for app tables, so task
#            has no "dropped" row). Indexes with branch_id among other columns (the
#            version-family index) stay: the extension looks families up by them, and while one
#            exists no UPDATE of branch_id can be HOT. Dropped indexes are made again afterwards.
# Run time on 2 cores shared with other work: about 17 minutes by default (25 with
# BENCH_ANATOMY=1), 2.5 of them the storage cycles of the artifact table at 10^6
# (BENCH_STORAGE_SIDES=hand runs them on the hand-rolled copy, BENCH_CYCLES=5 halves them);
# --quick about 3.
#
#   --pg N      PostgreSQL major version: 15 (this system's, the default), 17 or 18 (run inside
#               the Debian root scripts/pgroots.sh makes for it; the tree is copied to
#               /src/lamin_branch.bench there, built and installed into that root's server)
#   --quick     N = 10^5 only, short runs
#   --huge      N = 10^5, 10^6 and 10^7 (10^7: about 5 GB per artifact table, more than
#               shared_buffers; hours rather than minutes)
#   --out FILE  also write the results as Markdown tables to FILE
# Environment (defaults: full run / --quick):
#   BENCH_SECONDS        pgbench -T of one run (5 / 2)
#   BENCH_ROUNDS         rounds of each case (5 / 3)
#   BENCH_BULK_ROUNDS    rounds of the insert, trash and restore cases (7 / 3)
#   BENCH_BULK_STAT      paired (the default: the median of the rounds' ratios), min (the
#                        ratio of the sides' fastest runs) or median (of the sides' medians)
#   BENCH_ROWS           rows of one insert, trash or restore (30000)
#   BENCH_CYCLES         trash/restore cycles of the storage table (10)
#   BENCH_CYCLE_PERCENT  share of the table's rows one cycle moves (10)
#   BENCH_STORAGE_SIDES  tables of the storage runs: lamin (the default; the enabled table), hand
#   BENCH_SIZES          table sizes instead of the flags' (for example "1000000")
#   BENCH_WORKLOADS      "artifact task" (the default), or one of them
#   BENCH_CLIENTS        pgbench clients for read (1)
#   BENCH_PROTOCOL       pgbench -M: prepared (the default) or simple
#   BENCH_METHOD         mixed (the default) or separate, see above
#   BENCH_ANATOMY        1: after each pairs case, where a pair's time goes (below); only: that
#                        and the pairs alone (about 3 minutes per workload and size)
#   BENCH_LOG_INBOX      auto (the default, as installed: the move log's records go to
#                        lamin.move_inbox and the module's merger merges them every second) or
#                        off (lamin_branch.log_inbox = off for the bench database: each moving
#                        statement writes the indexed log itself)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

QUICK=0
HUGE=0
OUT=""
PGV=${PG_MAJOR:-15}
ARGS=("$@")
while [ $# -gt 0 ]; do
    case $1 in
        --pg) [ $# -ge 2 ] || { echo "--pg needs a version" >&2; exit 2; }; PGV=$2; shift ;;
        --pg=*) PGV=${1#--pg=} ;;
        --quick) QUICK=1 ;;
        --huge) HUGE=1 ;;
        --out) [ $# -ge 2 ] || { echo "--out needs a file" >&2; exit 2; }; OUT=$2; shift ;;
        --out=*) OUT=${1#--out=} ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
[ -z "$OUT" ] || OUT=$(realpath -m "$OUT")
[ "$QUICK" -eq 0 ] || [ "$HUGE" -eq 0 ] || { echo "--quick and --huge exclude each other" >&2; exit 2; }

# another major version: the same script inside its Debian root, the tables copied out
if [ "$PGV" != 15 ] && [ -z "${LAMIN_IN_ROOT:-}" ]; then
    . "$REPO/scripts/pgroots.sh"
    ensure_pg_root "$PGV" || exit 1
    # a directory of its own, so that a test run copying the tree to /src/lamin_branch meanwhile
    # does not pull it from under the benchmark
    copy_into_root "$PGV" /src/lamin_branch.bench
    # the same arguments but --pg and --out: the tables are written inside the root, then copied
    inner=(); skip=0
    for a in "${ARGS[@]}"; do
        if [ "$skip" -eq 1 ]; then skip=0; continue; fi
        case $a in --out|--pg) skip=1 ;; --out=*|--pg=*) ;; *) inner+=("$a") ;; esac
    done
    commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || true)
    git -C "$REPO" diff --quiet HEAD -- src sql 2>/dev/null || commit="$commit with uncommitted changes"
    benv=()
    while IFS= read -r -d '' kv; do
        case $kv in BENCH_*=*) benv+=("$kv") ;; esac
    done < <(env -0)
    status=0
    chroot "$(pg_root "$PGV")" env -i BENCH_COMMIT="$commit" PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        PG_MAJOR="$PGV" LAMIN_IN_ROOT=1 "${benv[@]}" \
        bash /src/lamin_branch.bench/test/bench/bench.sh "${inner[@]}" --out "/tmp/lamin_branch.bench.$$.md" || status=$?
    [ -z "$OUT" ] || [ "$status" -ne 0 ] || cp "$(pg_root "$PGV")/tmp/lamin_branch.bench.$$.md" "$OUT"
    rm -f "$(pg_root "$PGV")/tmp/lamin_branch.bench.$$.md"
    exit $status
fi
export PG_MAJOR=$PGV

if [ "$QUICK" -eq 1 ]; then
    SIZES="100000"; SECONDS_RUN=${BENCH_SECONDS:-2}; ROUNDS=${BENCH_ROUNDS:-3}
elif [ "$HUGE" -eq 1 ]; then
    SIZES="100000 1000000 10000000"; SECONDS_RUN=${BENCH_SECONDS:-5}; ROUNDS=${BENCH_ROUNDS:-5}
else
    SIZES="100000 1000000"; SECONDS_RUN=${BENCH_SECONDS:-5}; ROUNDS=${BENCH_ROUNDS:-5}
fi
SIZES=${BENCH_SIZES:-$SIZES}
if [ "$QUICK" -eq 1 ]; then BULK_ROUNDS=${BENCH_BULK_ROUNDS:-$ROUNDS}; else BULK_ROUNDS=${BENCH_BULK_ROUNDS:-7}; fi
BULK_STAT=${BENCH_BULK_STAT:-paired}
case $BULK_STAT in paired|min|median) ;; *) echo "BENCH_BULK_STAT: paired, min or median" >&2; exit 2 ;; esac
BULK_ROWS=${BENCH_ROWS:-30000}
CYCLES=${BENCH_CYCLES:-10}
CYCLE_PERCENT=${BENCH_CYCLE_PERCENT:-10}
WORKLOADS=${BENCH_WORKLOADS:-artifact task}
STORAGE_SIDES=${BENCH_STORAGE_SIDES:-lamin}
CLIENTS=${BENCH_CLIENTS:-1}
PROTOCOL=${BENCH_PROTOCOL:-prepared}
METHOD=${BENCH_METHOD:-mixed}
ANATOMY=${BENCH_ANATOMY:-0}
LOG_INBOX=${BENCH_LOG_INBOX:-auto}
case $LOG_INBOX in auto|off) ;; *) echo "BENCH_LOG_INBOX: auto or off" >&2; exit 2 ;; esac
case $ANATOMY in 0|1|only) ;; *) echo "BENCH_ANATOMY: 0, 1 or only" >&2; exit 2 ;; esac
for w in $WORKLOADS; do
    case $w in artifact|task) ;; *) echo "unknown workload: $w (artifact, task)" >&2; exit 2 ;; esac
done
for s in $STORAGE_SIDES; do
    case $s in lamin|hand) ;; *) echo "unknown storage side: $s (lamin, hand)" >&2; exit 2 ;; esac
done
[ "$CYCLE_PERCENT" -ge 1 ] && [ "$CYCLE_PERCENT" -le 50 ] || { echo "BENCH_CYCLE_PERCENT: 1 to 50" >&2; exit 2; }
STARTED=$(date +%s)

bash "$REPO/scripts/setup.sh"
. "$REPO/scripts/lib.sh"

WORK=$(make_workdir bench)
PORT=$((55000 + $$ % 1000))
cleanup() {
    stop_server "$WORK"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== starting a throw-away server in $WORK (port $PORT)"
start_server "$WORK" "$PORT"

# psql on the bench database, unaligned, quiet, stopping at the first error
q() { as_pg psql -X -q -At -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -d "${DB:-bench}" "$@"; }

# Settings for measuring CPU cost rather than the disk: every table of a size cached (the four
# tables of both workloads take about 1.2 GB at 10^6), no checkpoint or autovacuum in the middle
# of a run (the script vacuums between runs), commits not waiting for the WAL flush (the pairs
# are one commit per statement on every side; waiting for fsync would hide the difference).
mem_kb=$(awk '/^MemTotal/ {print $2}' /proc/meminfo)
if [ "$mem_kb" -ge 12000000 ]; then sb=3GB
elif [ "$mem_kb" -ge 6000000 ]; then sb=1GB
elif [ "$mem_kb" -ge 3000000 ]; then sb=512MB
else sb=128MB; fi
DB=postgres q <<SQL
ALTER SYSTEM SET shared_buffers = '$sb';
ALTER SYSTEM SET max_wal_size = '16GB';
ALTER SYSTEM SET checkpoint_timeout = '1h';
ALTER SYSTEM SET synchronous_commit = off;
ALTER SYSTEM SET autovacuum = off;
ALTER SYSTEM SET jit = off;
ALTER SYSTEM SET maintenance_work_mem = '256MB';
SQL
as_pg pg_ctl -D "$WORK/data" -w -m fast restart >/dev/null
DB=postgres q -c "CREATE DATABASE bench"
q -c "ALTER DATABASE bench SET client_min_messages = warning" \
  -c "CREATE EXTENSION lamin_branch" \
  -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" >/dev/null
# what the bench database's sessions get (the anatomy's variants change it and put it back)
INBOX_SETTING="RESET lamin_branch.log_inbox"
if [ "$LOG_INBOX" = off ]; then
    INBOX_SETTING="SET lamin_branch.log_inbox = off"
    q -c "ALTER DATABASE bench $INBOX_SETTING"
    LOG_NOTE="the move log written by each moving statement (lamin_branch.log_inbox = off)"
elif [ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'lamin_branch merge launcher'")" = 1 ]; then
    LOG_NOTE="the move log as installed: records to lamin.move_inbox, merged by the module's merger every $(q -c 'SHOW lamin_branch.merge_naptime')"
else
    echo "the module's merger is not running" >&2
    exit 1
fi
# what was measured: the extension as built from this tree (commit, and whether it had changes)
BUILD="lamin_branch $(q -c "SELECT extversion FROM pg_extension WHERE extname = 'lamin_branch'")"
if [ -n "${BENCH_COMMIT:-}" ]; then
    BUILD="$BUILD (commit $BENCH_COMMIT)"
elif commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null); then
    git -C "$REPO" diff --quiet HEAD -- src sql 2>/dev/null || commit="$commit with uncommitted changes"
    BUILD="$BUILD (commit $commit)"
fi
SERVER=$(q -c 'SHOW server_version')
echo "   PostgreSQL $SERVER, $BUILD, shared_buffers $sb, pgbench -M $PROTOCOL, $ROUNDS rounds of ${SECONDS_RUN}s, bulk $BULK_ROUNDS rounds; $LOG_NOTE"

# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------

# The app table, enabled the way an application would; the hand-rolled copies, made from the
# enabled tables' definitions as they are now (bench.hand_copy); the keys of the bulk cases.
q >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE SCHEMA bench;
CREATE TABLE bench.keys (name text PRIMARY KEY, keys bigint[] NOT NULL);

-- dst: src's columns, defaults, identity, generated columns, CHECK constraints, indexes and
-- storage parameters; columns of the extension's domains become their base type. LIKE copies no
-- trigger, policy, foreign key or row-level security setting. The table's own foreign keys come
-- along (a user's table keeps them); those of the branch columns (branch_id, created_on_id) do
-- not: by hand they are plain integers.
CREATE PROCEDURE bench.hand_copy(src regclass, dst_schema name, dst name)
LANGUAGE plpgsql AS $$
DECLARE
    t    regclass;
    c    record;
    opts text[];
BEGIN
    EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED '
                   'INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMPRESSION)',
                   dst_schema, dst, src);
    t := format('%I.%I', dst_schema, dst)::regclass;
    FOR c IN SELECT a.attname, format_type(ty.typbasetype, ty.typtypmod) AS base
               FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
              WHERE a.attrelid = t AND a.attnum > 0 AND NOT a.attisdropped AND ty.typtype = 'd'
                AND EXISTS (SELECT 1 FROM pg_depend d JOIN pg_extension x ON x.oid = d.refobjid
                             WHERE d.classid = 'pg_type'::regclass AND d.objid = ty.oid
                               AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
                               AND x.extname = 'lamin_branch')
    LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE %s', t, c.attname, c.base);
    END LOOP;
    FOR c IN SELECT pg_get_constraintdef(k.oid) AS def FROM pg_constraint k
              WHERE k.conrelid = src AND k.contype = 'f'
                AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                                 WHERE a.attrelid = src AND a.attnum = ANY (k.conkey)
                                   AND a.attname IN ('branch_id', 'created_on_id'))
              ORDER BY k.conname
    LOOP
        EXECUTE format('ALTER TABLE %s ADD %s', t, c.def);
    END LOOP;
    SELECT reloptions INTO opts FROM pg_class WHERE oid = src;
    IF opts IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %s SET (%s)', t, array_to_string(opts, ', '));
    END IF;
END
$$;

-- an index by what it is, whatever its name and table: "unique btree (storage_id, hash) WHERE ..."
CREATE FUNCTION bench.index_label(i regclass) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN x.indisunique THEN 'unique ' ELSE '' END
           || regexp_replace(pg_get_indexdef(i), '^.* USING ', '')
      FROM pg_index x WHERE x.indexrelid = i
$$;

-- the branch indexes: those whose one key column is branch_id
CREATE FUNCTION bench.branch_indexes(t regclass) RETURNS SETOF regclass LANGUAGE sql STABLE AS $$
    SELECT x.indexrelid::regclass FROM pg_index x
      JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attname = 'branch_id'
     WHERE x.indrelid = t AND x.indnkeyatts = 1 AND x.indkey[0] = a.attnum AND x.indexprs IS NULL
     ORDER BY 1
$$;

CREATE SCHEMA app;
CREATE TABLE app.task (
    id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title text NOT NULL,
    n     integer NOT NULL
);
SELECT lamin.enable('app.task');

CREATE TABLE bench.workload (name text PRIMARY KEY, base regclass, hand regclass);
CALL bench.hand_copy('lamin.artifact_all', 'bench', 'artifact_hand');
CALL bench.hand_copy('app.task_all', 'app', 'task_hand');
INSERT INTO bench.workload VALUES
    ('artifact', 'lamin.artifact_all', 'bench.artifact_hand'),
    ('task', 'app.task_all', 'app.task_hand');
SQL

# What each hand-rolled table is, and a check that it has the enabled table's indexes (by
# definition) and its foreign keys but those of branch columns, and none of its triggers or policies.
q <<'SQL'
SELECT format('   %s: %s columns (%s), %s indexes, checks: %s; defaults calling the extension: %s',
              w.hand,
              (SELECT count(*) FROM pg_attribute WHERE attrelid = w.hand AND attnum > 0 AND NOT attisdropped),
              (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
                 FROM pg_attribute WHERE attrelid = w.hand AND attname IN ('branch_id', 'created_on_id')),
              (SELECT count(*) FROM pg_index WHERE indrelid = w.hand),
              coalesce((SELECT string_agg(pg_get_constraintdef(oid), ', ') FROM pg_constraint
                         WHERE conrelid = w.hand AND contype = 'c'), 'none'),
              coalesce((SELECT string_agg(a.attname || ' = ' || pg_get_expr(d.adbin, d.adrelid), ', ')
                          FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                         WHERE d.adrelid = w.hand AND pg_get_expr(d.adbin, d.adrelid) LIKE '%lamin.%'), 'none'))
  FROM bench.workload w ORDER BY w.name;
DO $$
DECLARE w record;
BEGIN
    FOR w IN SELECT * FROM bench.workload LOOP
        IF EXISTS (SELECT bench.index_label(indexrelid) FROM pg_index WHERE indrelid = w.base
                   EXCEPT ALL SELECT bench.index_label(indexrelid) FROM pg_index WHERE indrelid = w.hand)
           OR EXISTS (SELECT bench.index_label(indexrelid) FROM pg_index WHERE indrelid = w.hand
                   EXCEPT ALL SELECT bench.index_label(indexrelid) FROM pg_index WHERE indrelid = w.base) THEN
            RAISE EXCEPTION '% and % do not have the same indexes', w.hand, w.base;
        END IF;
        IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = w.hand AND NOT tgisinternal)
           OR EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = w.hand)
           OR EXISTS (SELECT 1 FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid
                       WHERE k.conrelid = w.hand AND k.contype = 'f' AND a.attnum = ANY (k.conkey)
                         AND a.attname IN ('branch_id', 'created_on_id'))
           OR (SELECT relrowsecurity FROM pg_class WHERE oid = w.hand) THEN
            RAISE EXCEPTION '% has triggers, policies or foreign keys of branch columns', w.hand;
        END IF;
        IF EXISTS (SELECT confrelid, conkey FROM pg_constraint k WHERE k.conrelid = w.hand AND k.contype = 'f'
                   EXCEPT ALL SELECT confrelid, conkey FROM pg_constraint k WHERE k.conrelid = w.base AND k.contype = 'f')
           OR (SELECT count(*) FROM pg_constraint k WHERE k.conrelid = w.hand AND k.contype = 'f')
              <> (SELECT count(*) FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid
                   WHERE k.conrelid = w.base AND k.contype = 'f' AND a.attnum = k.conkey[1]
                     AND a.attname NOT IN ('branch_id', 'created_on_id')) THEN
            RAISE EXCEPTION '% does not have the foreign keys of % other than those of branch columns', w.hand, w.base;
        END IF;
    END LOOP;
END $$;
SQL

# wl NAME: the workload's relations and SQL pieces
wl() {
    W=$1
    case $W in
        artifact)
            BASE=lamin.artifact_all; VIEW=lamin.artifact; HAND=bench.artifact_hand; SUMCOL=size
            FN_DEL="lamin.artifact_delete(:id)"; FN_RES="lamin.artifact_restore(:id)"
            V_RES="lamin.restore('lamin.artifact', :id::bigint)" ;;
        task)
            BASE=app.task_all; VIEW=app.task; HAND=app.task_hand; SUMCOL=n
            FN_DEL="lamin.delete('app.task', :id::bigint)"; FN_RES="lamin.restore('app.task', :id::bigint)"
            V_RES="lamin.restore('app.task', :id::bigint)" ;;
    esac
}

# insert_sql TARGET ROWS: the insert case's statement into TARGET (a table or the main view)
insert_sql() {
    case $W in
        artifact) cat <<SQL
INSERT INTO $1 (uid, key, description, suffix, kind, otype, size, hash, n_observations, version)
SELECT substr(md5('new' || i), 1, 16) || '0000', 'bench/new_' || i || '.parquet', 'new artifact ' || i,
       '.parquet', 'dataset', 'DataFrame', 1000 + (i::bigint * 7919) % 1000000,
       substr(md5('newhash' || i), 1, 22), 100 + i % 5000, '1'
FROM generate_series(1, $2) AS i
SQL
        ;;
        task) echo "INSERT INTO $1 (title, n) SELECT 'new task ' || i, i % 1000 FROM generate_series(1, $2) AS i" ;;
    esac
}

# load N: the workload's tables with ids 1..N, even ids in trash, odd ids on main; the hand-rolled
# table gets the very same rows. The enabled table is loaded with its triggers on (by its owner,
# straight onto each row's branch), so that whatever the extension keeps beside the rows is made
# by the extension itself; every artifact family has one version.
load() {
    local n=$1 rows
    case $W in
        artifact) rows=$(cat <<SQL
INSERT INTO lamin.artifact_all (uid, id, key, description, suffix, kind, otype, size, hash,
        n_files, n_observations, version, is_latest, is_locked, created_at, branch_id, space_id,
        storage_id, run_id, schema_id, created_by_id, created_on_id, updated_at)
SELECT substr(md5('uid' || i), 1, 16) || '0000', i, 'bench/dataset_' || i || '.parquet',
       'benchmark artifact ' || i, '.parquet', 'dataset', 'DataFrame',
       1000 + (i::bigint * 7919) % 1000000, substr(md5('hash' || i), 1, 22),
       NULL, 100 + i % 5000, '1', true, false,
       timestamptz '2024-01-01' + i * interval '1 second',
       CASE WHEN i % 2 = 0 THEN -1 ELSE 1 END, 1, 1, i % 100, NULL, 1, 1,
       timestamptz '2024-01-01' + i * interval '1 second'
FROM generate_series(1, $n) AS i;
SQL
        ) ;;
        task) rows="INSERT INTO app.task_all (id, title, n, branch_id) OVERRIDING SYSTEM VALUE
SELECT i, 'task ' || i, i % 1000, CASE WHEN i % 2 = 0 THEN -1 ELSE 1 END FROM generate_series(1, $n) AS i;" ;;
    esac
    q <<SQL
SET client_min_messages = warning;
TRUNCATE $BASE, $HAND;
$rows
INSERT INTO $HAND OVERRIDING SYSTEM VALUE SELECT * FROM $BASE ORDER BY id;
SELECT setval(pg_get_serial_sequence('$BASE', 'id'), $n), setval(pg_get_serial_sequence('$HAND', 'id'), $n);
VACUUM (ANALYZE) $BASE, $HAND;
CHECKPOINT;
SELECT pg_prewarm(c.oid) FROM pg_class c
 WHERE c.oid IN ('$BASE'::regclass, '$HAND'::regclass)
    OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN ('$BASE'::regclass, '$HAND'::regclass));
SQL
}

# The move log too: with autovacuum off here, nothing else would merge the GIN pending list of its
# keys between runs, and the rolled-back runs' entries would fill it until a measured statement
# merges it (what autovacuum does in the background on a server in use; see README, Known
# limitations, for the statement that finds the list over gin_pending_list_limit).
vacuum() { q -c "VACUUM $BASE, $HAND, lamin.move_record, lamin.move_inbox" -c "CHECKPOINT"; }

# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
fastest() { printf '%s\n' "$@" | sort -g | head -1; }
# the figure of a side's bulk runs: the fastest (BULK_STAT=min) or the median (paired, median)
bulk_stat() { if [ "$BULK_STAT" = min ]; then fastest "$@"; else median "$@"; fi; }

# rotate R SIDE...: the sides in the order of round R (each side first in turn)
rotate() {
    local r=$1; shift
    local s=("$@") k=$# i
    for ((i = 0; i < k; i++)); do printf '%s ' "${s[$(( (i + r - 1) % k ))]}"; done
}

# pgbench_run CLIENTS PGOPTIONS FILE...: the pgbench report of one -T run of FILEs
pgbench_run() {
    local clients=$1 opts=$2 out
    shift 2
    out=$(as_pg env PGOPTIONS="$opts" pgbench -n -M "$PROTOCOL" -c "$clients" -j "$clients" \
          -T "$SECONDS_RUN" "${@/#/-f}" -h "$WORK" -p "$PORT" bench 2>&1) || { echo "$out" >&2; return 1; }
    if echo "$out" | grep -q "number of failed transactions: [1-9]"; then echo "$out" >&2; return 1; fi
    echo "$out"
}

# compare NAME N CLIENTS PGOPTIONS VACUUM SIDE...: runs $WORK/NAME_SIDE.sql of every SIDE for
# ROUNDS rounds and sets MED[SIDE] to the median throughput (per second) of each, and
# ROUNDS_OF[SIDE] to the rounds' throughputs (for paired ratios).
declare -A MED ROUNDS_OF
compare() {
    local name=$1 n=$2 clients=$3 opts=$4 vac=$5
    shift 5
    local sides=("$@") r s out t line files
    declare -A got=()
    for r in $(seq "$ROUNDS"); do
        line=""
        if [ "$METHOD" = separate ]; then
            for s in $(rotate "$r" "${sides[@]}"); do
                [ "$vac" = vacuum ] && vacuum
                out=$(pgbench_run "$clients" "$opts" "$WORK/${name}_$s.sql")
                t=$(echo "$out" | awk '/^tps = / {printf "%.1f", $3; exit}')
                got[$s]="${got[$s]:-} $t"; line="$line $s $t/s,"
            done
        else
            [ "$vac" = vacuum ] && vacuum
            files=()
            for s in "${sides[@]}"; do files+=("$WORK/${name}_$s.sql@1"); done
            out=$(pgbench_run "$clients" "$opts" "${files[@]}")
            local vals
            read -r -a vals < <(echo "$out" | awk -v c="$clients" '
                /^SQL script/ {k++}
                k && /latency average/ {v[k] = sprintf("%.1f", c * 1000 / $(NF - 1))}
                END {for (i = 1; i <= k; i++) printf "%s ", v[i]; print ""}')
            local i=0
            for s in "${sides[@]}"; do
                got[$s]="${got[$s]:-} ${vals[$i]}"; line="$line $s ${vals[$i]}/s,"; i=$((i + 1))
            done
        fi
        printf '   %-20s N=%s round %s:%s\n' "$W/$name" "$n" "$r" "${line%,}"
    done
    for s in "${sides[@]}"; do
        # shellcheck disable=SC2086
        MED[$s]=$(median ${got[$s]})
        ROUNDS_OF[$s]=${got[$s]}
    done
}

# paired KIND A B: the median over rounds of the ratio of A's figure to B's in the same round
# (KIND as for record). The rounds of a run see the machine at different speeds (a side's tps
# may differ by half between rounds), the sides of one round the same machine: the ratio of one
# round is a paired measurement, and the median of those is the run's ratio.
paired() {
    local kind=$1 i r=()
    local -a a b
    read -r -a a <<<"$2"; read -r -a b <<<"$3"
    for i in "${!a[@]}"; do
        if [ "$kind" = tps ]; then r+=("$(awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN {printf "%.6f", y / x}')")
        else r+=("$(awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN {printf "%.6f", x / y}')"); fi
    done
    awk -v m="$(median "${r[@]}")" 'BEGIN {printf "%.3f", m}'
}

# Results: one line per case, "workload|case|N|lamin|hand|same|unit|ratio_hand|ratio_same|goal|result"
RESULTS=()
# record CASE N UNIT KIND OP GOAL LAMIN HAND SAME [LAMIN_ROUNDS HAND_ROUNDS SAME_ROUNDS]: KIND
# time (lamin / other), rate (lamin / other, higher is better) or tps (other / lamin: the time
# ratio of a throughput); SAME may be "-". With the rounds' figures (read and pairs), the ratios
# are paired: the median of the rounds' ratios; the figures stay each side's median.
record() {
    local c=$1 n=$2 unit=$3 kind=$4 op=$5 goal=$6 lam=$7 hand=$8 same=$9 rh rs verdict g
    local lam_r=${10:-} hand_r=${11:-} same_r=${12:-} unpaired=""
    ratio() { if [ "$kind" = tps ]; then awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b / a}'
              else awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; fi; }
    if [ -n "$lam_r" ]; then
        rh=$(paired "$kind" "$lam_r" "$hand_r")
        rs="-"; [ -z "$same_r" ] || rs=$(paired "$kind" "$lam_r" "$same_r")
        unpaired=" (ratio of the sides' medians: x hand $(ratio "$lam" "$hand"))"
    else
        rh=$(ratio "$lam" "$hand")
        rs="-"; [ "$same" = "-" ] || rs=$(ratio "$lam" "$same")
    fi
    if [ "$goal" = "-" ]; then
        verdict="info"; g="none"
    else
        verdict=$(awk -v r="$rh" -v g="$goal" "BEGIN {print (r $op g) ? \"PASS\" : \"MISS\"}")
        g="$op $goal"
    fi
    RESULTS+=("$W|$c|$n|$lam|$hand|$same|$unit|$rh|$rs|$g|$verdict")
    printf '   => %s/%s N=%s: lamin %s, hand %s, same %s %s; x hand %s (goal %s) %s, x same %s%s\n' \
        "$W" "$c" "$n" "$lam" "$hand" "$same" "$unit" "$rh" "$g" "$verdict" "$rs" "$unpaired"
}

# bench_read N CASE [PGOPTIONS [GOAL]]
bench_read() {
    local n=$1 name=$2 opts=${3:-} goal=${4:-1.03}
    printf '\\set s random(1, %s)\nSELECT sum(%s) FROM %s WHERE id BETWEEN :s AND :s + 200;\n' \
        $((n - 200)) "$SUMCOL" "$VIEW" >"$WORK/${name}_lamin.sql"
    printf '\\set s random(1, %s)\nSELECT sum(%s) FROM %s WHERE branch_id = 1 AND id BETWEEN :s AND :s + 200;\n' \
        $((n - 200)) "$SUMCOL" "$HAND" >"$WORK/${name}_hand.sql"
    printf '\\set s random(1, %s)\nSELECT sum(%s) FROM %s WHERE branch_id = 1 AND id BETWEEN :s AND :s + 200;\n' \
        $((n - 200)) "$SUMCOL" "$BASE" >"$WORK/${name}_same.sql"
    compare "$name" "$n" "$CLIENTS" "$opts" no lamin hand same
    record "$name" "$n" tps tps "<=" "$goal" "${MED[lamin]}" "${MED[hand]}" "${MED[same]}" \
        "${ROUNDS_OF[lamin]}" "${ROUNDS_OF[hand]}" "${ROUNDS_OF[same]}"
}

# bench_read_branch N: read with a user branch current (lamin_branch.current_branch), which
# holds one in ten of the main rows: the main view shows main and that branch, by hand
# "branch_id IN (1, x)". The rows go back to main afterwards.
bench_read_branch() {
    local n=$1 x
    x=$(q -c "SELECT coalesce((SELECT id FROM lamin.branch WHERE name = 'bench'), lamin.create_branch('bench'))")
    for t in "$BASE" "$HAND"; do q -c "UPDATE $t SET branch_id = $x WHERE branch_id = 1 AND id % 10 = 1" >/dev/null; done
    vacuum
    printf '\\set s random(1, %s)\nSELECT sum(%s) FROM %s WHERE id BETWEEN :s AND :s + 200;\n' \
        $((n - 200)) "$SUMCOL" "$VIEW" >"$WORK/read-branch_lamin.sql"
    printf '\\set s random(1, %s)\nSELECT sum(%s) FROM %s WHERE branch_id IN (1, %s) AND id BETWEEN :s AND :s + 200;\n' \
        $((n - 200)) "$SUMCOL" "$HAND" "$x" >"$WORK/read-branch_hand.sql"
    printf '\\set s random(1, %s)\nSELECT sum(%s) FROM %s WHERE branch_id IN (1, %s) AND id BETWEEN :s AND :s + 200;\n' \
        $((n - 200)) "$SUMCOL" "$BASE" "$x" >"$WORK/read-branch_same.sql"
    compare read-branch "$n" "$CLIENTS" "-c lamin_branch.current_branch=bench" no lamin hand same
    record read-branch "$n" tps tps "<=" 1.05 "${MED[lamin]}" "${MED[hand]}" "${MED[same]}" \
        "${ROUNDS_OF[lamin]}" "${ROUNDS_OF[hand]}" "${ROUNDS_OF[same]}"
    for t in "$BASE" "$HAND"; do q -c "UPDATE $t SET branch_id = 1 WHERE branch_id = $x" >/dev/null; done
    vacuum
}

# the guarded UPDATE pair on TABLE: odd ids are on main, and each pair puts the row back
update_pair() {
    printf '\\set id 2 * random(0, %s) + 1\nUPDATE %s SET branch_id = -1 WHERE id = :id AND branch_id = 1;\nUPDATE %s SET branch_id = 1 WHERE id = :id AND branch_id = -1;\n' \
        $(( $2 / 2 - 1 )) "$1" "$1"
}

bench_pairs() {
    local n=$1 pick
    pick=$(printf '\\set id 2 * random(0, %s) + 1' $((n / 2 - 1)))
    update_pair "$HAND" "$n" >"$WORK/pairs_hand.sql"
    update_pair "$BASE" "$n" >"$WORK/pairs_same.sql"
    printf '%s\nSELECT %s;\nSELECT %s;\n' "$pick" "$FN_DEL" "$FN_RES" >"$WORK/pairs_fn.sql"
    printf '%s\nDELETE FROM %s WHERE id = :id;\nSELECT %s;\n' "$pick" "$VIEW" "$V_RES" >"$WORK/pairs_view.sql"
    # one client: two clients could pick the same row, and a delete of a trashed row is refused
    compare pairs "$n" 1 "" vacuum hand same fn view
    record pairs-fn "$n" "pairs/s" rate ">=" 0.8 "${MED[fn]}" "${MED[hand]}" "${MED[same]}" \
        "${ROUNDS_OF[fn]}" "${ROUNDS_OF[hand]}" "${ROUNDS_OF[same]}"
    record pairs-view "$n" "pairs/s" rate ">=" 0.8 "${MED[view]}" "${MED[hand]}" "${MED[same]}" \
        "${ROUNDS_OF[view]}" "${ROUNDS_OF[hand]}" "${ROUNDS_OF[same]}"
}

# Where a pair's time goes (BENCH_ANATOMY): the function pair against the hand-rolled pair, the
# two mixed in each pgbench run as in the pairs case, with parts of the extension switched off
# on the enabled table, one variant after the other in each round (in rotating order): "full"
# as installed; "log-direct" the move log written by the moving statement itself, indexes and all
# (lamin_branch.log_inbox = off); "no-log-indexes" written by the moving statement without the
# log's indexes; "no-log" without its statement trigger (no record written: the row trigger
# notes nothing then); "no-heads"
# (artifact) without the version-head trigger. A variant's gain over "full" is what that part
# costs the pair's ratio. What a variant leaves out is put back before the next one runs.
ANATOMIES=()
bench_anatomy() {
    local n=$1 r v out variants="full log-direct no-log-indexes no-log" names defs
    [ "$W" = artifact ] && variants="$variants no-heads"
    declare -A got=()
    names=$(q -c "SELECT string_agg(indexrelid::regclass::text, ', ') FROM pg_index WHERE indrelid = 'lamin.move_record'::regclass")
    defs=$(q -c "SELECT string_agg(pg_get_indexdef(indexrelid), '; ') FROM pg_index WHERE indrelid = 'lamin.move_record'::regclass")
    for r in $(seq "$ROUNDS"); do
        for v in $(rotate "$r" $variants); do
            case $v in
                log-direct) q -c "ALTER DATABASE bench SET lamin_branch.log_inbox = off" ;;
                no-log-indexes) q -c "DROP INDEX $names" -c "ALTER DATABASE bench SET lamin_branch.log_inbox = off" ;;
                no-log) q -c "ALTER TABLE $BASE DISABLE TRIGGER lamin_move_log_update" ;;
                no-heads) q -c "ALTER TABLE $BASE DISABLE TRIGGER lamin_branch_heads_update" ;;
            esac
            vacuum
            out=$(pgbench_run 1 "" "$WORK/pairs_hand.sql@1" "$WORK/pairs_fn.sql@1")
            case $v in
                log-direct) q -c "ALTER DATABASE bench $INBOX_SETTING" ;;
                no-log-indexes) q -c "$defs" -c "ALTER DATABASE bench $INBOX_SETTING" ;;
                no-log) q -c "ALTER TABLE $BASE ENABLE TRIGGER lamin_move_log_update" ;;
                no-heads) q -c "ALTER TABLE $BASE ENABLE TRIGGER lamin_branch_heads_update" ;;
            esac
            # the ratio of the round: the hand-rolled pair's mean latency over the function pair's
            got[$v]="${got[$v]:-} $(echo "$out" | awk '/^SQL script/ {k++} k && /latency average/ {l[k] = $(NF - 1)}
                                                      END {printf "%.6f", l[1] / l[2]}')"
            printf '   %-20s N=%s round %s: %s fn pair x hand %s\n' "$W/anatomy" "$n" "$r" "$v" "${got[$v]##* }"
        done
    done
    local full
    # shellcheck disable=SC2086
    full=$(median ${got[full]})
    for v in $variants; do
        local m d
        # shellcheck disable=SC2086
        m=$(awk -v m="$(median ${got[$v]})" 'BEGIN {printf "%.3f", m}')
        d=$(awk -v m="$(median ${got[$v]})" -v f="$full" 'BEGIN {printf "%+.3f", m - f}')
        ANATOMIES+=("$W|$n|$v|$m|$d")
        printf '   => %s/anatomy N=%s: %s fn pair x hand %s (%s against full)\n' "$W" "$n" "$v" "$m" "$d"
    done
}

# The backend's CPU time in ns (Linux schedstat), shown next to the elapsed time of each bulk run:
# when both move together, the spread comes from the machine's speed, not from waiting; 0 where it
# cannot be read.
if q -c "SELECT pg_read_file('/proc/self/schedstat')" >/dev/null 2>&1; then
    CPU_NS="split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint"
else
    CPU_NS="0"
fi

# bulk_ms SQL TABLE CHECK [SETUP]: "MS CPU_MS UPDATED HOT INSERTED CHECKED" of one statement in a
# transaction that is rolled back: elapsed time, the backend's CPU time, TABLE's rows updated,
# HOT-updated and inserted by the transaction (whichever path did it), and the value of the
# query CHECK run after the statement; SETUP runs first in the transaction, untimed
bulk_ms() {
    local out
    out=$(q <<SQL
BEGIN;
${4:-SELECT 1};
SELECT clock_timestamp() AS t0, $CPU_NS AS c0 \gset
$1;
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000, 1) AS ms,
       round(($CPU_NS - :c0) / 1e6, 1) AS cpu \gset
SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot, n_tup_ins AS ins, ($3) AS chk
  FROM pg_stat_xact_user_tables WHERE relid = '$2'::regclass \gset
\echo result :ms :cpu :upd :hot :ins :chk
ROLLBACK;
SQL
    ) || { echo "$out" >&2; return 1; }
    echo "$out" | awk '$1 == "result" {print $2, $3, $4, $5, $6, $7}'
}

# HOT lines: "workload|case|N|side|updated per row moved|HOT share"
HOTS=()

# bulk_line CASE N STAT LAMIN_TIMES HAND_TIMES: the log line of each side's STAT (fastest or
# median) of its runs and their ratio
bulk_line() {
    local a b
    # shellcheck disable=SC2086
    a=$($3 $4); b=$($3 $5)
    printf '   %s/%s N=%s %s: lamin %s, hand %s ms; x hand %s\n' "$W" "$1" "$2" "$3" "$a" "$b" \
        "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", a / b}')"
}

# bench_bulk N CASE GOAL ROWS EXPECT: the case's sides (bulk_SIDE variables: the statement and
# the table it changes) in rotating order; EXPECT is what the check query must return
bench_bulk() {
    local n=$1 name=$2 goal=$3 rows=$4 expect=$5 r s res ms cpu upd hot ins chk sides=()
    declare -A t=() h=() u=()
    for s in lamin hand same; do
        local v="bulk_$s"
        [ -n "${!v:-}" ] && sides+=("$s")
    done
    for r in $(seq "$BULK_ROUNDS"); do
        for s in $(rotate "$r" "${sides[@]}"); do
            vacuum
            local sql="bulk_$s" tbl="bulk_${s}_table" setup="bulk_${s}_setup"
            res=$(bulk_ms "${!sql}" "${!tbl}" "$(printf "$bulk_check" "${!tbl}")" "${!setup:-}")
            read -r ms cpu upd hot ins chk <<<"$res"
            printf '   %-20s N=%s round %s %-5s: %s ms, backend CPU %s ms, %s updated (%s HOT), %s inserted, check %s\n' \
                "$W/$name" "$n" "$r" "$s" "$ms" "$cpu" "$upd" "$hot" "$ins" "$chk"
            if [ "$chk" != "$expect" ]; then
                echo "$W/$name $s: check gave $chk, expected $expect" >&2; return 1
            fi
            t[$s]="${t[$s]:-} $ms"
            u[$s]=$upd
            h[$s]="${h[$s]:-} $(awk -v a="$hot" -v b="$upd" 'BEGIN {printf "%.3f", b ? a / b : 0}')"
        done
    done
    local fig_same="-"
    # shellcheck disable=SC2086
    [ -z "${t[same]:-}" ] || fig_same=$(bulk_stat ${t[same]})
    bulk_line "$name" "$n" fastest "${t[lamin]}" "${t[hand]}"
    # t[SIDE] holds the side's times in round order: paired, the rounds' ratios decide
    if [ "$BULK_STAT" = paired ]; then
        # shellcheck disable=SC2086
        record "$name" "$n" "ms ($rows rows)" time "<=" "$goal" "$(median ${t[lamin]})" "$(median ${t[hand]})" \
            "$fig_same" "${t[lamin]}" "${t[hand]}" "${t[same]:-}"
    else
        bulk_line "$name" "$n" median "${t[lamin]}" "${t[hand]}"
        # shellcheck disable=SC2086
        record "$name" "$n" "ms ($rows rows)" time "<=" "$goal" "$(bulk_stat ${t[lamin]})" "$(bulk_stat ${t[hand]})" "$fig_same"
    fi
    if [ "$name" = trash ] || [ "$name" = restore ]; then
        for s in "${sides[@]}"; do
            # shellcheck disable=SC2086
            HOTS+=("$W|$name|$n|$s|$(awk -v a="${u[$s]}" -v b="$rows" 'BEGIN {printf "%.2f", a / b}')|$(median ${h[$s]})")
        done
    fi
}

bench_bulks() {
    local n=$1 rows x
    rows=$(( n / 2 < BULK_ROWS ? n / 2 : BULK_ROWS ))
    x=$((2 * rows))          # ids 1..x hold `rows` main rows (odd ids) and `rows` trashed (even)
    q -c "INSERT INTO bench.keys VALUES ('restore', ARRAY(SELECT generate_series(2, $x, 2)::bigint))
          ON CONFLICT (name) DO UPDATE SET keys = excluded.keys"

    bulk_lamin=$(insert_sql "$VIEW" "$BULK_ROWS"); bulk_lamin_table=$BASE
    bulk_hand=$(insert_sql "$HAND" "$BULK_ROWS"); bulk_hand_table=$HAND
    # for artifacts the insert goes into the base table itself: there is no "same" side
    if [ "$W" = artifact ]; then
        bulk_lamin=$(insert_sql "$BASE" "$BULK_ROWS"); bulk_same=""
    else
        bulk_same=$(insert_sql "$BASE" "$BULK_ROWS"); bulk_same_table=$BASE
    fi
    bulk_check="SELECT n_tup_ins FROM pg_stat_xact_user_tables WHERE relid = '%s'::regclass"
    bench_bulk "$n" insert 1.3 "$BULK_ROWS" "$BULK_ROWS"

    bulk_lamin="DELETE FROM $VIEW WHERE id <= $x"
    bulk_hand="UPDATE $HAND SET branch_id = -1 WHERE branch_id = 1 AND id <= $x"
    bulk_same="UPDATE $BASE SET branch_id = -1 WHERE branch_id = 1 AND id <= $x"; bulk_same_table=$BASE
    bulk_check="SELECT count(*) FROM %s WHERE id <= $x AND branch_id = -1"
    bench_bulk "$n" trash 1.5 "$rows" "$x"
    # the same with the table's move-log trigger off: what the move log costs (no goal)
    bulk_lamin_setup="ALTER TABLE $BASE DISABLE TRIGGER lamin_move_log_update"; bulk_same=""
    bench_bulk "$n" trash-nolog - "$rows" "$x"
    # ... and the row trigger off too: what the BEFORE ROW trigger costs a move (Postgres locks
    # each row before such a trigger runs); no goal, the extension never runs without it
    bulk_lamin_setup="ALTER TABLE $BASE DISABLE TRIGGER lamin_move_log_update; ALTER TABLE $BASE DISABLE TRIGGER lamin_branch_row"
    bench_bulk "$n" trash-norow - "$rows" "$x"
    # ... and the hand-rolled UPDATE under a trigger that does nothing: the floor of any row trigger
    local floor_trigger="CREATE TRIGGER bench_floor BEFORE UPDATE ON $HAND FOR EACH ROW EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()"
    bulk_lamin=$bulk_hand; bulk_lamin_table=$HAND; bulk_lamin_setup=$floor_trigger
    bench_bulk "$n" trash-floor - "$rows" "$x"
    bulk_lamin_table=$BASE

    local keys="(SELECT keys FROM bench.keys WHERE name = 'restore')"
    bulk_lamin="SELECT count(*) FROM lamin.restore_many('$VIEW', $keys)"
    bulk_hand="UPDATE $HAND SET branch_id = 1 WHERE id = ANY($keys::bigint[]) AND branch_id = -1"
    bulk_same="UPDATE $BASE SET branch_id = 1 WHERE id = ANY($keys::bigint[]) AND branch_id = -1"
    bulk_check="SELECT count(*) FROM %s WHERE id <= $x AND branch_id = 1"
    bulk_lamin_setup=""
    bench_bulk "$n" restore 1.5 "$rows" "$x"
    bulk_lamin_setup="ALTER TABLE $BASE DISABLE TRIGGER lamin_move_log_update"; bulk_same=""
    bench_bulk "$n" restore-nolog - "$rows" "$x"
    bulk_lamin_setup="ALTER TABLE $BASE DISABLE TRIGGER lamin_move_log_update; ALTER TABLE $BASE DISABLE TRIGGER lamin_branch_row"
    bench_bulk "$n" restore-norow - "$rows" "$x"
    bulk_lamin=$bulk_hand; bulk_lamin_table=$HAND; bulk_lamin_setup=$floor_trigger
    bench_bulk "$n" restore-floor - "$rows" "$x"
    bulk_lamin_table=$BASE
    bulk_lamin_setup=""
}

# ---------------------------------------------------------------------------------------------
# Storage: sizes, HOT share and VACUUM time after trash/restore cycles, branch index or not
# ---------------------------------------------------------------------------------------------

# "workload|N|branch index|side|table MB|table MB after|indexes MB|indexes MB after|branch index MB|HOT|cycles s|VACUUM ms"
STORAGE=()
# "workload|N|side|index|MB|MB after"
INDEXES=()

mb() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }

# cycles TABLE: "UPDATED HOT CYCLES_S VACUUM_MS" of CYCLES trash/restore cycles on TABLE (each statement
# committed; cycle c moves the main rows of keys "cycle<c>" to trash and back), then the VACUUM
# after them
cycles() {
    local tbl=$1 c keys out
    out=$(q <<SQL
SELECT pg_stat_force_next_flush();
SELECT n_tup_upd AS u0, n_tup_hot_upd AS h0 FROM pg_stat_user_tables WHERE relid = '$tbl'::regclass \gset
SELECT clock_timestamp() AS t0 \gset
$(for c in $(seq "$CYCLES"); do
    keys="(SELECT keys FROM bench.keys WHERE name = 'cycle$c')::bigint[]"
    echo "UPDATE $tbl SET branch_id = -1 WHERE id = ANY($keys) AND branch_id = 1;"
    echo "UPDATE $tbl SET branch_id = 1 WHERE id = ANY($keys) AND branch_id = -1;"
done)
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 1) AS cs \gset
SELECT pg_stat_force_next_flush();
SELECT n_tup_upd - :u0 AS du, n_tup_hot_upd - :h0 AS dh FROM pg_stat_user_tables WHERE relid = '$tbl'::regclass \gset
\timing on
VACUUM $tbl;
\timing off
\echo result :du :dh :cs
SQL
    ) || { echo "$out" >&2; return 1; }
    echo "$out" | awk '/^Time: / {ms = sprintf("%.0f", $2)} $1 == "result" {r = $2 " " $3 " " $4} END {print r, ms}'
}

# sizes TABLE: "TABLE_BYTES INDEXES_BYTES BRANCH_INDEX_BYTES"
sizes() {
    q -c "SELECT pg_relation_size('$1'), pg_indexes_size('$1'),
                 coalesce((SELECT sum(pg_relation_size(i)) FROM bench.branch_indexes('$1') i), 0)" | tr '|' ' '
}

# index_sizes TABLE: "label|bytes" per index
index_sizes() {
    q -c "SELECT bench.index_label(indexrelid) || '|' || pg_relation_size(indexrelid)
            FROM pg_index WHERE indrelid = '$1'::regclass ORDER BY 1"
}

bench_storage() {
    local n=$1 variant side tbl before after res du dh cs vms lb li
    # each cycle its own main rows, spread over the table: 2 * CYCLE_PERCENT % of the odd ids
    q -c "INSERT INTO bench.keys SELECT 'cycle' || c, ARRAY(SELECT i FROM generate_series(1, $n, 2) AS i
                 WHERE (hashtext(i || ':' || c) & 2147483647) % 1000 < $(( 20 * CYCLE_PERCENT )))
            FROM generate_series(1, $CYCLES) AS c
          ON CONFLICT (name) DO UPDATE SET keys = excluded.keys"
    # the branch indexes of both tables, as they are defined now
    local defs
    defs=$(q -c "SELECT pg_get_indexdef(i) || ';' FROM bench.branch_indexes('$BASE') i
                 UNION ALL SELECT pg_get_indexdef(i) || ';' FROM bench.branch_indexes('$HAND') i")
    local variants="present"
    if [ -n "$defs" ]; then variants="present dropped"
    else echo "   $W: no index has branch_id as its only key column; nothing to drop"; fi
    declare -A ib=() ia=()
    for variant in $variants; do
        if [ "$variant" = dropped ]; then
            q -c "SELECT 'DROP INDEX ' || i || ';' FROM bench.branch_indexes('$BASE') i
                  UNION ALL SELECT 'DROP INDEX ' || i || ';' FROM bench.branch_indexes('$HAND') i" | q
        fi
        for side in $STORAGE_SIDES; do
            tbl=$BASE; [ "$side" = hand ] && tbl=$HAND
            # rewritten in key order, as loaded, whatever earlier moves did to the layout
            q <<SQL
SELECT 'CLUSTER $tbl USING ' || quote_ident(c.relname) FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
 WHERE x.indrelid = '$tbl'::regclass AND x.indisprimary \gexec
VACUUM (ANALYZE) $tbl;
SQL
            before=$(sizes "$tbl")
            [ "$variant" = present ] && while IFS='|' read -r lb li; do ib[$side|$lb]=$li; done < <(index_sizes "$tbl")
            res=$(cycles "$tbl")
            read -r du dh cs vms <<<"$res"
            after=$(sizes "$tbl")
            [ "$variant" = present ] && while IFS='|' read -r lb li; do ia[$side|$lb]=$li; done < <(index_sizes "$tbl")
            local b a
            read -r -a b <<<"$before"; read -r -a a <<<"$after"
            STORAGE+=("$W|$n|$variant|$side|$(mb "${b[0]}")|$(mb "${a[0]}")|$(mb "${b[1]}")|$(mb "${a[1]}")|$(mb "${a[2]}")|$(awk -v h="$dh" -v u="$du" 'BEGIN {printf "%.3f", u ? h / u : 0}')|$cs|$vms")
            printf '   %-20s N=%s branch index %-7s %-5s: table %s -> %s MB, indexes %s -> %s MB, %s updates (%s HOT) in %s s, VACUUM %s ms\n' \
                "$W/storage" "$n" "$variant" "$side" "$(mb "${b[0]}")" "$(mb "${a[0]}")" "$(mb "${b[1]}")" "$(mb "${a[1]}")" "$du" "$dh" "$cs" "$vms"
        done
    done
    [ -z "$defs" ] || echo "$defs" | q
    # per index, by definition, with the branch index present
    for side in $STORAGE_SIDES; do
        while IFS= read -r lb; do
            INDEXES+=("$W|$n|$side|$lb|$(mb "${ib[$side|$lb]:-0}")|$(mb "${ia[$side|$lb]:-0}")")
        done < <(for k in "${!ib[@]}"; do [ "${k%%|*}" = "$side" ] && echo "${k#*|}"; done | sort)
    done
}

# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------

PARTS=()
part() {   # part LABEL START: how long a part took
    local s=$(( $(date +%s) - $2 ))
    PARTS+=("$1 ${s}s")
    echo "   ($1: ${s}s)"
}

for n in $SIZES; do
    for w in $WORKLOADS; do
        wl "$w"
        echo "== $W, N = $n: loading"
        t0=$(date +%s)
        load "$n" >/dev/null
        echo "   $(q -c "SELECT count(*) FILTER (WHERE branch_id = 1) || ' main, ' || count(*) FILTER (WHERE branch_id = -1)
                           || ' trash; ' || pg_size_pretty(pg_total_relation_size('$BASE')) || ' enabled, '
                           || pg_size_pretty(pg_total_relation_size('$HAND')) || ' hand-rolled' FROM $BASE")"
        part "N=$n $W load" "$t0"
        if [ "$ANATOMY" = only ]; then
            echo "== $W, N = $n: pairs"
            t0=$(date +%s)
            bench_pairs "$n"
            echo "== $W, N = $n: anatomy of a pair"
            bench_anatomy "$n"
            part "N=$n $W pairs and anatomy" "$t0"
            continue
        fi
        echo "== $W, N = $n: read"
        t0=$(date +%s)
        bench_read "$n" read
        # a user branch current: main and that branch (task only: artifacts keep version heads,
        # which moving rows between branches would change)
        [ "$W" = task ] && bench_read_branch "$n"
        if [ "$W" = artifact ]; then
            # one generic plan per statement: execution only, without planning each time
            bench_read "$n" read-generic "-c plan_cache_mode=force_generic_plan"
            # without the planner hook: what a session without the module preloaded pays
            bench_read "$n" read-no-hook "-c lamin_branch.flatten_views=off" -
        fi
        part "N=$n $W read" "$t0"
        echo "== $W, N = $n: pairs"
        t0=$(date +%s)
        bench_pairs "$n"
        part "N=$n $W pairs" "$t0"
        if [ "$ANATOMY" = 1 ]; then
            echo "== $W, N = $n: anatomy of a pair"
            t0=$(date +%s)
            bench_anatomy "$n"
            part "N=$n $W anatomy" "$t0"
        fi
        echo "== $W, N = $n: insert, trash, restore"
        t0=$(date +%s)
        # The pairs commit their moves, three of their four sides on the enabled table, which is
        # left with rows moved and free space spread over more pages than the hand-rolled table
        # has; the bulk statements then fill that space (an INSERT at 10^6 took twice the time on
        # the enabled table whether through the view or not). So the bulk cases start from both
        # tables loaded afresh; each of their runs is rolled back, and VACUUM gives back what it
        # wrote.
        load "$n" >/dev/null
        bench_bulks "$n"
        part "N=$n $W bulk" "$t0"
        echo "== $W, N = $n: storage"
        t0=$(date +%s)
        bench_storage "$n"
        part "N=$n $W storage" "$t0"
    done
done

# ---------------------------------------------------------------------------------------------
# The tables, on the terminal and as Markdown
# ---------------------------------------------------------------------------------------------

TOTAL=$(( $(date +%s) - STARTED ))
echo
echo "== results (${TOTAL}s in all; read and pairs: median of $ROUNDS pgbench runs of ${SECONDS_RUN}s, $METHOD; bulk: $BULK_STAT of $BULK_ROUNDS)"
fmt='%-9s %-13s %8s %10s %10s %10s %-17s %7s %7s %-8s %s\n'
printf "$fmt" workload case N lamin hand same unit "x hand" "x same" goal result
md="| workload | case | N | lamin_branch | hand-rolled | same table, extension's triggers | unit | ratio vs hand-rolled | ratio vs same table | goal (vs hand-rolled) | result |"
md+=$'\n'"|---|---|---:|---:|---:|---:|---|---:|---:|---|---|"
for line in "${RESULTS[@]}"; do
    IFS='|' read -r w c n lam hand same unit rh rs goal verdict <<<"$line"
    printf "$fmt" "$w" "$c" "$n" "$lam" "$hand" "$same" "$unit" "$rh" "$rs" "$goal" "$verdict"
    md+=$'\n'"| $w | $c | $n | $lam | $hand | $same | $unit | $rh | $rs | $goal | $verdict |"
done

echo
echo "== HOT updates in the trash and restore runs (updated: rows the transaction updated per row moved)"
fmt2='%-9s %-8s %8s %-6s %8s %6s\n'
printf "$fmt2" workload case N side updated HOT
mdh="| workload | case | N | side | rows updated per row moved | HOT share |"$'\n'"|---|---|---:|---|---:|---:|"
for line in "${HOTS[@]}"; do
    IFS='|' read -r w c n s u h <<<"$line"
    printf "$fmt2" "$w" "$c" "$n" "$s" "$u" "$h"
    mdh+=$'\n'"| $w | $c | $n | $s | $u | $h |"
done

echo
echo "== storage: $CYCLES trash/restore cycles of $CYCLE_PERCENT% of the rows, then VACUUM (sizes in MB: after CLUSTER -> after the cycles and VACUUM)"
fmt3='%-9s %8s %-8s %-6s %17s %17s %9s %6s %8s %10s\n'
printf "$fmt3" workload N "branch ix" side table indexes "branch ix" HOT "cycles s" "VACUUM ms"
mds="| workload | N | branch index | table | table MB | indexes MB | branch index MB | HOT share of the cycles | cycles s | VACUUM ms |"$'\n'"|---|---:|---|---|---:|---:|---:|---:|---:|---:|"
for line in "${STORAGE[@]}"; do
    IFS='|' read -r w n v s tb ta ib ia bx hot cs vms <<<"$line"
    printf "$fmt3" "$w" "$n" "$v" "$s" "$tb -> $ta" "$ib -> $ia" "$bx" "$hot" "$cs" "$vms"
    if [ "$s" = lamin ]; then s=enabled; else s="hand-rolled"; fi
    mds+=$'\n'"| $w | $n | $v | $s | $tb → $ta | $ib → $ia | $bx | $hot | $cs | $vms |"
done
mdi="| workload | N | table | index | MB |"$'\n'"|---|---:|---|---|---:|"
for line in "${INDEXES[@]}"; do
    IFS='|' read -r w n s lb i0 i1 <<<"$line"
    printf '   %-9s %8s %-6s %-68s %s -> %s\n' "$w" "$n" "$s" "$lb" "$i0" "$i1"
    if [ "$s" = lamin ]; then s=enabled; else s="hand-rolled"; fi
    mdi+=$'\n'"| $w | $n | $s | \`$lb\` | $i0 → $i1 |"
done
mda=""
if [ "${#ANATOMIES[@]}" -gt 0 ]; then
    echo
    echo "== where a pair's time goes: the function pair x the hand-rolled pair, parts of the extension off"
    fmt4='%-9s %8s %-15s %8s %10s\n'
    printf "$fmt4" workload N variant "x hand" "vs full"
    mda="| workload | N | variant | function pair x hand-rolled | against full |"$'\n'"|---|---:|---|---:|---:|"
    for line in "${ANATOMIES[@]}"; do
        IFS='|' read -r w n v m d <<<"$line"
        printf "$fmt4" "$w" "$n" "$v" "$m" "$d"
        mda+=$'\n'"| $w | $n | $v | $m | $d |"
    done
fi
echo
echo "== run time: $(printf '%s; ' "${PARTS[@]}" | sed 's/; $//')"

if [ -n "$OUT" ]; then
    {
        echo "# lamin_branch benchmark"
        echo
        echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $BUILD, $(nproc) cores, PostgreSQL $SERVER, shared_buffers $sb, synchronous_commit off, autovacuum off (VACUUM of the tables and the move log, and CHECKPOINT, before each pairs round and bulk run), pgbench -M $PROTOCOL, $CLIENTS client(s) for read, 1 for pairs; $LOG_NOTE; ${TOTAL}s in all."
        echo
        echo "Sides: **lamin_branch** is what a user of the extension writes (views, lamin.* functions); **hand-rolled** is the same table (columns, defaults, CHECK constraints, every index, its own foreign keys) with plain integer branch columns without a foreign key and no trigger, view or policy, moved and filtered with branch_id by hand; **same table** is that hand-written SQL on the enabled table itself, paying the extension's triggers, foreign keys and row-level security. Ratios are lamin_branch's cost over the other side's (time for insert, trash, restore and read; pairs/s for the pairs, where higher is better)."
        if [ "$METHOD" = separate ]; then
            echo "read and pairs: median tps of $ROUNDS pgbench runs of ${SECONDS_RUN}s per side, sides in rotating order; their ratios the median of the rounds' ratios;"
        else
            echo "read and pairs: median of $ROUNDS pgbench runs of ${SECONDS_RUN}s, each mixing the sides at random per transaction (a side's figure: clients / its mean latency); their ratios the median of the rounds' ratios (the sides of a round meet the same machine);"
        fi
        bulk_ratio="the ratio of those figures"
        [ "$BULK_STAT" = paired ] && bulk_ratio="the median of the rounds' ratios (the sides of a round run one after the other)"
        echo "insert, trash, restore: $( [ "$BULK_STAT" = min ] && echo "fastest" || echo "median") elapsed time of $BULK_ROUNDS runs per side, sides in rotating order, each one statement rolled back after VACUUM and CHECKPOINT ($BULK_ROWS rows, at most N/2 for trash and restore); their ratios $bulk_ratio."
        echo "read-generic runs read on one generic plan per statement (execution only); read-no-hook is read with lamin_branch.flatten_views = off (no goal)."
        echo
        echo "## Cost against hand-written SQL"
        echo
        echo "$md"
        echo
        echo "## HOT updates per move"
        echo
        echo "From pg_stat_xact_user_tables inside each trash and restore run (median share over the runs). These runs move rows of a freshly loaded table, whose pages are full (fillfactor 100): a new row version goes to another page and cannot be HOT, whatever the indexes. The cycles of the next table move rows spread over a table that has seen earlier moves, as a table in use does."
        echo
        echo "$mdh"
        echo
        echo "## Storage: the branch index"
        echo
        echo "The enabled table (and the hand-rolled one where BENCH_STORAGE_SIDES names it) rewritten in key order (CLUSTER on its primary key), then $CYCLES trash/restore cycles of $CYCLE_PERCENT% of its rows (each cycle its own rows, main rows picked by a hash; the UPDATE pair, each statement committed: on the enabled table the extension's triggers write what every move path of the extension writes), then VACUUM. Sizes: after CLUSTER → after the cycles and the VACUUM. The branch index is an index whose only key column is branch_id; \"dropped\" runs without it, and is there only for tables that have one (enable() makes none for app tables). cycles s: the time of the cycles' UPDATEs."
        echo
        echo "$mds"
        echo
        echo "$mdi"
        echo
        if [ -n "$mda" ]; then
            echo "## Where a single-row pair's time goes"
            echo
            echo "The function pair against the hand-rolled pair (mixed in each pgbench run, median of $ROUNDS rounds), with parts of the extension switched off on the enabled table in turn: full (as installed), log-direct (the move log written by the moving statement, lamin_branch.log_inbox = off), no-log-indexes (written by the moving statement without the log's indexes), no-log (no move log record), no-heads (artifact: no version-head trigger). What a variant gains over full is what that part costs the ratio."
            echo
            echo "$mda"
            echo
        fi
        echo "Run time per part: $(printf '%s; ' "${PARTS[@]}" | sed 's/; $//')."
    } >"$OUT"
    echo "   written to $OUT"
fi
