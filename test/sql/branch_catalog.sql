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
INSERT INTO lamin.branch (name) VALUES ('feature') RETURNING id;
SELECT key, action, to_branch FROM lamin.move_many('note', ARRAY[1, 2], 2);
INSERT INTO note_all (id, body, created_on_id) VALUES (5, 'five', 2);
-- the catalog keeps a branch in use, naming the table and the rows
DELETE FROM lamin.branch WHERE id = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE lamin.branch SET id = 20 WHERE id = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- and never loses main, archive or trash
DELETE FROM lamin.branch WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM lamin.branch WHERE id = -1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- renaming is fine
UPDATE lamin.branch SET description = 'work in progress' WHERE id = 2;
-- once no row is on it or was created on it, it can go
SELECT key, action FROM lamin.move_many('note', ARRAY[1, 2], 1);
DELETE FROM note_all WHERE id = 5;
DELETE FROM lamin.branch WHERE id = 2;
SELECT id, name FROM lamin.branch ORDER BY id;
SELECT id, body, branch_id, created_on_id FROM note_all ORDER BY id;
SELECT lamin.disable('note');
DROP TABLE note;
