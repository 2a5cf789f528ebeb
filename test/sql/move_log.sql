-- lamin.move_log: every move and every purge, on every path, one operation per call or statement.
\set SHOW_CONTEXT never
CREATE SCHEMA ml;
CREATE TABLE ml.note (id bigint PRIMARY KEY, body text NOT NULL);
INSERT INTO ml.note SELECT i, 'note ' || i FROM generate_series(1, 30) i;
CREATE ROLE regress_ml_app NOLOGIN;
CREATE ROLE regress_ml_auditor NOLOGIN;
SELECT relation FROM lamin.enable('ml.note');
GRANT USAGE ON SCHEMA ml TO regress_ml_app;
GRANT SELECT, DELETE ON ml.note, ml.note_trash TO regress_ml_app;
GRANT UPDATE ON ml.note TO regress_ml_app;
GRANT EXECUTE ON FUNCTION lamin.delete(regclass, anyelement, boolean),
                          lamin.delete_many(regclass, anyarray, boolean, text),
                          lamin.restore(regclass, anyelement) TO regress_ml_app;
GRANT SELECT ON lamin.move_log TO regress_ml_auditor;
-- what happened, with operations numbered in the order they began
CREATE VIEW ml.log AS
    SELECT dense_rank() OVER (ORDER BY operation) AS op, key, from_branch, to_branch, role,
           row_data IS NOT NULL AS has_row,
           txid = (SELECT min(txid) FROM lamin.move_log) AS first_xact
      FROM lamin.move_log WHERE relation = 'ml.note_all'::regclass;

-- the move functions: one operation per call, however many rows it moves
SELECT action FROM lamin.delete('ml.note', 1);
SELECT count(*) FROM lamin.delete_many('ml.note', ARRAY[2, 3, 4]);
SELECT action FROM lamin.restore('ml.note', 2);
SELECT action FROM lamin.archive('ml.note', 5);
SELECT count(*) FROM lamin.archive_many('ml.note', ARRAY[6, 7]);
SELECT action FROM lamin.move('ml.note', 7, 'main');
SELECT count(*) FROM lamin.restore_many('ml.note', ARRAY[3, 4]);
-- a call that moves nothing writes nothing
SELECT action FROM lamin.delete('ml.note', 1, permanent => false);
SELECT op, key, from_branch, to_branch, role, has_row FROM ml.log ORDER BY op, key::int;
TRUNCATE lamin.move_record;

-- by another role: the log names it, though the move runs as the table's owner
SET ROLE regress_ml_app;
SELECT action FROM lamin.delete('ml.note', 8);
DELETE FROM ml.note WHERE id IN (9, 10);
-- the log is not readable without a grant
SELECT count(*) FROM lamin.move_log;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT op, key, from_branch, to_branch, role FROM ml.log ORDER BY op, key::int;
TRUNCATE lamin.move_record;

-- DELETE through the main view: planned as one UPDATE, one operation
DELETE FROM ml.note WHERE id BETWEEN 11 AND 13;
-- ... and through the INSTEAD OF trigger, row by row, still one operation for the statement
SET lamin_branch.flatten_views = off;
DELETE FROM ml.note WHERE id BETWEEN 14 AND 16;
RESET lamin_branch.flatten_views;
-- an UPDATE of branch_id by the owner, on the table
UPDATE ml.note_all SET branch_id = 1 WHERE id IN (11, 14);
-- an UPDATE that moves nothing writes nothing
UPDATE ml.note_all SET body = body || '!' WHERE id = 12;
SELECT op, key, from_branch, to_branch, role FROM ml.log ORDER BY op, key::int;
TRUNCATE lamin.move_record;

-- purges keep the row; from the trash view, from delete(permanent), from the table
DELETE FROM ml.note_trash WHERE id = 12;
SELECT action FROM lamin.delete('ml.note', 13, permanent => true);
DELETE FROM ml.note_all WHERE id = 20;
SELECT op, key, from_branch, to_branch, row_data FROM lamin.move_log l
  JOIN (SELECT DISTINCT operation, dense_rank() OVER (ORDER BY operation) AS op FROM lamin.move_log) o USING (operation)
 ORDER BY op;
TRUNCATE lamin.move_record;

-- a statement that fails logs nothing; a failed call caught by a savepoint leaves no operation open
BEGIN;
SAVEPOINT s;
SELECT count(*) FROM lamin.delete_many('ml.note', ARRAY[17, 999]);
ROLLBACK TO SAVEPOINT s;
SELECT count(*) FROM lamin.delete_many('ml.note', ARRAY[17]);
SELECT count(*) FROM lamin.delete_many('ml.note', ARRAY[18]);
COMMIT;
SELECT op, key, from_branch, to_branch, first_xact FROM ml.log ORDER BY op, key::int;
TRUNCATE lamin.move_record;

