-- The planner hook reads a view as its table only where Postgres plans that table. Citus plans
-- its distributed, reference and local tables itself and does not carry security quals to the
-- shards, so a view of a table listed in Citus's catalog (pg_catalog.pg_dist_partition) is left
-- to Postgres's view planning. This test stands in for Citus with a catalog of the same name
-- and shape; test/citus/run.sh checks the rows on a real cluster.
CREATE SCHEMA pe;
CREATE TABLE pe.task (id int PRIMARY KEY, title text);
INSERT INTO pe.task SELECT g, 't' || g FROM generate_series(1, 6) g;
CREATE TABLE pe.note (id int PRIMARY KEY, title text);
INSERT INTO pe.note SELECT g, 'n' || g FROM generate_series(1, 6) g;
SELECT count(*) FROM lamin.enable('pe.task');
SELECT count(*) FROM lamin.enable('pe.note');
DELETE FROM pe.task WHERE id = 2;
DELETE FROM pe.note WHERE id = 2;
SET enable_seqscan = off;

-- no Citus catalog: both trash views are read as their tables
EXPLAIN (COSTS OFF) SELECT title FROM pe.task_trash WHERE id = 2;
EXPLAIN (COSTS OFF) SELECT title FROM pe.note_trash WHERE id = 2;

-- Citus's catalog, as its install script makes it, naming pe.task
CREATE SCHEMA fake_citus;
CREATE TABLE fake_citus.pg_dist_partition (
    logicalrelid regclass NOT NULL,
    partmethod "char" NOT NULL,
    partkey text,
    colocationid integer DEFAULT 0 NOT NULL,
    repmodel "char" DEFAULT 'c' NOT NULL);
CREATE UNIQUE INDEX pg_dist_partition_logical_relid_index ON fake_citus.pg_dist_partition (logicalrelid);
ALTER TABLE fake_citus.pg_dist_partition SET SCHEMA pg_catalog;
INSERT INTO pg_catalog.pg_dist_partition (logicalrelid, partmethod) VALUES ('pe.task_all', 'h');

-- pe.task is left to Postgres (a subquery scan of the security-barrier view); pe.note is not
EXPLAIN (COSTS OFF) SELECT title FROM pe.task_trash WHERE id = 2;
EXPLAIN (COSTS OFF) SELECT title FROM pe.note_trash WHERE id = 2;
-- the main view too: a subquery with the view's WHERE clause, which Citus sends to each shard
EXPLAIN (COSTS OFF) SELECT title FROM pe.task WHERE id > 0;
SELECT id, title FROM pe.task ORDER BY id;
SELECT id, title FROM pe.task_trash ORDER BY id;
-- a view DELETE is the view's INSTEAD OF trigger again, not the one UPDATE
EXPLAIN (COSTS OFF) DELETE FROM pe.task WHERE id = 3;
EXPLAIN (COSTS OFF) DELETE FROM pe.note WHERE id = 3;
DELETE FROM pe.task WHERE id = 3;
SELECT id, branch_id FROM pe.task_all ORDER BY id;
-- joins mixing both tables: each view as its planner wants it, same rows as with the hook off
SELECT t.id, n.title FROM pe.task t JOIN pe.note n USING (id) ORDER BY 1;
SET lamin_branch.flatten_views = off;
SELECT t.id, n.title FROM pe.task t JOIN pe.note n USING (id) ORDER BY 1;
RESET lamin_branch.flatten_views;

-- a catalog of that name but not that shape proves nothing: no view is changed
DELETE FROM pg_catalog.pg_dist_partition;
EXPLAIN (COSTS OFF) SELECT title FROM pe.task_trash WHERE id = 2;
ALTER TABLE pg_catalog.pg_dist_partition SET SCHEMA fake_citus;
DROP TABLE fake_citus.pg_dist_partition;
CREATE TABLE fake_citus.pg_dist_partition (logicalrelid oid);
ALTER TABLE fake_citus.pg_dist_partition SET SCHEMA pg_catalog;
EXPLAIN (COSTS OFF) SELECT title FROM pe.note_trash WHERE id = 2;
ALTER TABLE pg_catalog.pg_dist_partition SET SCHEMA fake_citus;
DROP SCHEMA fake_citus CASCADE;

-- the catalog gone: flattened again
EXPLAIN (COSTS OFF) SELECT title FROM pe.task_trash WHERE id = 2;
RESET enable_seqscan;
SELECT lamin.disable('pe.task');
SELECT lamin.disable('pe.note');
DROP SCHEMA pe CASCADE;
