-- lamin.delete, restore, archive and move by primary key, one key or many, on any enabled table.
\set SHOW_CONTEXT never
CREATE SCHEMA gen;
CREATE TABLE gen.note (id bigint PRIMARY KEY, body text NOT NULL);
INSERT INTO gen.note SELECT i, 'note ' || i FROM generate_series(1, 8) i;
SELECT relation, mode, main_view, archive_view, trash_view FROM lamin.enable('gen.note');
-- one key: the table or any of its views names it; keys of another type are converted
SELECT * FROM lamin.delete('gen.note', 1);
SELECT * FROM lamin.delete('gen.note_all', '2'::text);
SELECT * FROM lamin.delete('gen.note_trash', 2);
SELECT * FROM lamin.delete('gen.note', 2, permanent => false);
SELECT * FROM lamin.delete('gen.note', 2, permanent => true);
SELECT * FROM lamin.restore('gen.note', 1);
SELECT * FROM lamin.archive('gen.note', 3);
SELECT * FROM lamin.archive('gen.note', 3);
SELECT * FROM lamin.move('gen.note', 3, 'main');
SELECT * FROM lamin.move('gen.note', 3, -1);
SELECT * FROM lamin.archive('gen.note', 3);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO lamin.branch (id, name) OVERRIDING SYSTEM VALUE VALUES (7, 'feature');
SELECT * FROM lamin.move('gen.note', 4, 'Feature');
SELECT * FROM lamin.restore('gen.note', 4);
SELECT id, branch_id FROM gen.note_all ORDER BY id;
-- many keys: one statement; rows already where they are asked to go are left alone
SELECT * FROM lamin.delete_many('gen.note', ARRAY[4, 5, 6, 3]) ORDER BY key;
SELECT * FROM lamin.delete_many('gen.note', ARRAY[4, 5]) ORDER BY key;
SELECT * FROM lamin.restore_many('gen.note', ARRAY[3, 4, 5, 6, 7]) ORDER BY key;
SELECT * FROM lamin.archive_many('gen.note', ARRAY[5, 6]) ORDER BY key;
SELECT * FROM lamin.move_many('gen.note', ARRAY[5, 6], 7) ORDER BY key;
SELECT * FROM lamin.delete_many('gen.note', ARRAY[6]) ORDER BY key;
SELECT * FROM lamin.delete_many('gen.note', ARRAY[6], permanent => true) ORDER BY key;
SELECT id, branch_id FROM gen.note_all ORDER BY id;
-- bad input fails whole, naming what is wrong
SELECT * FROM lamin.delete_many('gen.note', ARRAY[5, 98, 99]) ORDER BY key;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM lamin.archive_many('gen.note', ARRAY[5, 7]) ORDER BY key;
SELECT * FROM lamin.delete('gen.note', 7);
SELECT * FROM lamin.archive_many('gen.note', ARRAY[5, 7]) ORDER BY key;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT id, branch_id FROM gen.note_all WHERE id IN (5, 7) ORDER BY id;
SELECT * FROM lamin.delete('gen.note', 99);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM lamin.delete('gen.note', NULL::bigint);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM lamin.delete('gen.note', 'x'::text);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM lamin.move('gen.note', 5, 42);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM lamin.move('gen.note', 5, 'nowhere');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM lamin.move_many('gen.note', ARRAY[5], 42) ORDER BY key;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM lamin.delete_many('gen.note', NULL::bigint[]) ORDER BY key;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE TABLE gen.plain (id int PRIMARY KEY);
SELECT * FROM lamin.delete('gen.plain', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM lamin.delete_many('gen.plain', ARRAY[1]) ORDER BY key;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- artifacts are an enabled table like any other
INSERT INTO lamin.artifact (id, uid, key) OVERRIDING SYSTEM VALUE VALUES (1, 'genAAAAAAAAAAAAA0000', 'g');
SELECT relation, key, uid, action FROM lamin.delete('lamin.artifact', 1);
SELECT relation, key, uid, action FROM lamin.restore_many('lamin.artifact_all', ARRAY[1]);
SELECT relation, mode FROM lamin.enabled_table ORDER BY relation::text;
-- the functions are granted, not public
SELECT p.oid::regprocedure, has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_call
  FROM pg_proc p
 WHERE p.pronamespace = 'lamin'::regnamespace
   AND p.proname IN ('delete', 'restore', 'archive', 'move', 'delete_many', 'restore_many',
                     'archive_many', 'move_many')
 ORDER BY 1::text;
-- a bulk move plans its one statement with sequential and bitmap scans off (to lock rows in key
-- order) and runs it with the session's settings: a user trigger it fires plans as the session
-- does; its result lists every row moved, whichever path moved it
CREATE TABLE gen.seen (id bigint, seqscan text);
CREATE FUNCTION gen.note_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO gen.seen VALUES (NEW.id, current_setting('enable_seqscan'));
    RETURN NULL;
END $$;
CREATE TRIGGER note_seen AFTER UPDATE ON gen.note_all FOR EACH ROW EXECUTE FUNCTION gen.note_seen();
INSERT INTO gen.note VALUES (11, 'a'), (12, 'b'), (13, 'c');
SELECT action, count(*) FROM lamin.delete_many('gen.note', ARRAY[11, 12]) GROUP BY 1;
SELECT action, count(*), min(key), max(key) FROM lamin.restore_many('gen.note', ARRAY[11, 12]) GROUP BY 1;
SELECT action, count(*) FROM lamin.delete_many('gen.note', ARRAY[11, 12, 98]) GROUP BY 1;
SELECT action, from_branch, count(*) FROM lamin.archive_many('gen.note', ARRAY[11, 12]) GROUP BY 1, 2;
SELECT action, from_branch, count(*) FROM lamin.delete_many('gen.note', ARRAY[11, 12, 13]) GROUP BY 1, 2 ORDER BY 1, 2;
SELECT seqscan, count(*) FROM gen.seen GROUP BY 1;
DROP TRIGGER note_seen ON gen.note_all;
-- a result larger than work_mem goes to a temporary file, made for the call rather than for the
-- fast path's subtransaction (which would close it): every row is reported
INSERT INTO gen.note SELECT i, 'bulk ' || i FROM generate_series(1001, 4000) i;
SET work_mem = '64kB';
BEGIN;
SELECT action, count(*), min(key::int), max(key::int) FROM lamin.delete_many('gen.note', ARRAY(SELECT generate_series(1001, 4000))) GROUP BY 1;
SELECT action, count(*), min(key::int), max(key::int) FROM lamin.restore_many('gen.note', ARRAY(SELECT generate_series(1001, 4000))) GROUP BY 1;
COMMIT;
RESET work_mem;
DELETE FROM gen.note_all WHERE id > 1000;
TRUNCATE lamin.artifact_all;
SELECT lamin.disable('gen.note');
DROP SCHEMA gen CASCADE;
DELETE FROM lamin.branch WHERE id = 7;
