-- LaminDB's own branches in lamin.branch: create (ids from 2, a LaminDB uid, names unique
-- whatever their case), rename, status (LaminDB's _status_code; merged only by lamin.merge),
-- who may change a branch, and a branch a table still uses cannot be deleted.
\set SHOW_CONTEXT never
SELECT setval('lamin.branch_id_seq', 400, false) IS NOT NULL AS ids_from_400;
SELECT lamin.create_branch('cr-feature', 'a new analysis') AS feature \gset
SELECT id = :feature AS same, id > 1 AS user_branch, name, description, length(uid) AS uid_len, uid ~ '^[0-9A-Za-z]{12}$' AS base62,
       _status_code, lamin.branch_status(_status_code), created_by = current_user AS mine
  FROM lamin.branch WHERE name = 'cr-feature';
SELECT lamin.create_branch('cr-second') = :feature + 1 AS next_id;
-- names are unique whatever their case: 42710, naming the branch
SELECT lamin.create_branch('CR-FEATURE');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.create_branch('Main');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.create_branch('  ');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- rename: to a free name; not onto another branch's name, not main, archive or trash
SELECT lamin.rename_branch('cr-second', 'cr-Second-Try') = :feature + 1 AS renamed;
SELECT lamin.rename_branch('cr-second-try', 'Cr-Feature');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.rename_branch('main', 'trunk');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.rename_branch('nope', 'x');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- status: draft, review, closed, standalone; merged comes only with lamin.merge
SELECT lamin.set_branch_status('cr-feature', 'draft') = :feature AS done;
SELECT lamin.set_branch_status('cr-feature', 'Review') = :feature AS done;
SELECT name, _status_code, lamin.branch_status(_status_code) FROM lamin.branch WHERE name = 'cr-feature';
SELECT lamin.set_branch_status('cr-feature', 'merged');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.set_branch_status('cr-feature', 'done');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.set_branch_status('archive', 'closed');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- not by hand either, even for the catalog's owner
UPDATE lamin.branch SET _status_code = -1 WHERE name = 'cr-feature';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.set_branch_status('cr-second-try', 'closed') IS NOT NULL AS done;
SELECT lamin.set_branch_status('cr-second-try', 'standalone') IS NOT NULL AS done;
SELECT code, lamin.branch_status(code::smallint) FROM generate_series(-2, 2) code;

-- another role creates its own branches, and changes only those
CREATE ROLE branch_user;
SET ROLE branch_user;
SELECT lamin.create_branch('cr-users') > :feature AS created;
SELECT lamin.set_branch_status('cr-users', 'review') IS NOT NULL AS done;
SELECT lamin.rename_branch('cr-feature', 'cr-mine');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.set_branch_status('cr-feature', 'closed');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- and nothing past the functions: no made-up creator, status or id, no other's rows, no delete
INSERT INTO lamin.branch (name, created_by) VALUES ('forged', 'postgres');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO lamin.branch (id, name) VALUES (99, 'numbered');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE lamin.branch SET description = 'taken' WHERE name = 'cr-feature';
DELETE FROM lamin.branch WHERE name = 'cr-users';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT name, description, lamin.branch_status(_status_code), created_by FROM lamin.branch WHERE id >= :feature ORDER BY id;

-- a branch a table still uses cannot be deleted: the message names the table and the rows
CREATE TABLE crt (id int PRIMARY KEY, body text);
SELECT relation FROM lamin.enable('crt');
INSERT INTO crt_all (id, body, branch_id, created_on_id) VALUES (1, 'on feature', lamin.find_branch('cr-feature'), lamin.find_branch('cr-feature'));
INSERT INTO crt_all (id, body, created_on_id) VALUES (2, 'made on feature', lamin.find_branch('cr-feature'));
DELETE FROM lamin.branch WHERE name = 'cr-feature';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- once nothing uses it, it goes
DELETE FROM crt_all;
DELETE FROM lamin.branch WHERE name = 'cr-feature';
SELECT lamin.disable('crt');
DROP TABLE crt;
DELETE FROM lamin.branch WHERE id >= :feature;
DROP ROLE branch_user;
