#!/usr/bin/env bash
# Runs every lamin_branch test suite on throw-away servers of every supported PostgreSQL major
# version and ends with one line "N passed, N failed" over all of them.
#   bash scripts/test.sh              PostgreSQL 15 (this system's), 17 and 18 (Debian roots, see
#                                     scripts/pgroots.sh; made on first use, about 3 minutes)
#   bash scripts/test.sh --pg 17      one version (repeat --pg, or give a list: --pg 15,18)
# Per version: pg_regress (test/sql, expected/), isolation specs (test/specs), client tests
# (test/clients: upgrade, dump, batched jobs, and ORMs, which install Debian's Python and Node
# packages and npm packages when missing) and TAP tests (test/tap). Each test is reported as
# "test pgN/NAME ... ok".
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

VERSIONS=""
HERE=0
while [ $# -gt 0 ]; do
    case $1 in
        --pg) [ $# -ge 2 ] || { echo "--pg needs a version" >&2; exit 2; }; VERSIONS="$VERSIONS ${2//,/ }"; shift ;;
        --pg=*) v=${1#--pg=}; VERSIONS="$VERSIONS ${v//,/ }" ;;
        --here) HERE=1 ;;
        -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
VERSIONS=${VERSIONS:-15 17 18}

# --here: the suites for the one PostgreSQL installed where this runs (PG_MAJOR); prints
# "test NAME ... ok|FAILED" per test and "N passed, N failed"
run_here() {
    bash "$REPO/scripts/setup.sh" || { echo "test build ... FAILED"; echo "0 passed, 1 failed"; exit 1; }
    . "$REPO/scripts/lib.sh"

    WORK=$(make_workdir test)
    # the suites run from a copy the postgres user owns, wherever the clone lives
    cp -r "$REPO/Makefile" "$REPO/lamin_branch.control" "$REPO/sql" "$REPO/src" "$REPO/test" "$REPO/expected" "$REPO/scripts" "$WORK/"
    [ "$(id -u)" -eq 0 ] && chown -R postgres "$WORK"
    log=$WORK/suite.log
    : > "$log"

    echo "== pg_regress and isolation specs (PostgreSQL $PG_MAJOR)"
    # pg_regress prints "test x ... ok" up to 15 and TAP lines ("ok 1 - x", "not ok 2 - y") from 16
    as_pg make -C "$WORK" -s installcheck PG_CONFIG=$PGBIN/pg_config \
        EXTRA_REGRESS_OPTS="--temp-instance=$WORK/tmp_check" 2>&1 | tee "$WORK/installcheck.out" \
        | awk '/^test .* \.\.\. / { sub(/ +[0-9]+ ms$/, ""); print; next }
               /^ok [0-9]+ +[-+] / { sub(/^ok [0-9]+ +[-+] +/, ""); print "test " $1 " ... ok"; next }
               /^not ok [0-9]+ +[-+] / { sub(/^not ok [0-9]+ +[-+] +/, ""); print "test " $1 " ... FAILED"; next }' >> "$log"
    make_status=${PIPESTATUS[0]}
    cat "$log"

    echo "== client tests"
    for t in "$REPO"/test/clients/*.sh; do
        [ -e "$t" ] || continue
        name=$(basename "$t" .sh)
        if bash "$t" "$WORK" >"$WORK/client_$name.out" 2>&1; then
            echo "test client/$name ... ok" | tee -a "$log"
            # what a client test cannot run on this system it says, and that is shown
            grep -E '^note: .* not run here' "$WORK/client_$name.out" | sed 's/^/    /' || true
        else
            echo "test client/$name ... FAILED" | tee -a "$log"
            cat "$WORK/client_$name.out"
        fi
    done

    echo "== Citus (a coordinator and two workers, where Citus is installed)"
    if out=$(bash "$REPO/test/citus/run.sh" "$WORK" 2>&1); then
        if grep -q '^skipped' <<<"$out"; then
            echo "note: citus not run here: $out"
        else
            echo "test citus/citus ... ok" | tee -a "$log"
        fi
    else
        echo "test citus/citus ... FAILED" | tee -a "$log"
        echo "$out"
    fi

    echo "== TAP tests (crash and replica)"
    for t in "$WORK"/test/tap/*.pl; do
        [ -e "$t" ] || continue
        name=$(basename "$t" .pl)
        if (cd "$WORK" && as_pg env PATH="$PGBIN:$PATH" PERL5LIB=$PGXS_TEST/perl \
                PG_REGRESS=$PGXS_TEST/regress/pg_regress \
                prove -v "test/tap/$name.pl") > "$WORK/tap_$name.out" 2>&1; then
            echo "test tap/$name ... ok" | tee -a "$log"
        else
            echo "test tap/$name ... FAILED" | tee -a "$log"
            cat "$WORK/tap_$name.out"
            tail -50 "$WORK"/tmp_check/log/regress_log_"$name" 2>/dev/null || true
        fi
    done

    passed=$(grep -cE '\.\.\. ok$' "$log")
    failed=$(grep -cE '\.\.\. (FAILED|failed)' "$log")
    for d in "$WORK"/regression.diffs "$WORK"/output_iso/regression.diffs; do
        if [ -s "$d" ]; then echo "== $d"; cat "$d"; fi
    done
    # a suite that died without reporting its tests still fails the run
    if [ "$make_status" -ne 0 ] && [ "$failed" -eq 0 ]; then
        tail -30 "$WORK/installcheck.out"
        echo "test installcheck ... FAILED"; failed=1
    fi
    if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
    [ "$failed" -eq 0 ] && rm -rf "$WORK"
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

if [ "$HERE" -eq 1 ]; then
    run_here
    exit $?
fi

. "$REPO/scripts/pgroots.sh"
OUT=$(mktemp -d /tmp/lamin_branch.versions.XXXXXX)

# the roots for the other versions are made while the system's version is tested
for v in $VERSIONS; do
    if [ "$v" != 15 ]; then
        (ensure_pg_root "$v" >"$OUT/root$v.log" 2>&1; echo $? >"$OUT/root$v.status") &
    fi
done

for v in $VERSIONS; do
    echo "===== PostgreSQL $v"
    if [ "$v" = 15 ]; then
        PG_MAJOR=15 bash "$REPO/scripts/test.sh" --here 2>&1 | tee "$OUT/pg$v.out"
    else
        while [ ! -e "$OUT/root$v.status" ]; do sleep 2; done
        if [ "$(cat "$OUT/root$v.status")" != 0 ]; then
            echo "could not set up PostgreSQL $v:"; cat "$OUT/root$v.log"
            echo "test setup ... FAILED" > "$OUT/pg$v.out"
            continue
        fi
        pg_root_mounts "$(pg_root "$v")"
        pg_root_trust "$(pg_root "$v")"
        copy_into_root "$v" /src/lamin_branch
        chroot "$(pg_root "$v")" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 PG_MAJOR="$v" \
            bash /src/lamin_branch/scripts/test.sh --here 2>&1 | tee "$OUT/pg$v.out"
    fi
done

wait
passed=0; failed=0
echo
echo "===== all versions"
for v in $VERSIONS; do
    sed -n -E "s#^test (.*) \.\.\. (ok|FAILED|failed)\$#test pg$v/\1 ... \2#p" "$OUT/pg$v.out"
    p=$(grep -cE '^test .* \.\.\. ok$' "$OUT/pg$v.out")
    f=$(grep -cE '^test .* \.\.\. (FAILED|failed)$' "$OUT/pg$v.out")
    # a version whose run reported no test at all failed
    [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && f=1
    tail -1 "$OUT/pg$v.out" | grep -qE '^[0-9]+ passed, 0 failed$' || [ "$f" -gt 0 ] || f=1
    passed=$((passed + p)); failed=$((failed + f))
done
rm -rf "$OUT"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
