// A knex migration written for the table app.task, which is the main view in rename mode: a
// column, a foreign key to the table itself, an index, and a new table referencing it.
'use strict';
exports.up = async (knex) => {
    await knex.schema.withSchema('app').alterTable('task', (t) => {
        t.integer('prio').notNullable().defaultTo(0);
        t.bigInteger('parent_id').references('id').inTable('app.task');
        t.index(['prio'], 'task_prio_idx');
    });
    await knex.schema.withSchema('app').createTable('note', (t) => {
        t.bigIncrements('id');
        t.bigInteger('task_id').notNullable().references('id').inTable('app.task');
        t.text('body');
    });
    await knex.raw('GRANT SELECT, INSERT ON app.note TO app_user; GRANT USAGE ON SEQUENCE app.note_id_seq TO app_user');
};
exports.down = async (knex) => {
    await knex.schema.withSchema('app').dropTable('note');
    await knex.schema.withSchema('app').alterTable('task', (t) => {
        t.dropColumn('parent_id');
        t.dropColumn('prio');
    });
};
