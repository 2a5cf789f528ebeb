#!/usr/bin/env bash
# Runs every lamin_branch test suite on throw-away servers and ends with "N passed, N failed".
#   pg_regress (test/sql, expected/), isolation specs (test/specs), client tests (test/clients).
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$REPO/scripts/setup.sh" || { echo "0 passed, 1 failed"; exit 1; }
. "$REPO/scripts/lib.sh"

WORK=$(make_workdir test)
# the suites run from a copy the postgres user owns, wherever the clone lives
cp -r "$REPO/Makefile" "$REPO/lamin_branch.control" "$REPO/sql" "$REPO/test" "$REPO/expected" "$REPO/scripts" "$WORK/"
[ "$(id -u)" -eq 0 ] && chown -R postgres "$WORK"

passed=0; failed=0
log=$WORK/suite.log
: > "$log"

echo "== pg_regress and isolation specs"
as_pg make -C "$WORK" -s installcheck PG_CONFIG=$PGBIN/pg_config \
    EXTRA_REGRESS_OPTS="--temp-instance=$WORK/tmp_check" 2>&1 | tee -a "$log"
make_status=${PIPESTATUS[0]}

echo "== client tests"
for t in "$REPO"/test/clients/*.sh; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .sh)
    if bash "$t" "$WORK" >"$WORK/client_$name.out" 2>&1; then
        echo "test client/$name ... ok" | tee -a "$log"
    else
        echo "test client/$name ... FAILED" | tee -a "$log"
        cat "$WORK/client_$name.out"
    fi
done

echo "== TAP tests (crash and replica)"
for t in "$WORK"/test/tap/*.pl; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .pl)
    if (cd "$WORK" && as_pg env PATH="$PGBIN:$PATH" PERL5LIB=/usr/lib/postgresql/15/lib/pgxs/src/test/perl \
            PG_REGRESS=/usr/lib/postgresql/15/lib/pgxs/src/test/regress/pg_regress \
            prove -v "test/tap/$name.pl") > "$WORK/tap_$name.out" 2>&1; then
        echo "test tap/$name ... ok" | tee -a "$log"
    else
        echo "test tap/$name ... FAILED" | tee -a "$log"
        cat "$WORK/tap_$name.out"
        tail -50 "$WORK"/tmp_check/log/regress_log_"$name" 2>/dev/null || true
    fi
done

passed=$(grep -cE '\.\.\. ok' "$log")
failed=$(grep -cE '\.\.\. (FAILED|failed)' "$log")
for d in "$WORK"/regression.diffs "$WORK"/output_iso/regression.diffs; do
    if [ -s "$d" ]; then echo "== $d"; cat "$d"; fi
done
# a suite that died without reporting its tests still fails the run
if [ "$make_status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
[ "$failed" -eq 0 ] && rm -rf "$WORK"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
