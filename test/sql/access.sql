-- The access model, as README states it: a read-only role, an application role and a trash
-- administrator, each with ordinary GRANTs, on an application table enabled by its owner.
\set SHOW_CONTEXT never
CREATE ROLE regress_owner NOLOGIN;
CREATE ROLE regress_reader NOLOGIN;
CREATE ROLE regress_app NOLOGIN;
CREATE ROLE regress_trash_admin NOLOGIN;
CREATE ROLE regress_editor NOLOGIN;
CREATE SCHEMA acc AUTHORIZATION regress_owner;
SET ROLE regress_owner;
CREATE TABLE acc.item (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO acc.item SELECT i, 'item ' || i FROM generate_series(1, 6) i;
SELECT relation, mode FROM lamin.enable('acc.item');
GRANT USAGE ON SCHEMA acc TO regress_reader, regress_app, regress_trash_admin, regress_editor;
-- read-only
GRANT SELECT ON acc.item TO regress_reader;
-- application: read, create, change, delete (= move to trash)
GRANT SELECT, INSERT, UPDATE, DELETE ON acc.item TO regress_app;
-- an editor changes rows but may not move them out of main
GRANT SELECT, UPDATE ON acc.item TO regress_editor;
-- trash administrator: see archive and trash, restore, purge
GRANT SELECT, DELETE ON acc.item_trash, acc.item_archive TO regress_trash_admin;
RESET ROLE;
GRANT EXECUTE ON FUNCTION lamin.restore(regclass, anyelement), lamin.delete(regclass, anyelement, boolean),
      lamin.restore_many(regclass, anyarray, text) TO regress_trash_admin;
GRANT EXECUTE ON FUNCTION lamin.delete(regclass, anyelement, boolean) TO regress_app;
-- nobody but the owner holds any privilege on the base table: the roles have views
SELECT r.rolname,
       has_table_privilege(r.oid, 'acc.item_all', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') AS any_on_table,
       has_table_privilege(r.oid, 'acc.item', 'DELETE') AS delete_view,
       has_table_privilege(r.oid, 'acc.item_trash', 'SELECT') AS see_trash
  FROM pg_roles r WHERE r.rolname LIKE 'regress\_%' ORDER BY 1;

SET ROLE regress_reader;
SELECT count(*) FROM acc.item;
DELETE FROM acc.item WHERE id = 1;
INSERT INTO acc.item VALUES (7, 'new');
RESET ROLE;

SET ROLE regress_app;
INSERT INTO acc.item VALUES (7, 'item 7') RETURNING id;
UPDATE acc.item SET name = 'item one' WHERE id = 1;
DELETE FROM acc.item WHERE id IN (1, 2);
SELECT action FROM lamin.delete('acc.item', 3);
SELECT id FROM acc.item ORDER BY id;
-- the app sees no trash, cannot purge, restore or reach the trash through the table
SELECT id FROM acc.item_all ORDER BY id;
SELECT * FROM acc.item_trash;
DELETE FROM acc.item_all WHERE id = 4;
TRUNCATE acc.item_all;
SELECT lamin.delete('acc.item', 1, permanent => true);
SELECT lamin.restore('acc.item', 1);
UPDATE acc.item_all SET branch_id = 1 WHERE id = 1;
-- its DELETE right also lets an ORM archive by setting branch_id (LaminDB has no archive method)
UPDATE acc.item SET branch_id = 0 WHERE id = 6;
SELECT id FROM acc.item ORDER BY id;
RESET ROLE;

-- an editor without DELETE on the view changes rows but cannot move them out of main
SET ROLE regress_editor;
UPDATE acc.item SET name = 'item five' WHERE id = 5 RETURNING id, name;
UPDATE acc.item SET branch_id = 0 WHERE id = 5;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE acc.item SET branch_id = -1 WHERE id = 5;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;

SET ROLE regress_trash_admin;
SELECT id, name FROM acc.item_trash ORDER BY id;
SELECT action FROM lamin.restore('acc.item', 1);
SELECT key, action FROM lamin.restore_many('acc.item', ARRAY[2]);
DELETE FROM acc.item_trash WHERE id = 3;
SELECT id, name FROM acc.item_trash ORDER BY id;
-- it may not move rows out of main: that is the application's DELETE right
SELECT lamin.delete('acc.item', 5);
RESET ROLE;

-- the right a move needs is decided by the branch each row is actually on: the application,
-- with DELETE on the main view and EXECUTE on move and move_many, may not bring a trashed row
-- back through them (restore needs DELETE on the trash view), nor archive a trashed row
SELECT action FROM lamin.delete('acc.item', 6);
GRANT EXECUTE ON FUNCTION lamin.move(regclass, anyelement, integer), lamin.move(regclass, anyelement, text),
      lamin.move_many(regclass, anyarray, integer, text) TO regress_app;
SET ROLE regress_app;
SELECT action FROM lamin.move('acc.item', 6, 'main');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT action FROM lamin.move('acc.item', 6, 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT key, action FROM lamin.move_many('acc.item', ARRAY[6], 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT key, action FROM lamin.move_many('acc.item', ARRAY[5, 6], 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a row on main it may move out of main
SELECT action, from_branch, to_branch FROM lamin.move('acc.item', 4, 'archive');
RESET ROLE;
-- archive() refuses a trashed row, and so does a move to the archive, for every role
SELECT action FROM lamin.move('acc.item', 6, 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT key, action FROM lamin.move_many('acc.item', ARRAY[6], 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET ROLE regress_owner;
SELECT id, branch_id FROM acc.item_all ORDER BY id;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION lamin.move(regclass, anyelement, integer), lamin.move(regclass, anyelement, text),
      lamin.move_many(regclass, anyarray, integer, text) FROM regress_app;
SELECT lamin.disable('acc.item');

-- naming a branch reads the table's branch catalog with the caller's rights: a role that may move
-- rows but not read the catalog names no branch (and learns no id); by id the move needs no grant
-- on the catalog, whose rows the move function checks as the table's owner
SET ROLE regress_owner;
CREATE TABLE acc.stage_branch (id integer PRIMARY KEY, name text NOT NULL);
INSERT INTO acc.stage_branch VALUES (-1, 'trash'), (0, 'archive'), (1, 'main'), (7, 'release');
CREATE TABLE acc.stage (id int PRIMARY KEY, branch_id integer NOT NULL DEFAULT 1 REFERENCES acc.stage_branch (id));
INSERT INTO acc.stage VALUES (1), (2);
SELECT relation, branch_table FROM lamin.enable('acc.stage');
GRANT SELECT, DELETE ON acc.stage TO regress_app;
RESET ROLE;
GRANT EXECUTE ON FUNCTION lamin.move(regclass, anyelement, integer), lamin.move(regclass, anyelement, text)
      TO regress_app;
SELECT p.oid::regprocedure, p.prosecdef FROM pg_proc p WHERE p.oid = 'lamin._branch_of(regclass, text)'::regprocedure;
SET ROLE regress_app;
SELECT lamin._branch_of('acc.stage', 'release');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT action FROM lamin.move('acc.stage', 1, 'release');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT action, to_branch FROM lamin.move('acc.stage', 1, 7);
-- a branch of lamin.branch, which every role reads, by name
SELECT lamin._branch_of('lamin.artifact', 'Archive');
RESET ROLE;
-- once the owner lets it read the catalog, it names the branches
SET ROLE regress_owner;
GRANT SELECT ON acc.stage_branch TO regress_app;
RESET ROLE;
SET ROLE regress_app;
SELECT lamin._branch_of('acc.stage', 'RELEASE');
SELECT action, to_branch FROM lamin.move('acc.stage', 2, 'release');
RESET ROLE;
SELECT id, branch_id FROM acc.stage_all ORDER BY id;
-- lamin._lock_family, which the single-row moves call in their WHERE clause, locks a version
-- family only for a role that may update the table, and only of a table with families
SET ROLE regress_reader;
SELECT lamin._lock_family('lamin.artifact_all'::regclass, 'lockAAAAAAAAAAAA0000');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
BEGIN;
SELECT lamin._lock_family('lamin.artifact_all'::regclass, 'lockAAAAAAAAAAAA0000'),
       lamin._lock_family('lamin.artifact_all'::regclass, NULL);
SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND objsubid = 19522;
ROLLBACK;
SELECT lamin._lock_family((SELECT relation FROM lamin.enabled_table WHERE relation::text LIKE 'acc.stage%'), 'x');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.disable('acc.stage');
DROP TABLE acc.stage, acc.stage_branch;

DROP SCHEMA acc CASCADE;
REVOKE ALL ON FUNCTION lamin.restore(regclass, anyelement), lamin.delete(regclass, anyelement, boolean),
      lamin.restore_many(regclass, anyarray, text) FROM regress_trash_admin, regress_app;
REVOKE ALL ON FUNCTION lamin.move(regclass, anyelement, integer), lamin.move(regclass, anyelement, text)
      FROM regress_app;
DROP ROLE regress_owner;
DROP ROLE regress_reader;
DROP ROLE regress_app;
DROP ROLE regress_trash_admin;
DROP ROLE regress_editor;
