-- lamin_branch on Citus: a coordinator and two workers (test/citus/run.sh).
\set ON_ERROR_STOP 0
SET citus.shard_count = 4;
SET citus.next_shard_id = 900000;
CREATE ROLE app_reader LOGIN;
CREATE ROLE app_writer LOGIN;

-- A distributed table, enabled: Citus mode (no trigger, plain statements across shards)
CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO app_reader, app_writer;
CREATE TABLE app.task (id bigint PRIMARY KEY, title text, n int, updated_at timestamptz);
SELECT create_distributed_table('app.task', 'id');
INSERT INTO app.task SELECT g, 't' || g, g FROM generate_series(1, 100) g;
GRANT SELECT ON app.task TO app_reader;
GRANT SELECT, DELETE ON app.task TO app_writer;
SELECT relation, mode, main_view, trash_view FROM lamin.enable('app.task');
SELECT lamin._citus_table('app.task_all') AS citus_mode;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'app.task_all'::regclass AND NOT tgisinternal;
SELECT polname, polpermissive FROM pg_policy WHERE polrelid = 'app.task_all'::regclass;

-- LaminDB's FAQ: delete moves to the trash, delete from the trash removes for good, restore
-- brings back, archive hides
SELECT key, action, from_branch, to_branch FROM lamin.delete('app.task_all', 1::bigint);
SELECT count(*) FROM app.task WHERE id = 1;
SELECT id FROM app.task_trash ORDER BY id;
SELECT key, action FROM lamin.restore('app.task_all', 1::bigint);
SELECT key, action FROM lamin.archive('app.task_all', 1::bigint);
SELECT id FROM app.task_archive ORDER BY id;
SELECT key, action FROM lamin.restore('app.task_all', 1::bigint);
SELECT key, action FROM lamin.delete('app.task_all', 100::bigint);
SELECT key, action FROM lamin.delete('app.task_all', 100::bigint);
SELECT key, action, to_branch FROM lamin.delete('app.task_all', 100::bigint, permanent => true);
SELECT count(*) FROM app.task_all WHERE id = 100;

-- bulk moves: one plain UPDATE per branch the rows leave
SELECT key, action, from_branch, to_branch FROM lamin.delete_many('app.task_all', ARRAY[2, 3, 4, 5]::bigint[]) ORDER BY key::int;
SELECT key, action, from_branch, to_branch FROM lamin.archive_many('app.task_all', ARRAY[6, 7, 8, 9]::bigint[]) ORDER BY key::int;
SELECT key, action, from_branch, to_branch FROM lamin.restore_many('app.task_all', ARRAY[4, 5, 9]::bigint[]) ORDER BY key::int;
SELECT key, action, from_branch, to_branch FROM lamin.move_many('app.task_all', ARRAY[10, 11]::bigint[], 0) ORDER BY key::int;
SELECT key, action, from_branch FROM lamin.delete_many('app.task_all', ARRAY[3, 12]::bigint[]) ORDER BY key::int;
SELECT key, action, from_branch FROM lamin.delete_many('app.task_all', ARRAY[3]::bigint[], permanent => true);
SELECT count(*) FILTER (WHERE updated_at IS NOT NULL) AS stamped FROM app.task_all WHERE id BETWEEN 2 AND 12;
-- mistakes: the call fails whole
SELECT * FROM lamin.delete_many('app.task_all', ARRAY[13, 500, 501]::bigint[]);
SELECT * FROM lamin.archive_many('app.task_all', ARRAY[13, 2]::bigint[]);
SELECT * FROM lamin.delete_many('app.task_all', ARRAY[13]::bigint[], locking => 'skip locked');
SELECT branch_id, count(*) FROM app.task_all WHERE id = 13 GROUP BY 1;
INSERT INTO app.task_all (id, title, branch_id) VALUES (1000, 'x', 7);

-- reads: the views show their branch with the planner hook on and off, the filter on every shard
SELECT 'main' AS view, count(*) FROM app.task UNION ALL SELECT 'archive', count(*) FROM app.task_archive
 UNION ALL SELECT 'trash', count(*) FROM app.task_trash;
SET lamin_branch.flatten_views = off;
SELECT 'main' AS view, count(*) FROM app.task UNION ALL SELECT 'archive', count(*) FROM app.task_archive
 UNION ALL SELECT 'trash', count(*) FROM app.task_trash;
