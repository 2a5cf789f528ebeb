#!/usr/bin/env bash
# lamin_branch benchmark: what the branch model costs next to the hand-written SQL it replaces.
#
#   bash test/bench/bench.sh [--pg N] [--quick] [--out FILE]
#
# On its own on a fresh Debian 12 machine: installs and builds (scripts/setup.sh), starts a
# throw-away server, loads N artifacts (half of them trashed) for N = 10^5 and 10^6, and measures
# in the same run, the two sides of each comparison alternating:
#   read   SELECT sum(size) over 200 ids through lamin.artifact vs lamin.artifact_all with
#          "branch_id = 1 AND" by hand; ratio raw tps / view tps (goal <= 1.05)
#   read-generic  the same with plan_cache_mode = force_generic_plan: execution only, where
#          read plans every statement (the custom plans pgbench -M prepared gets for a range)
#   read-no-hook  read with lamin_branch.flatten_views = off: Postgres plans the security_barrier
#          view itself, as in a session without the module loaded (no goal: what preloading saves)
#   pairs  lamin.artifact_delete + lamin.artifact_restore of a random main row vs the guarded raw
#          UPDATE pair; ratio lamin pairs/s / raw pairs/s (goal >= 0.8)
#   bulk   DELETE FROM lamin.artifact of 10^5 main rows (all of them when N/2 is fewer) vs the raw
#          UPDATE of the same rows, each in a transaction rolled back; ratio view ms / raw ms
#          (goal <= 1.5)
# read and pairs: median over rounds of pgbench -T runs that mix both scripts at random per
# transaction (a side's figure is clients / its average latency), so both sides meet the same
# machine; BENCH_METHOD=separate runs each side on its own instead (ABBA order, tps of each run).
# bulk: median over rounds, sides alternating. The base table's own triggers (lamin_branch_row,
# lamin_branch_heads) fire on both sides of pairs and bulk: the ratios are the cost of the view,
# the functions and the INSTEAD OF trigger on top of them. About 8 minutes on 2 cores.
#
#   --pg N      PostgreSQL major version: 15 (this system's, the default), 17 or 18 (run inside
#               the Debian root scripts/pgroots.sh makes for it)
#   --quick     N = 10^5 only, shorter runs (about a minute)
#   --out FILE  also write the results as a Markdown table to FILE
# Environment: BENCH_SECONDS (pgbench -T of one run), BENCH_ROUNDS (rounds of each case; by
# default 3 with --quick, else 5 for read and pairs and 7 for bulk),
# BENCH_CLIENTS (pgbench clients for read; pairs always use 1 so that no two clients move the
# same row), BENCH_PROTOCOL (pgbench -M: prepared, the default, or simple), BENCH_METHOD.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

QUICK=0
OUT=""
PGV=${PG_MAJOR:-15}
ARGS=("$@")
while [ $# -gt 0 ]; do
    case $1 in
        --pg) [ $# -ge 2 ] || { echo "--pg needs a version" >&2; exit 2; }; PGV=$2; shift ;;
        --pg=*) PGV=${1#--pg=} ;;
        --quick) QUICK=1 ;;
        --out) [ $# -ge 2 ] || { echo "--out needs a file" >&2; exit 2; }; OUT=$2; shift ;;
        --out=*) OUT=${1#--out=} ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
[ -z "$OUT" ] || OUT=$(realpath -m "$OUT")

# another major version: the same script inside its Debian root, the table copied out
if [ "$PGV" != 15 ] && [ -z "${LAMIN_IN_ROOT:-}" ]; then
    . "$REPO/scripts/pgroots.sh"
    ensure_pg_root "$PGV" || exit 1
    copy_into_root "$PGV" /src/lamin_branch
    # the same arguments but --pg and --out: the table is written inside the root, then copied
    inner=(); skip=0
    for a in "${ARGS[@]}"; do
        if [ "$skip" -eq 1 ]; then skip=0; continue; fi
        case $a in --out|--pg) skip=1 ;; --out=*|--pg=*) ;; *) inner+=("$a") ;; esac
    done
    commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || true)
    git -C "$REPO" diff --quiet HEAD -- src sql 2>/dev/null || commit="$commit with uncommitted changes"
    chroot "$(pg_root "$PGV")" env -i BENCH_COMMIT="$commit" PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        PG_MAJOR="$PGV" LAMIN_IN_ROOT=1 BENCH_SECONDS="${BENCH_SECONDS:-}" BENCH_ROUNDS="${BENCH_ROUNDS:-}" \
        bash /src/lamin_branch/test/bench/bench.sh "${inner[@]}" --out /tmp/bench.md
    status=$?
    [ -z "$OUT" ] || cp "$(pg_root "$PGV")/tmp/bench.md" "$OUT"
    exit $status
