#!/usr/bin/env bash
# Batched bulk work: every batch commits; statement_timeout, lock_timeout and a cancel stop a
# run part-way with its finished batches kept; a re-run finishes the job; no row moves twice.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$REPO/scripts/lib.sh"
WORK=$(make_workdir batched)
PORT=54333
trap 'stop_server "$WORK"; rm -rf "$WORK"' EXIT
start_server "$WORK" "$PORT"
psql_() { as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres "$@"; }
q() { psql_ -At -c "$1"; }

psql_ >/dev/null <<'SQL'
CREATE EXTENSION lamin_branch;
CREATE TABLE job (id int PRIMARY KEY, payload text);
INSERT INTO job SELECT i, repeat('x', 100) FROM generate_series(1, 200000) i;
SELECT lamin.enable('job');
-- every branch change of a row, to show that none moves twice
CREATE TABLE moves (id int, from_branch int, to_branch int);
CREATE FUNCTION log_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.branch_id <> NEW.branch_id THEN INSERT INTO moves VALUES (OLD.id, OLD.branch_id, NEW.branch_id); END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER log_move AFTER UPDATE ON job_all FOR EACH ROW EXECUTE FUNCTION log_move();
SQL
status=0
fail() { echo "FAIL: $*"; status=1; }

# A statement trigger paces the batches of 1 to 3 (0.2 s each), so that a run is still going when
# the timeout or the cancel comes, however fast a batch moves.
psql_ >/dev/null <<'SQL'
CREATE FUNCTION job_pace() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.2); RETURN NULL; END $$;
CREATE TRIGGER job_pace AFTER UPDATE ON job_all FOR EACH STATEMENT EXECUTE FUNCTION job_pace();
SQL

# 1. statement_timeout stops the run; finished batches stay
set +e
out=$(psql_ -c "SET statement_timeout = '1500ms'" -c "SET client_min_messages = warning" \
            -c "CALL lamin.trash_batched('job', 'id <= 150000', 5000)" 2>&1)
rc=$?
set -e
done1=$(q "SELECT count(*) FROM job_all WHERE branch_id = -1")
if [ $rc -ne 0 ] && echo "$out" | grep -q "statement timeout" && [ "$done1" -gt 0 ] && [ $((done1 % 5000)) -eq 0 ] \
   && [ "$done1" -lt 150000 ]; then
    echo "ok: statement_timeout stopped the run after $done1 rows (whole batches of 5000 kept)"
else
    fail "statement_timeout: rc=$rc moved=$done1 ($out)"
fi

# 2. lock_timeout: a row held by another transaction stops the run with lock_not_available
next=$(q "SELECT min(id) FROM job_all WHERE branch_id = 1")
psql_ -c "BEGIN" -c "SELECT 1 FROM job_all WHERE id = $next FOR UPDATE" -c "SELECT pg_sleep(5)" -c "COMMIT" >/dev/null &
holder=$!
wait_for() {   # wait_for PATTERN: until a statement like it runs in another session
    for _ in $(seq 1 100); do
        [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '$1' AND pid <> pg_backend_pid()")" != 0 ] && return 0
        sleep 0.1
    done
    echo "FAIL: '$1' never started"; exit 1
}
wait_for 'SELECT pg_sleep(5)%'
set +e
out=$(psql_ -c "SET lock_timeout = '500ms'" -c "SET client_min_messages = warning" \
            -c "CALL lamin.trash_batched('job', 'id <= 150000', 5000)" 2>&1)
rc=$?
set -e
wait $holder
done2=$(q "SELECT count(*) FROM job_all WHERE branch_id = -1")
if [ $rc -ne 0 ] && echo "$out" | grep -q "lock timeout" && [ "$done2" -eq "$done1" ]; then
    echo "ok: lock_timeout stopped the run at the locked row $next; the batch holding it moved nothing"
else
    fail "lock_timeout: rc=$rc moved=$done2 ($out)"
fi

# 3. a cancel from another session stops it too, once a first batch has committed
psql_ -c "SET client_min_messages = warning" -c "CALL lamin.trash_batched('job', 'id > 150000', 2000)" \
    > "$WORK/cancel.out" 2>&1 &
runner=$!
wait_for 'CALL lamin.trash_batched%'
for _ in $(seq 1 100); do
    [ "$(q "SELECT count(*) FROM job_all WHERE branch_id = -1 AND id > 150000")" != 0 ] && break
    sleep 0.1
done
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'CALL lamin.trash_batched%' AND pid <> pg_backend_pid()" >/dev/null
set +e; wait $runner; rc=$?; set -e
q "DROP TRIGGER job_pace ON job_all; DROP FUNCTION job_pace()" >/dev/null
done3=$(q "SELECT count(*) FROM job_all WHERE branch_id = -1 AND id > 150000")
if [ $rc -ne 0 ] && grep -q "canceling statement due to user request" "$WORK/cancel.out" && [ "$done3" -gt 0 ] \
   && [ "$done3" -lt 50000 ]; then
    echo "ok: cancel stopped the run after $done3 rows"
else
    fail "cancel: rc=$rc moved=$done3 ($(cat "$WORK/cancel.out"))"
fi

# 4. re-runs finish the jobs; no row moved twice
call() { psql_ -c "SET client_min_messages = warning" -c "$1" >/dev/null; }
call "CALL lamin.trash_batched('job', 'id <= 150000', 5000)"
call "CALL lamin.trash_batched('job', 'id > 150000', 2000)"
total=$(q "SELECT count(*) FROM job_all WHERE branch_id = -1")
twice=$(q "SELECT count(*) FROM (SELECT id FROM moves GROUP BY id HAVING count(*) > 1) x")
logged=$(q "SELECT count(*) FROM moves")
if [ "$total" -eq 200000 ] && [ "$twice" -eq 0 ] && [ "$logged" -eq 200000 ]; then
    echo "ok: re-runs finished the jobs: 200000 rows in trash, each moved once"
else
    fail "re-run: in trash $total, moved twice $twice, moves logged $logged"
fi

# 5. restore and purge in batches
call "CALL lamin.restore_batched('job', 'id % 2 = 0', 7000)"
call "CALL lamin.purge_batched('job', 'id % 4 = 1', 7000)"
got=$(q "SELECT string_agg(branch_id || ':' || n, ' ' ORDER BY branch_id) FROM (SELECT branch_id, count(*) n FROM job_all GROUP BY 1) x")
[ "$got" = "-1:50000 1:100000" ] && echo "ok: restore_batched and purge_batched: $got" || fail "restore/purge: $got"
exit $status