RESET lamin_branch.flatten_views;
SELECT branch_id, count(*) FROM app.task_all GROUP BY 1 ORDER BY 1;
-- a co-located child: the join shows main parents only
CREATE TABLE app.step (task_id bigint, k int, PRIMARY KEY (task_id, k));
SELECT create_distributed_table('app.step', 'task_id', colocate_with => 'app.task_all');
INSERT INTO app.step SELECT g, 1 FROM generate_series(1, 20) g;
SELECT s.task_id FROM app.step s JOIN app.task t ON t.id = s.task_id WHERE s.task_id <= 13 ORDER BY 1;
SELECT s.task_id FROM app.step s JOIN app.task_trash t ON t.id = s.task_id ORDER BY 1;

-- other roles: Citus reads shards with the querying role's rights, and one permissive policy
-- confines every role but the owner to main, through the views and the table alike
SET ROLE app_reader;
SELECT count(*) AS main_view FROM app.task;
SELECT count(*) AS table_rows, min(branch_id), max(branch_id) FROM app.task_all;
SELECT count(*) AS trash_view FROM app.task_trash;
RESET ROLE;
GRANT SELECT ON app.task_trash TO app_reader;
SET ROLE app_reader;
SELECT count(*) AS trash_view_granted FROM app.task_trash;
RESET ROLE;
-- a role with DELETE on the main view trashes through the functions, and restores nothing
GRANT EXECUTE ON FUNCTION lamin.delete_many(regclass, anyarray, boolean, text), lamin.restore_many(regclass, anyarray, text) TO app_writer;
SET ROLE app_writer;
SELECT key, action FROM lamin.delete_many('app.task_all', ARRAY[20, 21]::bigint[]) ORDER BY key::int;
SELECT * FROM lamin.restore_many('app.task_all', ARRAY[20]::bigint[]);
UPDATE app.task_all SET branch_id = 1 WHERE id = 20;
DELETE FROM app.task_all WHERE id = 22;
RESET ROLE;
SELECT id, branch_id FROM app.task_all WHERE id BETWEEN 20 AND 22 ORDER BY id;

-- batched jobs: each batch a plain UPDATE (or DELETE) across the shards, committed
CALL lamin.trash_batched('app.task_all', 'id BETWEEN 50 AND 59', 4);
CALL lamin.restore_batched('app.task_all', 'id BETWEEN 50 AND 54', 4);
CALL lamin.purge_batched('app.task_all', 'id BETWEEN 55 AND 59', 3);
SELECT branch_id, count(*) FROM app.task_all WHERE id BETWEEN 50 AND 59 GROUP BY 1 ORDER BY 1;

-- a key of two columns (tenant, id), distributed by tenant
CREATE TABLE app.doc (tenant int, id int, body text, PRIMARY KEY (tenant, id));
SELECT create_distributed_table('app.doc', 'tenant');
INSERT INTO app.doc SELECT t, i, 'b' FROM generate_series(1, 3) t, generate_series(1, 5) i;
SELECT relation FROM lamin.enable('app.doc');
SELECT key, action FROM lamin.delete_many('app.doc_all', ARRAY[[1, 1], [2, 3], [3, 5]]) ORDER BY key;
SELECT key, action FROM lamin.restore_many('app.doc_all', ARRAY[[2, 3]]) ORDER BY key;
SELECT * FROM lamin.delete_many('app.doc_all', ARRAY[[9, 9]]);
SELECT tenant, id FROM app.doc_trash ORDER BY 1, 2;

-- a reference table
CREATE TABLE app.kind (id int PRIMARY KEY, name text);
SELECT create_reference_table('app.kind');
INSERT INTO app.kind VALUES (1, 'a'), (2, 'b'), (3, 'c');
SELECT relation FROM lamin.enable('app.kind');
SELECT key, action FROM lamin.delete_many('app.kind_all', ARRAY[2, 3]) ORDER BY key;
SELECT id FROM app.kind ORDER BY id;

