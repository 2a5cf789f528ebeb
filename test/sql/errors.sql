-- Every mistake is a clear error with a specific SQLSTATE, and the transaction fails whole.
\set SHOW_CONTEXT never
INSERT INTO lamin.artifact_all (id, uid, key, branch_id) OVERRIDING SYSTEM VALUE VALUES
    (1, 'errAAAAAAAAAAAAA0000', 'one', 1),
    (2, 'errBBBBBBBBBBBBB0000', 'two', 1);
-- NULL and missing ids
SELECT lamin.artifact_delete(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.artifact_restore(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.artifact_archive(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.artifact_delete(42);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.artifact_restore(42);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- an unknown branch
SELECT lamin.find_branch('no-such-branch');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO lamin.artifact (key, branch_id) VALUES ('x', 99);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE lamin.artifact_all SET branch_id = -2 WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a locked artifact refuses change on every path
UPDATE lamin.artifact SET is_locked = true WHERE id = 1;
SELECT lamin.artifact_delete(1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.artifact_archive(1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.artifact_delete(1, permanent => true);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM lamin.artifact WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE lamin.artifact SET description = 'changed' WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE lamin.artifact SET description = 'changed', is_locked = false WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM lamin.artifact_all WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- restoring a locked row that is already on main changes nothing, so it is fine
SELECT action FROM lamin.artifact_restore(1);
-- unlocking is the one change allowed
UPDATE lamin.artifact SET is_locked = false WHERE id = 1;
SELECT action FROM lamin.artifact_delete(1);
-- the transaction fails whole: nothing is half-moved
BEGIN;
SELECT action FROM lamin.artifact_delete(2);
SELECT lamin.artifact_delete(42);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
COMMIT;
SELECT id, branch_id FROM lamin.artifact_all ORDER BY id;
-- the trash asks for permanent => true
SELECT lamin.artifact_delete(1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- the triggers refuse to be misused
SELECT lamin.branch_row_trigger();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE TABLE wrong (id int PRIMARY KEY, branch_id int);
CREATE TRIGGER t AFTER INSERT ON wrong FOR EACH ROW EXECUTE FUNCTION lamin.branch_row_trigger();
INSERT INTO wrong VALUES (1, 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TABLE wrong;
CREATE TABLE nokey (id int, branch_id int);
CREATE TRIGGER t BEFORE INSERT ON nokey FOR EACH ROW EXECUTE FUNCTION lamin.branch_row_trigger();
INSERT INTO nokey VALUES (1, 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TABLE nokey;
CREATE TABLE nobranch (id int PRIMARY KEY);
CREATE TRIGGER t BEFORE INSERT ON nobranch FOR EACH ROW EXECUTE FUNCTION lamin.branch_row_trigger();
INSERT INTO nobranch VALUES (1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TABLE nobranch;
TRUNCATE lamin.artifact_all;
