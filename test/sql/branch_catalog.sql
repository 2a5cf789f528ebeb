-- The branch catalog and the tables that refer to it: a branch column of lamin.branch is checked
-- by the row trigger (no foreign key), and lamin.branch keeps every branch a row is on or was
-- created on.
\set SHOW_CONTEXT never
CREATE TABLE note (id int PRIMARY KEY, body text);
SELECT relation FROM lamin.enable('note');
-- no foreign key to lamin.branch: the trigger checks
SELECT count(*) FROM pg_constraint WHERE conrelid = 'note_all'::regclass AND confrelid = 'lamin.branch'::regclass;
INSERT INTO note VALUES (1, 'one'), (2, 'two'), (3, 'three');
-- a branch that does not exist, in either column, on insert and on update
INSERT INTO note_all (id, body, branch_id) VALUES (4, 'four', 7);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO note_all (id, body, created_on_id) VALUES (4, 'four', 7);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE note_all SET branch_id = 7 WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT key FROM lamin.move_many('note', ARRAY[1], 7);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a user branch: rows go there and come back
INSERT INTO lamin.branch (name) VALUES ('feature') RETURNING id AS feature \gset
SELECT key, action, to_branch = :feature AS to_feature FROM lamin.move_many('note', ARRAY[1, 2], :feature);
INSERT INTO note_all (id, body, created_on_id) VALUES (5, 'five', :feature);
-- the catalog keeps a branch in use, naming the table and the rows
DELETE FROM lamin.branch WHERE id = :feature;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE lamin.branch SET id = :feature + 100 WHERE id = :feature;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- and never loses main, archive or trash
DELETE FROM lamin.branch WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM lamin.branch WHERE id = -1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- renaming is fine
UPDATE lamin.branch SET description = 'work in progress' WHERE id = :feature;
-- once no row is on it or was created on it, it can go
SELECT key, action FROM lamin.move_many('note', ARRAY[1, 2], 1);
DELETE FROM note_all WHERE id = 5;
DELETE FROM lamin.branch WHERE id = :feature;
SELECT id, name FROM lamin.branch ORDER BY id;
SELECT id, body, branch_id, created_on_id FROM note_all ORDER BY id;
SELECT lamin.disable('note');
DROP TABLE note;

-- lamin.artifact_all keeps the foreign key of created_on_id, so that pg_dump restores lamin.branch
-- before it, but the row trigger checks the column: the key's two check triggers on the table
-- are disabled (a query per inserted row otherwise), its triggers on lamin.branch are not
SELECT conname FROM pg_constraint WHERE conrelid = 'lamin.artifact_all'::regclass AND confrelid = 'lamin.branch'::regclass;
SELECT t.tgrelid::regclass, t.tgfoid::regproc, t.tgenabled
  FROM pg_trigger t JOIN pg_constraint k ON k.oid = t.tgconstraint
 WHERE k.conname = 'artifact_all_created_on_id_fkey' ORDER BY 1, 2;
INSERT INTO lamin.artifact_all (uid, key, created_on_id) VALUES ('bcatAAAAAAAAAAAA0000', 'bcat', 7);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO lamin.artifact_all (uid, key) VALUES ('bcatAAAAAAAAAAAA0000', 'bcat');
UPDATE lamin.artifact_all SET created_on_id = 7 WHERE uid = 'bcatAAAAAAAAAAAA0000';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- created on a user branch: the catalog keeps that branch, naming the table
INSERT INTO lamin.branch (name) VALUES ('made-here') RETURNING id AS made \gset
UPDATE lamin.artifact_all SET created_on_id = :made WHERE uid = 'bcatAAAAAAAAAAAA0000';
DELETE FROM lamin.branch WHERE id = :made;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a merge leaves created_on_id as it was, and a row may name a merged branch there (as a restored
-- dump does), never in branch_id, on the artifact table and on an enabled one alike
SELECT relation, rows_moved FROM lamin.merge('made-here') ORDER BY 1;
INSERT INTO lamin.artifact_all (uid, key, created_on_id) VALUES ('bcatBBBBBBBBBBBB0000', 'bcat2', :made);
CREATE TABLE note2 (id int PRIMARY KEY);
SELECT relation FROM lamin.enable('note2');
INSERT INTO note2_all (id, created_on_id) VALUES (1, :made);
INSERT INTO note2_all (id, branch_id) VALUES (2, :made);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT uid, branch_id, created_on_id = :made AS made_there FROM lamin.artifact_all WHERE key LIKE 'bcat%' ORDER BY uid;
-- with the key's triggers on again, the key checks the column and the row trigger leaves it
BEGIN;
ALTER TABLE lamin.artifact_all ENABLE TRIGGER ALL;
INSERT INTO lamin.artifact_all (uid, key, created_on_id) VALUES ('bcatCCCCCCCCCCCC0000', 'bcat3', 7);
ROLLBACK;
SELECT lamin.disable('note2');
DROP TABLE note2;
DELETE FROM lamin.artifact_all WHERE key LIKE 'bcat%';
DELETE FROM lamin.artifact_all WHERE key LIKE 'bcat%';
DELETE FROM lamin.branch WHERE id = :made;
SELECT setval('lamin.branch_id_seq', :made - 1);
