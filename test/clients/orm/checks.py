"""Checks shared by the Python client tests: each prints "ok: ..." or "FAIL: ...";
finish() exits non-zero when one failed."""
import sys
import traceback

failed = []


def check(what, cond, detail=''):
    if cond:
        print('ok: ' + what, flush=True)
    else:
        failed.append(what)
        print('FAIL: %s%s' % (what, (' -- %s' % (detail,)) if detail != '' else ''), flush=True)
    return cond


def note(text):
    print('note: ' + text, flush=True)


def sqlstate(exc):
    """The SQLSTATE of a driver error, whether wrapped by an ORM or not (psycopg2: pgcode,
    psycopg 3: sqlstate)."""
    seen = 0
    while exc is not None and seen < 5:
        for attr in ('pgcode', 'sqlstate'):
            code = getattr(exc, attr, None)
            if isinstance(code, str):
                return code
        exc = getattr(exc, 'orig', None) or exc.__cause__
        seen += 1
    return None


def held_in_trash(exc):
    """Is this lamin_branch's unique violation for a key a trashed row holds (23505, saying so)?"""
    texts, seen, e = [], 0, exc
    while e is not None and seen < 5:
        texts.append(str(e))
        e = getattr(e, 'orig', None) or e.__cause__
        seen += 1
    return sqlstate(exc) == '23505' and any('is held by a row in the trash' in t for t in texts)


def error_of(fn):
    """The exception fn raises, or None."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the test looks at whatever was raised
        return exc
    return None


def section(name, fn):
    """Run one group of checks; an unexpected exception fails the group instead of the run."""
    try:
        fn()
    except Exception:  # noqa: BLE001
        failed.append(name)
        print('FAIL: %s raised:' % name, flush=True)
        traceback.print_exc(file=sys.stdout)


def finish():
    print('%d check(s) failed' % len(failed) if failed else 'all checks passed', flush=True)
    sys.exit(1 if failed else 0)
