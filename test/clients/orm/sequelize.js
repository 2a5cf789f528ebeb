// Sequelize 6 against app.project / app.task (rename mode) and lamin.artifact:
// queryInterface.addColumn on the view's name as app_owner, then the rows as app_user.
'use strict';
const { Sequelize, DataTypes, OptimisticLockError } = require('sequelize');
const { check, note, errorOf, sqlstate, heldInTrash, section, connection, finish } = require('./checks');

function connect(user) {
    const c = connection(user);
    return new Sequelize(c.database, c.user, null, { host: c.host, port: c.port, dialect: 'postgres', logging: false });
}

(async () => {
    note(`sequelize ${require('sequelize/package.json').version}, pg ${require('pg/package.json').version}`);
    const owner = connect('app_owner');
    const app = connect('app_user');
    const other = connect('app_user');
    const val = async (s, sql, bind) => { const [rows] = await s.query(sql, { bind: bind || [] }); return rows[0] && Object.values(rows[0])[0]; };
    const branchOf = async (id) => Number(await val(owner, 'SELECT branch_id FROM app.task_all WHERE id = $1', [id]));

    await section('migration', async () => {
        const qi = owner.getQueryInterface();
        const task = { tableName: 'task', schema: 'app' };
        await qi.addColumn(task, 'prio', { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 });
        await qi.addColumn(task, 'parent_id', { type: DataTypes.BIGINT, references: { model: task, key: 'id' } });
        await qi.addIndex(task, ['prio'], { name: 'task_prio_idx' });
        check('queryInterface.addColumn on app.task: the columns are on app.task_all and in the views',
            Number(await val(owner, "SELECT count(*) FROM pg_attribute WHERE attname IN ('prio', 'parent_id') AND NOT attisdropped"
                + " AND attrelid IN ('app.task_all'::regclass, 'app.task'::regclass, 'app.task_trash'::regclass)")) === 6);
        check('addColumn with references to app.task: the foreign key points at app.task_all',
            (await val(owner, "SELECT string_agg(confrelid::regclass::text, ',') FROM pg_constraint WHERE contype = 'f'"
                + " AND conrelid = 'app.task_all'::regclass AND conkey = ARRAY[(SELECT attnum FROM pg_attribute"
                + " WHERE attrelid = 'app.task_all'::regclass AND attname = 'parent_id')]")) === 'app.task_all');
        check('addIndex on app.task: an index of app.task_all',
            (await val(owner, "SELECT indrelid::regclass::text FROM pg_index WHERE indexrelid = 'app.task_prio_idx'::regclass")) === 'app.task_all');
    });

    // models on the views, keys declared
    const opts = (tableName, schema) => ({ tableName, schema, timestamps: false });
    const Project = app.define('Project', { id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true }, name: DataTypes.TEXT }, opts('project', 'app'));
    const taskColumns = {
        id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
        project_id: { type: DataTypes.BIGINT, allowNull: false },
        title: { type: DataTypes.STRING(100), allowNull: false },
        done: { type: DataTypes.BOOLEAN },
        prio: { type: DataTypes.INTEGER },
        parent_id: { type: DataTypes.BIGINT },
    };
    // version: Sequelize's optimistic lock, on the table's version column
    const Task = app.define('Task', { ...taskColumns }, { ...opts('task', 'app'), version: 'version' });
    const TaskTrash = app.define('TaskTrash', { ...taskColumns }, opts('task_trash', 'app'));
    const TaskElsewhere = other.define('Task', { ...taskColumns }, opts('task', 'app'));
    // Sequelize deletes nothing itself without hooks: true; the database's ON DELETE CASCADE acts on purge
    Project.hasMany(Task, { foreignKey: 'project_id', onDelete: 'CASCADE' });
    const Artifact = app.define('Artifact', {
        id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
        uid: { type: DataTypes.STRING(20) }, key: DataTypes.STRING, suffix: DataTypes.STRING, size: DataTypes.BIGINT,
    }, opts('artifact', 'lamin'));
    const ArtifactTrash = app.define('ArtifactTrash', { id: { type: DataTypes.BIGINT, primaryKey: true }, key: DataTypes.STRING }, opts('artifact_trash', 'lamin'));

    let id;
    await section('crud', async () => {
        const t = await Task.create({ project_id: 1, title: 'write tests' });
        id = Number(t.id);
        check('create(): INSERT ... RETURNING through the view', id > 0 && t.done === false && t.prio === 0, t.toJSON());
        const r = await Task.findByPk(id);
        check('findByPk()', r && r.title === 'write tests');
        const v0 = r.version;
        await r.update({ title: 'write more tests' });
        check('instance update() with the optimistic lock (the version matched): the version moved on',
            r.version === v0 + 1 && (await Task.findByPk(id)).title === 'write more tests', [v0, r.version]);
        await TaskElsewhere.destroy({ where: { id } });
        const e = await errorOf(() => r.update({ title: 'too late' }));
        check('update() of a row trashed meanwhile: OptimisticLockError (0 rows matched)', e instanceof OptimisticLockError, String(e));
        await app.query("SELECT lamin.restore('app.task', $1::bigint)", { bind: [id] });
        check('lamin.restore() brought it back', (await branchOf(id)) === 1);
        await Task.bulkCreate([1, 2, 3].map((i) => ({ project_id: 2, title: `bulk ${i}` })));
        const n = await Task.destroy({ where: { title: { [Sequelize.Op.like]: 'bulk %' } } });
        check('destroy() of 3 rows counts 3; they are in the trash', n === 3
            && Number(await val(owner, "SELECT count(*) FROM app.task_all WHERE title LIKE 'bulk %' AND branch_id = -1")) === 3, n);
        const titles = (await TaskTrash.findAll({ order: [['id', 'ASC']] })).map((x) => x.title);
        check('the trash view read through its model', titles.join() === 'bulk 1,bulk 2,bulk 3', titles);
    });

    await section('upsert', async () => {
        await Task.upsert({ id: 900001, project_id: 1, title: 'first' });
        await Task.upsert({ id: 900001, project_id: 1, title: 'second' });
        check('Model.upsert() through the view: inserts, then updates',
            (await Task.findByPk(900001)).title === 'second' && (await Task.count({ where: { id: 900001 } })) === 1);
        await Task.destroy({ where: { id: 900001 } });
        const e = await errorOf(() => Task.upsert({ id: 900001, project_id: 1, title: 'third' }));
        check('upsert whose key a trashed row holds: 23505 saying so, the row untouched',
            heldInTrash(e) && (await TaskTrash.findByPk(900001)).title === 'second', String(e));
    });

    await section('for update', async () => {
        await app.transaction(async (transaction) => {
            const t = await Task.findByPk(id, { lock: transaction.LOCK.UPDATE, transaction });
            check('findByPk with lock: FOR UPDATE through the view', t !== null);
            const e = await errorOf(() => other.transaction((t2) => other.query('SELECT id FROM app.task WHERE id = $1 FOR UPDATE NOWAIT',
                { bind: [id], transaction: t2 })));
            check('the row is locked: FOR UPDATE NOWAIT elsewhere fails with 55P03', sqlstate(e) === '55P03', String(e));
            const skipped = await other.transaction((t2) => TaskElsewhere.findAll({ where: { id }, lock: true, skipLocked: true, transaction: t2 }));
            check('findAll with skipLocked elsewhere skips it', skipped.length === 0, skipped.length);
        });
    });

    await section('restore', async () => {
        const restore = (transaction) => app.query("SELECT action FROM lamin.restore('app.task', $1::bigint)",
            { bind: [id], transaction, plain: true }).then((r) => r.action);
        await app.transaction(async (transaction) => {
            const t = await Task.findByPk(id, { transaction });
            await t.destroy({ transaction });
            let a1; let seen;
            const e = await errorOf(() => app.transaction({ transaction }, async (sp) => {   // a savepoint
                a1 = await restore(sp);
                seen = await Task.count({ where: { id }, transaction: sp });
                throw new Error('undo');
            }));
            const back = await TaskTrash.count({ where: { id }, transaction });
            check('destroy(), then lamin.restore() in a savepoint, rolled back: in the trash again',
                a1 === 'restored' && seen === 1 && e && e.message === 'undo' && back === 1, [a1, seen, back]);
            check('lamin.restore() in the transaction', (await restore(transaction)) === 'restored');
        });
        check('committed: on main', (await branchOf(id)) === 1);
    });

    await section('parent', async () => {
        const p = await Project.create({ name: 'gamma' });
        await Task.bulkCreate([1, 2].map((i) => ({ project_id: p.id, title: `gamma ${i}` })));
        await p.destroy();
        check('a project destroyed (association without hooks: true): in the trash, its tasks on main',
            Number(await val(owner, 'SELECT branch_id FROM app.project_all WHERE id = $1', [p.id])) === -1
            && (await Task.count({ where: { project_id: p.id } })) === 2);
    });

    await section('artifacts', async () => {
        const a = await Artifact.create({ key: 'sequelize/data.parquet', suffix: '.parquet', size: 10 });
        await a.reload();
        check('artifact create(): the key, and the uid the database made', Number(a.id) > 0 && a.uid.length === 20, a.toJSON());
        await a.destroy();
        check('artifact destroy(): in lamin.artifact_trash', (await ArtifactTrash.findByPk(a.id)) !== null && (await Artifact.findByPk(a.id)) === null);
        const r = await app.transaction((transaction) => app.query('SELECT action FROM lamin.artifact_restore($1)', { bind: [a.id], transaction, plain: true }));
        check('artifact_restore() in a transaction', r.action === 'restored' && (await Artifact.findByPk(a.id)) !== null);
    });

    await Promise.all([owner.close(), app.close(), other.close()]);
    finish();
})().catch((e) => { console.log(`FAIL: ${e.stack}`); process.exit(1); });