fi
export PG_MAJOR=$PGV

if [ "$QUICK" -eq 1 ]; then
    SIZES="100000"; SECONDS_RUN=${BENCH_SECONDS:-3}; ROUNDS=${BENCH_ROUNDS:-3}; BULK_ROUNDS=${BENCH_ROUNDS:-3}
else
    SIZES="100000 1000000"; SECONDS_RUN=${BENCH_SECONDS:-10}; ROUNDS=${BENCH_ROUNDS:-5}; BULK_ROUNDS=${BENCH_ROUNDS:-7}
fi
CLIENTS=${BENCH_CLIENTS:-1}
PROTOCOL=${BENCH_PROTOCOL:-prepared}
BULK_ROWS=100000        # main rows one bulk delete covers (all main rows when there are fewer)
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

# Settings for measuring CPU cost rather than the disk: everything cached, no checkpoint or
# autovacuum in the middle of a run (the script vacuums between runs), commits not waiting for
# the WAL flush (the pairs are one commit per statement on both sides; waiting for fsync would
# hide the difference).
mem_kb=$(awk '/^MemTotal/ {print $2}' /proc/meminfo)
if [ "$mem_kb" -ge 6000000 ]; then sb=1GB; elif [ "$mem_kb" -ge 3000000 ]; then sb=512MB; else sb=128MB; fi
DB=postgres q <<SQL
ALTER SYSTEM SET shared_buffers = '$sb';
ALTER SYSTEM SET max_wal_size = '8GB';
ALTER SYSTEM SET checkpoint_timeout = '1h';
ALTER SYSTEM SET synchronous_commit = off;
ALTER SYSTEM SET autovacuum = off;
ALTER SYSTEM SET jit = off;
SQL
as_pg pg_ctl -D "$WORK/data" -w -m fast restart >/dev/null
DB=postgres q -c "CREATE DATABASE bench"
q -c "ALTER DATABASE bench SET client_min_messages = warning" \
  -c "CREATE EXTENSION lamin_branch" \
  -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" >/dev/null
# what was measured: the extension as built from this tree (commit, and whether it had changes)
BUILD="lamin_branch $(q -c "SELECT extversion FROM pg_extension WHERE extname = 'lamin_branch'")"
if [ -n "${BENCH_COMMIT:-}" ]; then
    BUILD="$BUILD (commit $BENCH_COMMIT)"
elif commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null); then
    git -C "$REPO" diff --quiet HEAD -- src sql 2>/dev/null || commit="$commit with uncommitted changes"
    BUILD="$BUILD (commit $commit)"
fi
echo "   PostgreSQL $(q -c 'SHOW server_version'), $BUILD, shared_buffers $sb, pgbench -M $PROTOCOL, $ROUNDS rounds of ${SECONDS_RUN}s"

