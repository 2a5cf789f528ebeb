// Checks shared by the Node client tests: each prints "ok: ..." or "FAIL: ..."; finish() exits
// non-zero when one failed.
'use strict';
const failed = [];

function check(what, cond, detail) {
    if (cond) {
        console.log(`ok: ${what}`);
    } else {
        failed.push(what);
        console.log(`FAIL: ${what}${detail === undefined ? '' : ` -- ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}`);
    }
    return cond;
}

function note(text) { console.log(`note: ${text}`); }

// the error fn throws (awaited), or null
async function errorOf(fn) {
    try { await fn(); } catch (e) { return e; }
    return null;
}

// the SQLSTATE of a driver error, wrapped by an ORM or not
function sqlstate(e) {
    for (let i = 0; e && i < 5; i++) {
        if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
        e = e.original || e.parent || e.nativeError || e.cause;
    }
    return null;
}

// lamin_branch's unique violation for a key a trashed row holds: 23505, saying so
function heldInTrash(e) {
    let said = false;
    for (let x = e, i = 0; x && i < 5; i++) {
        said = said || /is held by a row in the trash/.test(String(x.message));
        x = x.original || x.parent || x.nativeError || x.cause;
    }
    return sqlstate(e) === '23505' && said;
}

// one group of checks; an unexpected error fails the group instead of the run
async function section(name, fn) {
    try { await fn(); } catch (e) {
        failed.push(name);
        console.log(`FAIL: ${name} raised: ${e && e.stack ? e.stack : e}`);
    }
}

function connection(user) {
    return { host: process.env.LAMIN_HOST, port: Number(process.env.LAMIN_PORT), user, database: process.env.LAMIN_DB };
}

function finish() {
    console.log(failed.length ? `${failed.length} check(s) failed` : 'all checks passed');
    process.exit(failed.length ? 1 : 0);
}

module.exports = { check, note, errorOf, sqlstate, heldInTrash, section, connection, finish };