-- batched jobs: each batch is a call
CALL lamin.trash_batched('ml.note', 'id BETWEEN 21 AND 25', 2);
SELECT op, key, from_branch, to_branch FROM ml.log ORDER BY op, key::int;
TRUNCATE lamin.move_record;

-- a partitioned table logs row by row (a statement trigger on its root does not fire for a
-- statement that names a partition), still under one operation per call, as the root table
CREATE TABLE ml.part (id int PRIMARY KEY, k text) PARTITION BY RANGE (id);
CREATE TABLE ml.part_low PARTITION OF ml.part FOR VALUES FROM (0) TO (10);
CREATE TABLE ml.part_high PARTITION OF ml.part FOR VALUES FROM (10) TO (100);
INSERT INTO ml.part VALUES (1, 'a'), (11, 'b'), (12, 'c');
SELECT relation FROM lamin.enable('ml.part');
SELECT count(*) FROM lamin.delete_many('ml.part', ARRAY[1, 11, 12]);
DELETE FROM ml.part_trash WHERE id = 12;
UPDATE ml.part_low SET branch_id = 1 WHERE id = 1;
SELECT relation, key, from_branch, to_branch, row_data, count(*) OVER (PARTITION BY operation) AS in_operation
  FROM lamin.move_log ORDER BY id;
SELECT lamin.disable('ml.part');
TRUNCATE lamin.move_record;

-- a statement that moves many rows writes a record per 1000 keys, and the view shows every row
CREATE TABLE ml.bulk (id int PRIMARY KEY);
INSERT INTO ml.bulk SELECT generate_series(1, 2500);
SELECT relation FROM lamin.enable('ml.bulk');
DELETE FROM ml.bulk WHERE id <= 2500;
SELECT key_count, keys[1] AS first_key, keys[key_count] AS last_key, cardinality(keys) AS keys, to_branch,
       operation = min(operation) OVER () AS one_operation
  FROM lamin.move_record WHERE relation = 'ml.bulk_all'::regclass ORDER BY id;
-- the full records' key arrays are compressed, with lz4 where the server has it
SELECT key_count, pg_column_compression(keys) = CASE WHEN 'lz4' = ANY (s.enumvals) THEN 'lz4' ELSE 'pglz' END AS lz4_where_built
  FROM lamin.move_record, pg_settings s
 WHERE relation = 'ml.bulk_all'::regclass AND key_count = 1000 AND s.name = 'default_toast_compression' ORDER BY id;
-- autovacuum merges the keys' GIN pending list after every 100 records, however large the log
SELECT reloptions FROM pg_class WHERE oid = 'lamin.move_record'::regclass;
SELECT count(*), count(DISTINCT key), min(key::int), max(key::int)
  FROM lamin.move_log WHERE relation = 'ml.bulk_all'::regclass;
SELECT count(*), min(operation_rows), max(operation_rows) FROM lamin.trash WHERE relation = 'ml.bulk_all'::regclass;
-- a key of the last record, and one of the first, come back; the trash shows the rest
SELECT action FROM lamin.restore('ml.bulk', 2400);
SELECT count(*) FROM lamin.restore_many('ml.bulk', ARRAY[1, 1000, 1001]);
SELECT key, to_branch FROM lamin._moves_of('ml.bulk', ARRAY['1', '1000', '1001', '2400', '2500'], true) ORDER BY key::int;
-- an operation's id is the id of its first record: one draw from the log's sequence serves both
SELECT count(DISTINCT operation) AS operations, count(*) AS records, bool_and(operation = first_id) AS operation_is_first_record
  FROM (SELECT operation, min(id) OVER (PARTITION BY operation) AS first_id FROM lamin.move_record
         WHERE relation = 'ml.bulk_all'::regclass) r;
SELECT count(*) FROM lamin.trash WHERE relation = 'ml.bulk_all'::regclass;
SELECT lamin.disable('ml.bulk');
-- rows already in the trash when the log begins: a record per 1000 of them too
CREATE TABLE ml.seeded (id int PRIMARY KEY, branch_id integer NOT NULL DEFAULT 1);
INSERT INTO ml.seeded SELECT i, CASE WHEN i <= 1500 THEN -1 ELSE 1 END FROM generate_series(1, 1600) i;
SELECT relation FROM lamin.enable('ml.seeded');
SELECT key_count, keys[1] AS first_key, keys[key_count] AS last_key, from_branch, to_branch, operation
  FROM lamin.move_record WHERE relation = 'ml.seeded_all'::regclass ORDER BY id;