-- distributing a table that is already enabled: disable (columns and branches stay), distribute,
-- enable again
CREATE TABLE app.late (id int PRIMARY KEY, v text);
INSERT INTO app.late SELECT g, 'v' FROM generate_series(1, 10) g;
SELECT relation FROM lamin.enable('app.late');
DELETE FROM app.late WHERE id <= 3;
SELECT create_distributed_table('app.late_all', 'id');
SELECT lamin.disable('app.late');
SELECT create_distributed_table('app.late', 'id');
SELECT relation FROM lamin.enable('app.late');
SELECT 'main' AS view, count(*) FROM app.late UNION ALL SELECT 'trash', count(*) FROM app.late_trash;

-- its own branch catalog, a reference table (LaminDB's lamindb_branch): user branches allowed
CREATE SCHEMA lamindb;
CREATE SCHEMA lamin_views;
CREATE TABLE lamindb.lamindb_branch (id int PRIMARY KEY, name text NOT NULL);
SELECT create_reference_table('lamindb.lamindb_branch');
INSERT INTO lamindb.lamindb_branch VALUES (-1, 'trash'), (0, 'archive'), (1, 'main'), (2, 'feature');
CREATE TABLE lamindb.lamindb_record (id int PRIMARY KEY, uid text, name text,
    branch_id int NOT NULL DEFAULT 1 REFERENCES lamindb.lamindb_branch (id),
    created_on_id int NOT NULL DEFAULT 1 REFERENCES lamindb.lamindb_branch (id));
SELECT create_distributed_table('lamindb.lamindb_record', 'id');
INSERT INTO lamindb.lamindb_record SELECT g, 'r' || g, 'n' FROM generate_series(1, 6) g;
SELECT relation, mode, branch_table FROM lamin.enable('lamindb.lamindb_record', views_schema => 'lamin_views');
SELECT key, to_branch FROM lamin.move_many('lamindb.lamindb_record', ARRAY[1, 2], 2) ORDER BY key;
SELECT * FROM lamin.move_many('lamindb.lamindb_record', ARRAY[3], 9);
INSERT INTO lamindb.lamindb_record (id, branch_id) VALUES (7, 9);
SELECT branch_id, count(*) FROM lamindb.lamindb_record GROUP BY 1 ORDER BY 1;
SELECT count(*) FROM lamin_views.lamindb_record;

-- what Citus mode refuses or does not keep, said when enabling
CREATE TABLE app.fam (id int PRIMARY KEY, uid text, is_latest boolean DEFAULT true);
SELECT create_distributed_table('app.fam', 'id');
SELECT relation FROM lamin.enable('app.fam');
-- its single-row moves lock the row's family on the coordinator (a lock function in the
-- statement would run on a worker, where the table's OID is another)
INSERT INTO app.fam_all (id, uid) VALUES (1, 'famAAAAAAAAAAAAA0000'), (2, 'famBBBBBBBBBBBBB0000');
SELECT key, action FROM lamin.delete('app.fam', 1);
SELECT key, action FROM lamin.restore('app.fam', 1);
SELECT key, action FROM lamin.archive('app.fam', 2);
SELECT id, branch_id FROM app.fam_all ORDER BY id;
CREATE TABLE app.sp (id int PRIMARY KEY);
SELECT create_distributed_table('app.sp', 'id');
SELECT relation FROM lamin.enable('app.sp', spaces => true);
ALTER TABLE app.sp ENABLE ROW LEVEL SECURITY;
SELECT relation FROM lamin.enable('app.sp');
-- DML through a view is Citus's to refuse; the table and the functions do it
DELETE FROM app.task WHERE id = 30;

-- a table enabled before Citus knew it, with the row trigger, then added to Citus's metadata as
-- a local table (which README advises against: Citus makes the table and its views again, and
-- lamin_branch's registry loses them): Citus plans it, and the planner hook leaves its views to
-- Postgres, which Citus sends to the shard with their WHERE clause
CREATE TABLE app.loc (id int PRIMARY KEY);
INSERT INTO app.loc SELECT g FROM generate_series(1, 10) g;
SELECT relation FROM lamin.enable('app.loc');
DELETE FROM app.loc WHERE id <= 2;
SELECT key FROM lamin.archive('app.loc_all', 3);
SELECT citus_add_local_table_to_metadata('app.loc_all');
SELECT 'main' AS view, count(*) FROM app.loc UNION ALL SELECT 'archive', count(*) FROM app.loc_archive
 UNION ALL SELECT 'trash', count(*) FROM app.loc_trash;
SELECT id FROM app.loc_trash ORDER BY id;