# load N: ids 1..N, even ids in trash, odd ids on main; distinct uids (and so version families)
load() {
    local n=$1
    q <<SQL
SET client_min_messages = warning;
TRUNCATE lamin.artifact_all;
-- the extension's row triggers (lamin_branch_row, and any other it has) are off for the load:
-- every family has one version, so is_latest = true is already right
CREATE TEMP TABLE off AS SELECT tgname FROM pg_trigger
 WHERE tgrelid = 'lamin.artifact_all'::regclass AND NOT tgisinternal AND tgenabled <> 'D';
DO \$\$
DECLARE tg name;
BEGIN
    FOR tg IN SELECT tgname FROM off LOOP
        EXECUTE format('ALTER TABLE lamin.artifact_all DISABLE TRIGGER %I', tg);
    END LOOP;
END \$\$;
INSERT INTO lamin.artifact_all (uid, id, key, description, suffix, kind, otype, size, hash,
        n_files, n_observations, version, is_latest, is_locked, created_at, branch_id, space_id,
        storage_id, run_id, schema_id, created_by_id, created_on_id, updated_at)
SELECT substr(md5('uid' || i), 1, 16) || '0000',
       i,
       'bench/dataset_' || i || '.parquet',
       'benchmark artifact ' || i,
       '.parquet', 'dataset', 'DataFrame',
       1000 + (i::bigint * 7919) % 1000000,
       substr(md5('hash' || i), 1, 22),
       NULL, 100 + i % 5000, '1',
       true, false,
       timestamptz '2024-01-01' + i * interval '1 second',
       CASE WHEN i % 2 = 0 THEN -1 ELSE 1 END,
       1, 1, i % 100, NULL, 1, 1,
       timestamptz '2024-01-01' + i * interval '1 second'
FROM generate_series(1, $n) AS i;
DO \$\$
DECLARE tg name;
BEGIN
    FOR tg IN SELECT tgname FROM off LOOP
        EXECUTE format('ALTER TABLE lamin.artifact_all ENABLE TRIGGER %I', tg);
    END LOOP;
END \$\$;
SELECT setval('lamin.artifact_all_id_seq', $n);
VACUUM (ANALYZE) lamin.artifact_all;
CHECKPOINT;
SELECT pg_prewarm(c.oid) FROM pg_class c
 WHERE c.oid = 'lamin.artifact_all'::regclass
    OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'lamin.artifact_all'::regclass);
SQL
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