SELECT count(*) FROM lamin.trash WHERE relation = 'ml.seeded_all'::regclass;
SELECT lamin.disable('ml.seeded');
TRUNCATE lamin.move_record;

-- the log's partial indexes: each session prepares their predicates once; an index made while
-- it runs is used at once, one whose predicate calls a user's function is left to Postgres, and
-- each index holds exactly the records its predicate admits
CREATE TABLE ml.pred (id int PRIMARY KEY);
INSERT INTO ml.pred SELECT generate_series(1, 6);
SELECT relation FROM lamin.enable('ml.pred');
SELECT count(*) FROM lamin.delete_many('ml.pred', ARRAY[1, 2]);
CREATE FUNCTION ml.to_main(integer) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS 'BEGIN RETURN $1 = 1; END';
CREATE INDEX move_record_purge_idx ON lamin.move_record (relation) WHERE to_branch IS NULL;
CREATE INDEX move_record_to_main_idx ON lamin.move_record (key_count) WHERE ml.to_main(to_branch);
SELECT count(*) FROM lamin.restore_many('ml.pred', ARRAY[1]);
DELETE FROM ml.pred WHERE id IN (3, 4);
SELECT action FROM lamin.delete('ml.pred', 3, permanent => true);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
-- (ONLY: the inbox, lamin.move_inbox, has no index and inherits from the log)
EXPLAIN (COSTS OFF) SELECT id FROM ONLY lamin.move_record WHERE relation > 0 AND to_branch IS NULL;
EXPLAIN (COSTS OFF) SELECT id FROM ONLY lamin.move_record WHERE key_count > 0 AND ml.to_main(to_branch);
EXPLAIN (COSTS OFF) SELECT id FROM ONLY lamin.move_record WHERE operation > 0 AND to_branch <= 0;
SELECT (SELECT array_agg(coalesce(to_branch::text, 'purged') ORDER BY id) FROM ONLY lamin.move_record WHERE relation > 0 AND to_branch IS NULL) AS purges,
       (SELECT array_agg(to_branch ORDER BY id) FROM ONLY lamin.move_record WHERE key_count > 0 AND ml.to_main(to_branch)) AS to_main,
       (SELECT array_agg(to_branch ORDER BY id) FROM ONLY lamin.move_record WHERE operation > 0 AND to_branch <= 0) AS away;
RESET enable_seqscan;
RESET enable_bitmapscan;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SELECT (SELECT array_agg(coalesce(to_branch::text, 'purged') ORDER BY id) FROM lamin.move_record WHERE relation > 0 AND to_branch IS NULL) AS purges,
       (SELECT array_agg(to_branch ORDER BY id) FROM lamin.move_record WHERE key_count > 0 AND ml.to_main(to_branch)) AS to_main,
       (SELECT array_agg(to_branch ORDER BY id) FROM lamin.move_record WHERE operation > 0 AND to_branch <= 0) AS away;
RESET enable_indexscan;
RESET enable_bitmapscan;
-- an index dropped in the middle of a transaction: the moves after it go on
BEGIN;
SELECT action FROM lamin.delete('ml.pred', 5);
DROP INDEX lamin.move_record_purge_idx, lamin.move_record_to_main_idx;
SELECT action FROM lamin.restore('ml.pred', 5);
COMMIT;
SELECT action FROM lamin.delete('ml.pred', 6);
SELECT key, from_branch, to_branch FROM lamin.move_log WHERE relation = 'ml.pred_all'::regclass ORDER BY id, key;
SELECT lamin.disable('ml.pred');
TRUNCATE lamin.move_record;

-- the auditor reads it
SET ROLE regress_ml_auditor;
SELECT count(*) >= 0 AS readable FROM lamin.move_log;
RESET ROLE;

-- pg_dump keeps the log and its sequence
SELECT unnest(extconfig)::regclass AS kept FROM pg_extension WHERE extname = 'lamin_branch'
 ORDER BY 1::text COLLATE "C";
-- the table's move-log triggers
SELECT tgname, tgtype, tgnargs FROM pg_trigger WHERE tgrelid = 'ml.note_all'::regclass AND tgname LIKE 'lamin_move%' ORDER BY 1;

DROP VIEW ml.log;
SELECT lamin.disable('ml.note');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'ml.note'::regclass AND NOT tgisinternal;
DROP SCHEMA ml CASCADE;
REVOKE ALL ON lamin.move_log FROM regress_ml_auditor;
REVOKE ALL ON FUNCTION lamin.delete(regclass, anyelement, boolean),
                       lamin.delete_many(regclass, anyarray, boolean, text),
                       lamin.restore(regclass, anyelement) FROM regress_ml_app;
DROP ROLE regress_ml_app;
DROP ROLE regress_ml_auditor;
TRUNCATE lamin.move_record;
