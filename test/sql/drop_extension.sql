-- DROP EXTENSION: refused while tables are enabled; after lamin.disable() it leaves every row of
-- every branch in place, and the tables can be enabled again with the rows on their branches.
\set SHOW_CONTEXT never
CREATE TABLE keep (id int PRIMARY KEY, body text);
INSERT INTO keep SELECT i, 'row ' || i FROM generate_series(1, 6) i;
SELECT relation FROM lamin.enable('keep');
DELETE FROM keep WHERE id IN (1, 2);
SELECT relation FROM lamin.archive_many('keep', ARRAY[3]);
SELECT id, branch_id FROM keep_all ORDER BY id;
\set VERBOSITY terse
DROP EXTENSION lamin_branch;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT lamin.disable(relation) FROM lamin.enabled_table WHERE mode <> 'extension';
DROP EXTENSION lamin_branch;
-- what remains: the table under its own name, every row, branch_id as a plain integer
SELECT id, body, branch_id FROM keep ORDER BY id;
SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'keep'::regclass AND attname = 'branch_id';
SELECT count(*) AS lamin_objects_left FROM pg_class WHERE relnamespace = 'lamin'::regnamespace;
-- enabled again: the rows keep their branches, the trash is hidden again
CREATE EXTENSION lamin_branch;
SELECT relation FROM lamin.enable('keep');
SELECT id, body FROM keep ORDER BY id;
SELECT id FROM keep_trash ORDER BY id;
-- moves are logged into the log the extension made again (this session wrote to the old one)
DELETE FROM keep WHERE id = 4;
SELECT key, from_branch, to_branch FROM lamin.move_log ORDER BY key;
SELECT lamin.disable('keep', drop_columns => true);
DROP TABLE keep;
