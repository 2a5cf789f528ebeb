// knex against app.task (rename mode) and lamin.artifact: a migration (alterTable on the view's
// name) as app_owner, then the rows as app_user.
'use strict';
const path = require('path');
const knexLib = require('knex');
const { check, note, errorOf, sqlstate, heldInTrash, section, connection, finish } = require('./checks');

(async () => {
    note(`knex ${require('knex/package.json').version}, pg ${require('pg/package.json').version}`);
    const owner = knexLib({ client: 'pg', connection: connection('app_owner') });
    const app = knexLib({ client: 'pg', connection: connection('app_user'), pool: { min: 0, max: 4 } });
    const other = knexLib({ client: 'pg', connection: connection('app_user') });
    const val = async (k, sql, params) => { const r = await k.raw(sql, params || []); return r.rows[0] && Object.values(r.rows[0])[0]; };
    const branchOf = async (id) => Number(await val(owner, 'SELECT branch_id FROM app.task_all WHERE id = ?', [id]));

    await section('migration', async () => {
        const [, done] = await owner.migrate.latest({ directory: path.join(__dirname, 'knex_migrations'), schemaName: 'app', loadExtensions: ['.js'] });
        check('knex migrate.latest: alterTable and createTable with references to app.task ran', done.length === 1, done);
        check('the columns are on app.task_all and in the views',
            Number(await val(owner, "SELECT count(*) FROM pg_attribute WHERE attname IN ('prio', 'parent_id') AND NOT attisdropped"
                + " AND attrelid IN ('app.task_all'::regclass, 'app.task'::regclass, 'app.task_trash'::regclass)")) === 6);
        const fks = await owner.raw("SELECT conrelid::regclass::text AS t FROM pg_constraint WHERE contype = 'f'"
            + " AND confrelid = 'app.task_all'::regclass ORDER BY 1");
        check('both foreign keys point at app.task_all', fks.rows.map((r) => r.t).join() === 'app.note,app.task_all', fks.rows);
        check('the index is on app.task_all',
            (await val(owner, "SELECT indrelid::regclass::text FROM pg_index WHERE indexrelid = 'app.task_prio_idx'::regclass")) === 'app.task_all');
    });

    let id;
    await section('crud', async () => {
        const [row] = await app('app.task').insert({ project_id: 1, title: 'write tests' }).returning(['id', 'prio']);
        id = Number(row.id);
        check('insert().returning() through the view: the key and the new column default', id > 0 && row.prio === 0, row);
        const t = await app('app.task').where({ id }).first();
        check('read by key', t && t.title === 'write tests');
        let n = await app('app.task').where({ id, version: 1 }).update({ title: 'write more tests', version: 2 });
        check('update() with a version check: 1 row', n === 1, n);
        n = await app('app.task').where({ id, version: 1 }).update({ title: 'stale', version: 2 });
        check('the same update() with the old version: 0 rows', n === 0, n);
        await app('app.task').insert([1, 2, 3].map((i) => ({ project_id: 2, title: `bulk ${i}`, parent_id: id })));
        n = await app('app.task').where('title', 'like', 'bulk %').del();
        check('del() of 3 rows counts 3; they are in the trash', n === 3
            && Number(await val(owner, "SELECT count(*) FROM app.task_all WHERE title LIKE 'bulk %' AND branch_id = -1")) === 3, n);
        const titles = (await app('app.task_trash').select('title').orderBy('id')).map((r) => r.title);
        check('the trash view read with knex', titles.join() === 'bulk 1,bulk 2,bulk 3', titles);
        const [c] = await app('app.note').insert({ task_id: id, body: 'a note' }).returning('id');
        check('a row of the new table referencing the task', Number(c.id) > 0);
    });

    await section('upsert', async () => {
        const up = (title) => app('app.task').insert({ id: 900001, project_id: 1, title }).onConflict('id').merge(['title']).returning('title');
        await up('first');
        const [r] = await up('second');
        check('insert().onConflict().merge() through the view: inserts, then updates',
            r.title === 'second' && Number(await val(app, 'SELECT count(*) FROM app.task WHERE id = 900001')) === 1, r);
        await app('app.task').where({ id: 900001 }).del();
        const e = await errorOf(() => up('third'));
        check('upsert whose key a trashed row holds: 23505 saying so, the row untouched',
            heldInTrash(e) && (await val(app, 'SELECT title FROM app.task_trash WHERE id = 900001')) === 'second', String(e));
    });

    await section('for update', async () => {
        await app.transaction(async (trx) => {
            const rows = await trx('app.task').where({ id }).forUpdate();
            check('forUpdate() through the view', rows.length === 1);
            const e = await errorOf(() => other.transaction((t2) => t2('app.task').where({ id }).forUpdate().noWait()));
            check('the row is locked: forUpdate().noWait() elsewhere fails with 55P03', sqlstate(e) === '55P03', String(e));
            const skipped = await other.transaction((t2) => t2('app.task').where({ id }).forUpdate().skipLocked());
            check('forUpdate().skipLocked() elsewhere skips it', skipped.length === 0, skipped.length);
        });
    });

    await section('restore', async () => {
        const restore = (k) => k.raw("SELECT action FROM lamin.restore('app.task', ?::bigint)", [id]).then((r) => r.rows[0].action);
        await app.transaction(async (trx) => {
            const n = await trx('app.task').where({ id }).del();
            let a1; let seen;
            const e = await errorOf(() => trx.transaction(async (sp) => {   // a savepoint
                a1 = await restore(sp);
                seen = (await sp('app.task').where({ id })).length;
                throw new Error('undo');
            }));
            const back = (await trx('app.task_trash').where({ id })).length;
            check('del(), then lamin.restore() in a savepoint, rolled back: in the trash again',
                n === 1 && a1 === 'restored' && seen === 1 && e && e.message === 'undo' && back === 1, [n, a1, seen, back]);
            check('lamin.restore() in the transaction', (await restore(trx)) === 'restored');
        });
        check('committed: on main', (await branchOf(id)) === 1);
    });

    await section('artifacts', async () => {
        const [a] = await app('lamin.artifact').insert({ key: 'knex/data.parquet', suffix: '.parquet', size: 10 }).returning(['id', 'uid']);
        check('artifact insert().returning([id, uid])', Number(a.id) > 0 && a.uid.length === 20, a);
        await app('lamin.artifact').insert({ uid: a.uid, key: 'knex/data.parquet', suffix: '.parquet', size: 20 }).onConflict('uid').merge(['size']);
        check('artifact upsert on uid', Number((await app('lamin.artifact').where({ id: a.id }).first()).size) === 20);
        const n = await app('lamin.artifact').where({ id: a.id }).del();
        check('artifact del(): 1, in lamin.artifact_trash', n === 1 && (await app('lamin.artifact_trash').where({ id: a.id })).length === 1, n);
        const r = await app.transaction((trx) => trx.raw('SELECT action FROM lamin.artifact_restore(?)', [a.id]));
        check('artifact_restore() in a transaction', r.rows[0].action === 'restored' && (await app('lamin.artifact').where({ id: a.id })).length === 1);
    });

    await Promise.all([owner.destroy(), app.destroy(), other.destroy()]);
    finish();
})().catch((e) => { console.log(`FAIL: ${e.stack}`); process.exit(1); });
