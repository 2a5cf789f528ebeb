-- lamin.merge(source, target) and lamin.merge_preview(): every enabled table in one
-- transaction, rows moved with created_on_id untouched, heads made right on the target, the
-- source marked merged; one row per table. Refusals: merged or closed sources, main, archive
-- and trash; a collision on a unique key fails the whole merge with the key named. Who may
-- merge is a GRANT.
\set SHOW_CONTEXT never
SELECT setval('lamin.branch_id_seq', 300, false) IS NOT NULL AS ids_from_300;
-- titles are unique per branch, as in an application that keeps one draft per title
CREATE TABLE mg_doc (id int PRIMARY KEY, title text, branch_id integer NOT NULL DEFAULT 1,
                     CONSTRAINT mg_doc_title_key UNIQUE (title, branch_id));
SELECT relation FROM lamin.enable('mg_doc');
CREATE TABLE mg_log (id int PRIMARY KEY, line text);
SELECT relation FROM lamin.enable('mg_log');
SELECT lamin.create_branch('work') AS work \gset
INSERT INTO mg_doc VALUES (1, 'main doc');
INSERT INTO lamin.artifact_all (id, uid, key, created_at) VALUES
    (1, 'mrgAAAAAAAAAAAAA0000', 'm.txt', '2024-01-01'),
    (2, 'mrgAAAAAAAAAAAAA0001', 'm.txt', '2024-01-02');
-- work on the branch: new records and a new version of a main record
SELECT lamin.switch('work');
INSERT INTO mg_doc VALUES (2, 'draft doc'), (3, 'second draft');
INSERT INTO mg_log VALUES (1, 'a line');
INSERT INTO lamin.artifact (id, uid, key, created_at) VALUES
    (3, 'mrgAAAAAAAAAAAAA0002', 'm.txt', '2024-01-03'),
    (4, 'othAAAAAAAAAAAAA0000', 'o.txt', '2024-01-03');
-- a row of the branch in the trash stays in the trash
DELETE FROM mg_doc WHERE id = 3;
SELECT lamin.switch('main');
SELECT id, branch_id, is_latest FROM lamin.artifact_all ORDER BY id;

-- the preview changes nothing
SELECT * FROM lamin.merge_preview('work', 'main') ORDER BY relation::text;
SELECT count(*) AS on_work FROM (SELECT branch_id FROM mg_doc_all UNION ALL SELECT branch_id FROM mg_log_all
                                  UNION ALL SELECT branch_id FROM lamin.artifact_all) x WHERE branch_id = :work;
-- the merge: target main by default (the current branch is main)
SELECT * FROM lamin.merge('work') ORDER BY relation::text;
SELECT 'doc' AS t, id, branch_id, created_on_id = :work AS made_on_work FROM mg_doc_all
UNION ALL SELECT 'log', id, branch_id, created_on_id = :work FROM mg_log_all
UNION ALL SELECT 'artifact', id, branch_id, created_on_id = :work FROM lamin.artifact_all ORDER BY 1, 2;
-- one head per family on main: the newest, made on the branch
SELECT id, branch_id, is_latest FROM lamin.artifact_all ORDER BY id;
SELECT name, lamin.branch_status(_status_code) FROM lamin.branch WHERE id = :work;
-- a merged branch: not merged again, takes no more rows, stays merged
SELECT * FROM lamin.merge('work');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO mg_log_all (id, line, branch_id) VALUES (9, 'late', :work);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.set_branch_status('work', 'draft');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- refusals: the same branch (a notice, nothing done), main, archive, trash, unknown, closed
SELECT lamin.create_branch('next') AS next \gset
SELECT * FROM lamin.merge('next', 'next');
SELECT lamin.switch('next');
SELECT * FROM lamin.merge('next');
SELECT lamin.switch('main');
SELECT * FROM lamin.merge('main', 'next');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM lamin.merge('next', 'trash');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM lamin.merge('nope');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM lamin.merge('next', 'nope');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM lamin.merge('next', 'work');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.set_branch_status('next', 'closed');
SELECT * FROM lamin.merge('next');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.set_branch_status('next', 'review');

-- a collision on a unique key (title, branch_id): the preview lists it, the merge fails whole
SELECT lamin.switch('next');
INSERT INTO mg_doc VALUES (10, 'main doc'), (11, 'fresh');
INSERT INTO mg_log VALUES (10, 'next line');
SELECT lamin.switch('main');
SELECT * FROM lamin.merge_preview('next') ORDER BY relation::text;
SELECT * FROM lamin.merge('next');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT id, branch_id = :next AS on_next FROM mg_log_all WHERE id = 10;
SELECT name, lamin.branch_status(_status_code) FROM lamin.branch WHERE id = :next;
-- a locked record on the branch stops the merge, as any move of it would
INSERT INTO lamin.artifact_all (id, uid, key, is_locked, branch_id, created_on_id)
VALUES (9, 'lckAAAAAAAAAAAAA0000', 'l.txt', true, :next, :next);
SELECT * FROM lamin.merge('next', 'main');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE lamin.artifact_all SET is_locked = false WHERE id = 9;
DELETE FROM lamin.artifact_all WHERE id = 9;
-- merging into another user branch
SELECT lamin.create_branch('side') AS side \gset
SELECT relation, rows_moved FROM lamin.merge('next', 'side') ORDER BY relation::text;
SELECT id, branch_id = :side AS on_side FROM mg_doc_all WHERE id >= 10 ORDER BY id;

-- who may merge: EXECUTE on lamin.merge, and the rights the moves need (into main: DELETE on
-- the trash view of each table with rows to move)
CREATE ROLE mg_user;
GRANT SELECT, INSERT ON mg_doc, mg_log TO mg_user;
SET ROLE mg_user;
SELECT lamin.create_branch('users') AS users \gset
SELECT lamin.switch('users');
INSERT INTO mg_log VALUES (20, 'by the user');
SELECT * FROM lamin.merge('users', 'main');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT EXECUTE ON FUNCTION lamin.merge(text, text), lamin.merge_preview(text, text) TO mg_user;
SET ROLE mg_user;
SELECT * FROM lamin.merge('users', 'main');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT DELETE ON mg_log_trash TO mg_user;
SET ROLE mg_user;
SELECT relation, rows_moved FROM lamin.merge('users', 'main') ORDER BY relation::text;
SELECT lamin.switch('main');
RESET ROLE;
SELECT id, branch_id FROM mg_log_all WHERE id = 20;

SELECT lamin.disable('mg_doc');
SELECT lamin.disable('mg_log');
DROP TABLE mg_doc, mg_log;
REVOKE EXECUTE ON FUNCTION lamin.merge(text, text), lamin.merge_preview(text, text) FROM mg_user;
DELETE FROM lamin.branch WHERE created_by = 'mg_user';
DROP ROLE mg_user;
DELETE FROM lamin.artifact_all;
DELETE FROM lamin.branch WHERE id >= 300;
