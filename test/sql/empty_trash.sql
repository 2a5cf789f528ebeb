-- Retention: lamin.empty_trash purges what was trashed longer ago than older_than, by the move
-- record, in batches; dry_run is the default.
\set SHOW_CONTEXT never
TRUNCATE lamin.move_record;
CREATE SCHEMA et;
CREATE TABLE et.item (id int PRIMARY KEY, name text);
CREATE TABLE et.other (id int PRIMARY KEY);
INSERT INTO et.item SELECT i, 'i' || i FROM generate_series(1, 10) i;
INSERT INTO et.other SELECT generate_series(1, 3);
SELECT relation FROM lamin.enable('et.item');
SELECT relation FROM lamin.enable('et.other');
-- rows 1 to 5 and other 1 were trashed three days ago; 6 and other 2 just now
SELECT count(*) FROM lamin.delete_many('et.item', ARRAY[1, 2, 3, 4, 5]);
SELECT count(*) FROM lamin.delete_many('et.other', ARRAY[1]);
UPDATE lamin.move_record SET at = at - interval '3 days';
SELECT count(*) FROM lamin.delete_many('et.item', ARRAY[6]);
SELECT count(*) FROM lamin.delete_many('et.other', ARRAY[2]);
-- row 5 came back and was trashed again just now: it is one of the recent ones
SELECT action FROM lamin.restore('et.item', 5);
SELECT action FROM lamin.delete('et.item', 5);

-- a dry run (the default) counts and removes nothing
CALL lamin.empty_trash('1 day');
SELECT count(*) FROM et.item_trash;
-- one table, for real, in batches of two
CALL lamin.empty_trash('1 day', 'et.item', dry_run => false, batch_size => 2);
SELECT id FROM et.item_trash ORDER BY id;
SELECT id FROM et.other_trash ORDER BY id;
-- the purges are in the log, with the rows
SELECT key, from_branch, to_branch, row_data FROM lamin.move_log
 WHERE relation = 'et.item_all'::regclass AND to_branch IS NULL ORDER BY key;
-- every table; nothing is old enough a second time
CALL lamin.empty_trash('1 day', dry_run => false);
CALL lamin.empty_trash('1 day', dry_run => false);
SELECT id FROM et.other_trash ORDER BY id;
-- older_than zero: everything in the trash now
CALL lamin.empty_trash('0', 'et.item', false);
SELECT count(*) FROM et.item_trash;

-- a row that trashed rows reference, trashed after the cutoff, stays, and so does its row
CREATE TABLE et.parent (id int PRIMARY KEY);
CREATE TABLE et.child (id int PRIMARY KEY, parent_id int REFERENCES et.parent ON DELETE CASCADE);
INSERT INTO et.parent VALUES (1), (2);
INSERT INTO et.child VALUES (1, 1), (2, 2);
SELECT relation FROM lamin.enable('et.parent', cascade => true);
SELECT relation FROM lamin.enable('et.child');
SELECT count(*) FROM lamin.delete_many('et.parent', ARRAY[1, 2]);
UPDATE lamin.move_record SET at = at - interval '3 days'
 WHERE operation = (SELECT max(operation) FROM lamin.move_record WHERE relation = 'et.parent_all'::regclass);
-- child 2 came back and went to the trash again just now
SELECT action FROM lamin.restore('et.child', 2);
SELECT action FROM lamin.delete('et.child', 2);
CALL lamin.empty_trash('1 day', 'et.parent');
CALL lamin.empty_trash('1 day', 'et.parent', dry_run => false);
SELECT 'parent' AS tbl, id, branch_id FROM et.parent_all UNION ALL SELECT 'child', id, branch_id FROM et.child_all ORDER BY 1, 2;
SELECT regexp_replace(relation::text, '^et\.(.*)_all$', '\1') AS tbl, key, row_data IS NOT NULL AS has_row
  FROM lamin.move_log WHERE to_branch IS NULL AND relation IN ('et.parent_all'::regclass, 'et.child_all'::regclass)
 ORDER BY 1 DESC, 2;
SELECT lamin.disable('et.child');
SELECT lamin.disable('et.parent');

-- mistakes
CALL lamin.empty_trash('-1 day');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CALL lamin.empty_trash(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CALL lamin.empty_trash('1 day', 'pg_class');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CALL lamin.empty_trash('1 day', batch_size => 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a role that may not purge a table's trash: passed over, or refused when it names the table
CREATE ROLE regress_et_reader NOLOGIN;
GRANT USAGE ON SCHEMA et TO regress_et_reader;
GRANT SELECT ON et.other_trash TO regress_et_reader;
SET ROLE regress_et_reader;
CALL lamin.empty_trash('0', dry_run => false);
CALL lamin.empty_trash('0', 'et.other', dry_run => false);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT id FROM et.other_trash ORDER BY id;

SELECT lamin.disable('et.item');
SELECT lamin.disable('et.other');
DROP SCHEMA et CASCADE;
DROP ROLE regress_et_reader;
TRUNCATE lamin.move_record;
