-- One trash for every table: lamin.trash and lamin.trash_summary, each role seeing the tables
-- whose trash view it may read.
\set SHOW_CONTEXT never
CREATE SCHEMA tr;
CREATE TABLE tr.sample (id int PRIMARY KEY, name text);
CREATE TABLE tr.pair (a int, b text, note text, PRIMARY KEY (a, b));
INSERT INTO tr.sample SELECT i, 's' || i FROM generate_series(1, 6) i;
INSERT INTO tr.pair VALUES (1, 'x', 'one'), (2, 'y', 'two');
CREATE ROLE regress_tr_sample NOLOGIN;
CREATE ROLE regress_tr_none NOLOGIN;
SELECT relation FROM lamin.enable('tr.sample');
-- a row put in the trash before the table was enabled... (branch_id by hand, as an import would)
ALTER TABLE tr.pair ADD COLUMN branch_id integer NOT NULL DEFAULT 1;
UPDATE tr.pair SET branch_id = -1 WHERE a = 2;
SELECT relation FROM lamin.enable('tr.pair');
GRANT USAGE ON SCHEMA tr TO regress_tr_sample, regress_tr_none;
GRANT SELECT ON tr.sample_trash TO regress_tr_sample;
GRANT SELECT ON tr.sample TO regress_tr_none;

SELECT count(*) FROM lamin.delete_many('tr.sample', ARRAY[1, 2, 3]);
SELECT action FROM lamin.delete('tr.sample', 4);
SELECT count(*) FROM lamin.delete_many('tr.pair', ARRAY[['1', 'x']]);
-- restored rows leave the trash; purged rows too
SELECT action FROM lamin.restore('tr.sample', 3);
SELECT action FROM lamin.delete('tr.sample', 4, permanent => true);

-- ... is in the trash from when the log began, with no role and no operation
SELECT relation, key, trashed_by, operation IS NULL AS no_operation, operation_rows
  FROM lamin.trash ORDER BY relation::text, key;
SELECT dense_rank() OVER (ORDER BY operation) AS op, relation, key, trashed_by, operation_rows
  FROM lamin.trash WHERE operation IS NOT NULL ORDER BY op, key;
SELECT "table", rows, oldest IS NOT NULL AS has_oldest, bytes > 0 AS has_bytes
  FROM lamin.trash_summary ORDER BY "table"::text;

-- a role sees the trash of the tables whose trash view it may read, and nothing else
SET ROLE regress_tr_sample;
SELECT relation, key, trashed_by FROM lamin.trash ORDER BY relation::text, key;
SELECT "table", rows FROM lamin.trash_summary ORDER BY "table"::text;
SET ROLE regress_tr_none;
SELECT count(*) FROM lamin.trash;
SELECT count(*) FROM lamin.trash_summary;
-- the main view does not open the trash, nor the log
SELECT count(*) FROM lamin.move_log;
RESET ROLE;

-- the look-up by key that retention and cascade purges use (lamin._moves_of) answers the same
-- roles: every record of the keys in order, or the latest of each; nothing for another role
SET ROLE regress_tr_sample;
SELECT key, from_branch, to_branch FROM lamin._moves_of('tr.sample', ARRAY['1', '3', '4', '99'], false) ORDER BY key, id;
SELECT key, from_branch, to_branch FROM lamin._moves_of('tr.sample', ARRAY['3', '4'], true) ORDER BY key;
SELECT count(*) FROM lamin._moves_of('tr.pair', ARRAY['(1,x)'], false);
SET ROLE regress_tr_none;
SELECT count(*) FROM lamin._moves_of('tr.sample', ARRAY['1', '3'], false);
RESET ROLE;
-- the owner, and a table that is not enabled
SELECT key, to_branch FROM lamin._moves_of('tr.pair', ARRAY['(1,x)', '(2,y)'], true) ORDER BY key;
SELECT count(*) FROM lamin._moves_of('pg_class', ARRAY['1'], false);

SELECT lamin.disable('tr.sample');
SELECT lamin.disable('tr.pair');
-- a disabled table leaves the trash (its log stays)
SELECT count(*) FROM lamin.trash WHERE relation::text LIKE 'tr.%';
DROP SCHEMA tr CASCADE;
DROP ROLE regress_tr_sample;
DROP ROLE regress_tr_none;
TRUNCATE lamin.move_record;