# compare NAME N CLIENTS PGOPTIONS VACUUM: runs $WORK/NAME_raw.sql against $WORK/NAME_lamin.sql
# for ROUNDS rounds and sets MED_RAW, MED_LAMIN to the median throughput (per second) of each.
#   mixed (default): each round is one pgbench run of both scripts, picked at random per
#     transaction, so that both sides meet the same machine; a side's throughput is
#     clients / its average latency (what it would do alone).
#   separate (BENCH_METHOD=separate): each round runs one side then the other (ABBA order), and a
#     side's throughput is the tps of its own run.
compare() {
    local name=$1 n=$2 clients=$3 opts=$4 vac=$5 raw=() lam=() r side out t tr tl
    for r in $(seq "$ROUNDS"); do
        if [ "${BENCH_METHOD:-mixed}" = separate ]; then
            for side in $( [ $((r % 2)) -eq 1 ] && echo raw lamin || echo lamin raw); do
                [ "$vac" = vacuum ] && vacuum
                out=$(pgbench_run "$clients" "$opts" "$WORK/${name}_$side.sql")
                t=$(echo "$out" | awk '/^tps = / {printf "%.1f", $3; exit}')
                if [ "$side" = raw ]; then tr=$t; raw+=("$t"); else tl=$t; lam+=("$t"); fi
            done
        else
            [ "$vac" = vacuum ] && vacuum
            out=$(pgbench_run "$clients" "$opts" "$WORK/${name}_raw.sql@1" "$WORK/${name}_lamin.sql@1")
            read -r tr tl < <(echo "$out" | awk -v c="$clients" '
                /^SQL script/ {k++}
                k && /latency average/ {v[k] = sprintf("%.1f", c * 1000 / $(NF - 1))}
                END {print v[1], v[2]}')
            raw+=("$tr"); lam+=("$tl")
        fi
        printf '   %-12s N=%s round %s: raw %s/s, lamin %s/s\n' "$name" "$n" "$r" "$tr" "$tl"
    done
    MED_RAW=$(median "${raw[@]}")
    MED_LAMIN=$(median "${lam[@]}")
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# results: one line per case, "case|N|raw|lamin|ratio|goal|result|unit"
RESULTS=()
record() {          # case n raw lamin ratio_expr(a=raw,b=lamin) op goal unit
    local ratio verdict
    ratio=$(awk -v a="$3" -v b="$4" "BEGIN {printf \"%.3f\", $5}")
    if [ "$7" = "-" ]; then
        verdict="info"
    else
        verdict=$(awk -v r="$ratio" -v g="$7" "BEGIN {print (r $6 g) ? \"PASS\" : \"MISS\"}")
    fi
    local goal="$6 $7"
    [ "$7" != "-" ] || goal="none"
    RESULTS+=("$1|$2|$3|$4|$ratio|$goal|$verdict|$8")
    printf '   => %s N=%s: raw %s, lamin %s %s, ratio %s (goal %s) %s\n' "$1" "$2" "$3" "$4" "$8" "$ratio" "$goal" "$verdict"
}

vacuum() { q -c "VACUUM lamin.artifact_all" -c "CHECKPOINT"; }

# bench_read N CASE [PGOPTIONS [GOAL]]
bench_read() {
    local n=$1 name=$2 opts=${3:-} goal=${4:-1.05}
    cat >"$WORK/${name}_raw.sql" <<SQL
\set s random(1, $((n - 200)))
SELECT sum(size) FROM lamin.artifact_all WHERE branch_id = 1 AND id BETWEEN :s AND :s + 200;
SQL
    cat >"$WORK/${name}_lamin.sql" <<SQL
\set s random(1, $((n - 200)))
SELECT sum(size) FROM lamin.artifact WHERE id BETWEEN :s AND :s + 200;
SQL
    compare "$name" "$n" "$CLIENTS" "$opts" no
    record "$name" "$n" "$MED_RAW" "$MED_LAMIN" "a / b" "<=" "$goal" "tps"
}

bench_pairs() {
    local n=$1
    # odd ids are on main; each pair puts the row back where it was
    cat >"$WORK/pairs_raw.sql" <<SQL
\set id 2 * random(0, $((n / 2 - 1))) + 1
UPDATE lamin.artifact_all SET branch_id = -1 WHERE id = :id AND branch_id = 1;
UPDATE lamin.artifact_all SET branch_id = 1 WHERE id = :id AND branch_id = -1;
SQL
    cat >"$WORK/pairs_lamin.sql" <<SQL
\set id 2 * random(0, $((n / 2 - 1))) + 1
SELECT lamin.artifact_delete(:id);
SELECT lamin.artifact_restore(:id);
SQL
    # one client: two clients could pick the same row, and artifact_delete refuses a trashed one
    compare pairs "$n" 1 "" vacuum
    record pairs "$n" "$MED_RAW" "$MED_LAMIN" "b / a" ">=" 0.8 "pairs/s"
}

# The backend's CPU time in ns (Linux schedstat), shown next to the elapsed time of each bulk run:
# when both move together, the spread comes from the machine's speed, not from waiting; 0 where it
# cannot be read.
if q -c "SELECT pg_read_file('/proc/self/schedstat')" >/dev/null 2>&1; then
    CPU_NS="split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint"
else
    CPU_NS="0"
fi

# bulk_ms SQL: "MS CPU_MS ROWS" of one statement in a transaction that is rolled back: elapsed
# time, the backend's CPU time, and the rows of lamin.artifact_all the transaction updated
# (whichever path did it)
bulk_ms() {
    local out
    out=$(q <<SQL
BEGIN;
SELECT clock_timestamp() AS t0, $CPU_NS AS c0 \gset
$1;
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000, 1) AS ms,
       round(($CPU_NS - :c0) / 1e6, 1) AS cpu,
       pg_stat_get_xact_tuples_updated('lamin.artifact_all'::regclass) AS n \gset
\echo result :ms :cpu :n
ROLLBACK;
SQL
    ) || { echo "$out" >&2; return 1; }
    echo "$out" | awk '$1 == "result" {print $2, $3, $4}'
}

bench_bulk() {
    local n=$1 raw=() view=() r side res ms cpu moved rows x
    rows=$(( n / 2 < BULK_ROWS ? n / 2 : BULK_ROWS ))
    x=$((2 * rows))          # ids 1..x hold `rows` main rows (the odd ones)
    for r in $(seq "$BULK_ROUNDS"); do
        for side in $( [ $((r % 2)) -eq 1 ] && echo raw view || echo view raw); do
            vacuum
            if [ "$side" = raw ]; then
                res=$(bulk_ms "UPDATE lamin.artifact_all SET branch_id = -1 WHERE id <= $x AND branch_id = 1")
            else
                res=$(bulk_ms "DELETE FROM lamin.artifact WHERE id <= $x")
            fi
            read -r ms cpu moved <<<"$res"
            printf '   %-12s N=%s round %s %-4s: %s ms, backend CPU %s ms, %s rows updated\n' bulk "$n" "$r" "$side" "$ms" "$cpu" "$moved"
            if [ "$moved" != "$rows" ]; then
                echo "bulk $side updated $moved rows, expected $rows" >&2; return 1
            fi
            if [ "$side" = raw ]; then raw+=("$ms"); else view+=("$ms"); fi
        done
    done
    record bulk "$n" "$(median "${raw[@]}")" "$(median "${view[@]}")" "b / a" "<=" 1.5 "ms ($rows rows)"
}

for n in $SIZES; do
    echo "== N = $n: loading"
    t0=$(date +%s)
    load "$n" >/dev/null
    echo "   loaded in $(( $(date +%s) - t0 ))s: $(q -c "SELECT count(*) FILTER (WHERE branch_id = 1) || ' main, ' || count(*) FILTER (WHERE branch_id = -1) || ' trash, ' || pg_size_pretty(pg_total_relation_size('lamin.artifact_all')) FROM lamin.artifact_all")"
    echo "== N = $n: read"
    bench_read "$n" read
    # the same with one generic plan per statement: execution only, without planning each time
    bench_read "$n" read-generic "-c plan_cache_mode=force_generic_plan"
    # without the planner hook: what a session without the module preloaded pays
    bench_read "$n" read-no-hook "-c lamin_branch.flatten_views=off" -
    echo "== N = $n: pairs"
    bench_pairs "$n"
    echo "== N = $n: bulk"
    bench_bulk "$n"
done

# the table, on the terminal and as Markdown
echo
echo "== results ($(( $(date +%s) - STARTED ))s in all; read and pairs: median of $ROUNDS pgbench runs of ${SECONDS_RUN}s, ${BENCH_METHOD:-mixed}; bulk: median of $BULK_ROUNDS)"
printf '%-12s %8s %10s %10s %-16s %6s %-7s %s\n' case N raw lamin unit ratio goal result
md="| case | N | raw | lamin | unit | ratio | goal | result |"$'\n'"|---|---:|---:|---:|---|---:|---|---|"
for line in "${RESULTS[@]}"; do
    IFS='|' read -r c n raw lam ratio goal verdict unit <<<"$line"
    printf '%-12s %8s %10s %10s %-16s %6s %-7s %s\n' "$c" "$n" "$raw" "$lam" "$unit" "$ratio" "$goal" "$verdict"
    md+=$'\n'"| $c | $n | $raw | $lam | $unit | $ratio | $goal | $verdict |"
done
if [ -n "$OUT" ]; then
    {
        echo "# lamin_branch benchmark"
        echo
        echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $BUILD, $(nproc) cores, PostgreSQL $(q -c 'SHOW server_version'), shared_buffers $sb, synchronous_commit off, autovacuum off (VACUUM and CHECKPOINT before each pairs and bulk run), pgbench -M $PROTOCOL, $CLIENTS client(s) for read, 1 for pairs."
        if [ "${BENCH_METHOD:-mixed}" = separate ]; then
            echo "read and pairs: median tps of $ROUNDS pgbench runs of ${SECONDS_RUN}s per side, sides alternated (ABBA);"
        else
            echo "read and pairs: median of $ROUNDS pgbench runs of ${SECONDS_RUN}s, each mixing both sides at random per transaction (a side's figure: clients / its mean latency);"
        fi
        echo "bulk: median elapsed time of $BULK_ROUNDS runs per side, sides alternated (ABBA), each rolled back after VACUUM and CHECKPOINT. Ratios: read raw/view, pairs lamin/raw, bulk view/raw."
        echo "read plans every statement (custom plans); read-generic runs the same statements on one generic plan each (execution only); read-no-hook is read with lamin_branch.flatten_views = off (no goal)."
        echo
        echo "$md"
    } >"$OUT"
    echo "   written to $OUT"
fi
