// node-postgres (pg) against app.task (rename mode) and lamin.artifact, as app_user; the owner
// reads the _all tables to see where rows went.
'use strict';
const { Client } = require('pg');
const { check, note, errorOf, sqlstate, heldInTrash, section, connection, finish } = require('./checks');

(async () => {
    note(`pg ${require('pg/package.json').version}, node ${process.version}`);
    const app = new Client(connection('app_user'));
    const other = new Client(connection('app_user'));
    const owner = new Client(connection('app_owner'));
    await Promise.all([app.connect(), other.connect(), owner.connect()]);
    const one = async (c, sql, params) => { const r = await c.query(sql, params); return r.rows[0] && Object.values(r.rows[0])[0]; };
    const branchOf = async (id) => Number(await one(owner, 'SELECT branch_id FROM app.task_all WHERE id = $1', [id]));
    let id;

    await section('crud', async () => {
        let r = await app.query('INSERT INTO app.task (project_id, title) VALUES ($1, $2) RETURNING id, done, version', [1, 'write tests']);
        id = Number(r.rows[0].id);
        check('INSERT ... RETURNING through the view: the key and the defaults', id > 0 && r.rows[0].done === false && r.rows[0].version === 1, r.rows);
        check('read by key', (await one(app, 'SELECT title FROM app.task WHERE id = $1', [id])) === 'write tests');
        r = await app.query('UPDATE app.task SET title = $2, version = version + 1 WHERE id = $1 AND version = 1', [id, 'write more tests']);
        check('UPDATE with a version check: 1 row', r.command === 'UPDATE' && r.rowCount === 1, r.rowCount);
        r = await app.query('UPDATE app.task SET title = $2, version = version + 1 WHERE id = $1 AND version = 1', [id, 'stale']);
        check('the same UPDATE with the old version: 0 rows', r.rowCount === 0, r.rowCount);
        r = await app.query("INSERT INTO app.task (project_id, title) SELECT 2, 'bulk ' || i FROM generate_series(1, 3) i RETURNING id");
        const bulk = r.rows.map((x) => x.id);
        r = await app.query('DELETE FROM app.task WHERE id = ANY($1::bigint[])', [bulk]);
        check('DELETE of 3 rows reports DELETE 3; they are in the trash, not gone',
            r.command === 'DELETE' && r.rowCount === 3
            && Number(await one(owner, 'SELECT count(*) FROM app.task_all WHERE id = ANY($1::bigint[]) AND branch_id = -1', [bulk])) === 3, r.rowCount);
        r = await app.query("SELECT title FROM app.task_trash WHERE title LIKE 'bulk %' ORDER BY id");
        check('the trash view shows them', r.rows.map((x) => x.title).join() === 'bulk 1,bulk 2,bulk 3', r.rows);
        const e = await errorOf(() => app.query('INSERT INTO app.task (id, project_id, title) VALUES ($1, 2, $2)', [bulk[0], 'again']));
        check('INSERT of a key a trashed row holds: 23505 saying so', heldInTrash(e), String(e));
    });

    await section('upsert', async () => {
        const up = (title) => app.query('INSERT INTO app.task (id, project_id, title) VALUES (900001, 1, $1) '
            + 'ON CONFLICT (id) DO UPDATE SET title = excluded.title, version = app.task.version + 1 RETURNING version', [title]);
        const v1 = (await up('first')).rows[0].version;
        const v2 = (await up('second')).rows[0].version;
        check('INSERT ... ON CONFLICT DO UPDATE through the view: inserts, then updates', v1 === 1 && v2 === 2, [v1, v2]);
        await app.query('DELETE FROM app.task WHERE id = 900001');
        const e = await errorOf(() => up('third'));
        check('upsert whose key a trashed row holds: 23505 saying so, the row untouched',
            heldInTrash(e) && (await one(app, 'SELECT title FROM app.task_trash WHERE id = 900001')) === 'second', String(e));
    });

    await section('for update', async () => {
        await app.query('BEGIN');
        const r = await app.query('SELECT id FROM app.task WHERE id = $1 FOR UPDATE', [id]);
        check('SELECT ... FOR UPDATE through the view', r.rowCount === 1);
        await other.query('BEGIN');
        const e = await errorOf(() => other.query('SELECT id FROM app.task WHERE id = $1 FOR UPDATE NOWAIT', [id]));
        check('the row is locked: FOR UPDATE NOWAIT elsewhere fails with 55P03', sqlstate(e) === '55P03', String(e));
        await other.query('ROLLBACK');
        const s = await other.query('SELECT id FROM app.task WHERE id = $1 FOR UPDATE SKIP LOCKED', [id]);
        check('FOR UPDATE SKIP LOCKED elsewhere skips it', s.rowCount === 0, s.rowCount);
        await app.query('ROLLBACK');
    });

    await section('restore', async () => {
        const restore = "SELECT action FROM lamin.restore('app.task', $1::bigint)";
        await app.query('BEGIN');
        const d = await app.query('DELETE FROM app.task WHERE id = $1', [id]);
        await app.query('SAVEPOINT sp');
        const a1 = await one(app, restore, [id]);
        const seen = (await app.query('SELECT 1 FROM app.task WHERE id = $1', [id])).rowCount;
        await app.query('ROLLBACK TO SAVEPOINT sp');
        const back = (await app.query('SELECT 1 FROM app.task_trash WHERE id = $1', [id])).rowCount;
        check('DELETE, then lamin.restore() in a savepoint, rolled back: in the trash again',
            d.rowCount === 1 && a1 === 'restored' && seen === 1 && back === 1, [d.rowCount, a1, seen, back]);
        const a2 = await one(app, restore, [id]);
        await app.query('COMMIT');
        check('lamin.restore() in the transaction, committed: on main', a2 === 'restored' && (await branchOf(id)) === 1);
    });

    await section('artifacts', async () => {
        let r = await app.query("INSERT INTO lamin.artifact (key, suffix, size) VALUES ('node/data.parquet', '.parquet', 10) RETURNING id, uid");
        const aid = r.rows[0].id;
        check('artifact INSERT ... RETURNING id, uid', Number(aid) > 0 && r.rows[0].uid.length === 20, r.rows);
        r = await app.query('INSERT INTO lamin.artifact (uid, key, suffix, size) VALUES ($1, $2, $3, 20) '
            + 'ON CONFLICT (uid) DO UPDATE SET size = excluded.size RETURNING id', [r.rows[0].uid, 'node/data.parquet', '.parquet']);
        check('artifact upsert on uid updates the row', r.rows[0].id === aid && Number(await one(app, 'SELECT size FROM lamin.artifact WHERE id = $1', [aid])) === 20);
        r = await app.query('DELETE FROM lamin.artifact WHERE id = $1', [aid]);
        check('artifact DELETE 1: in lamin.artifact_trash',
            r.rowCount === 1 && (await one(app, 'SELECT key FROM lamin.artifact_trash WHERE id = $1', [aid])) === 'node/data.parquet');
        await app.query('BEGIN');
        const a = await one(app, 'SELECT action FROM lamin.artifact_restore($1)', [aid]);
        await app.query('COMMIT');
        check('artifact_restore() in a transaction', a === 'restored' && (await app.query('SELECT 1 FROM lamin.artifact WHERE id = $1', [aid])).rowCount === 1);
    });

    await Promise.all([app.end(), other.end(), owner.end()]);
    finish();
})().catch((e) => { console.log(`FAIL: ${e.stack}`); process.exit(1); });
