-- Version families: uids sharing a 16-character stem. On every branch but trash, each family
-- has exactly one head (is_latest): its newest version.
CREATE FUNCTION heads() RETURNS TABLE (uid varchar, branch_id integer, is_latest boolean)
LANGUAGE sql AS $$
    SELECT uid, branch_id, is_latest FROM lamin.artifact_all ORDER BY uid
$$;
CREATE FUNCTION invariant_holds() RETURNS boolean LANGUAGE sql AS $$
    SELECT NOT EXISTS (
        SELECT 1 FROM (
            SELECT is_latest, row_number() OVER (PARTITION BY substr(uid, 1, 16), branch_id
                                                 ORDER BY created_at DESC, id DESC) AS rn
              FROM lamin.artifact_all WHERE branch_id <> -1) x
         WHERE (rn = 1) <> is_latest)
$$;
-- a new version inserted through the view becomes head; statements differ in created_at
INSERT INTO lamin.artifact (uid, key) VALUES ('famAAAAAAAAAAAAA0000', 'f.txt');
INSERT INTO lamin.artifact (uid, key, hash) VALUES ('famAAAAAAAAAAAAA0001', 'f.txt', 'h1');
INSERT INTO lamin.artifact (uid, key, hash) VALUES ('famAAAAAAAAAAAAA0002', 'f.txt', 'h2');
SELECT * FROM heads();
-- trashing the head promotes the newest other version on the same branch
SELECT * FROM lamin.artifact_delete((SELECT id FROM lamin.artifact_all WHERE uid = 'famAAAAAAAAAAAAA0002'));
SELECT * FROM heads();
SELECT invariant_holds();
-- restoring the former head makes it head again (LaminDB leaves it non-latest)
SELECT * FROM lamin.artifact_restore((SELECT id FROM lamin.artifact_all WHERE uid = 'famAAAAAAAAAAAAA0002'));
SELECT * FROM heads();
SELECT invariant_holds();
-- archiving the head keeps main's head right, and the row heads its family in the archive
SELECT * FROM lamin.artifact_archive((SELECT id FROM lamin.artifact_all WHERE uid = 'famAAAAAAAAAAAAA0002'));
SELECT * FROM heads();
-- an older version archived later is not head in the archive
SELECT action, promoted_uid FROM lamin.artifact_archive((SELECT id FROM lamin.artifact_all WHERE uid = 'famAAAAAAAAAAAAA0000'));
SELECT * FROM heads();
SELECT invariant_holds();
-- DELETE through the view promotes too
DELETE FROM lamin.artifact WHERE uid = 'famAAAAAAAAAAAAA0001';
SELECT * FROM heads();
-- the last version trashed keeps is_latest, as in LaminDB
SELECT * FROM heads() WHERE uid = 'famAAAAAAAAAAAAA0001';
-- permanent delete of a head promotes the next version on its branch
SELECT action, promoted_uid FROM lamin.artifact_delete((SELECT id FROM lamin.artifact_all WHERE uid = 'famAAAAAAAAAAAAA0002'), permanent => true);
SELECT * FROM heads();
SELECT invariant_holds();
-- raw SQL on the base table keeps the invariant too
UPDATE lamin.artifact_all SET branch_id = 1 WHERE uid LIKE 'famAAAAAAAAAAAAA%';
SELECT * FROM heads();
SELECT invariant_holds();
-- is_latest belongs to the extension: a direct change is refused, a no-op is fine
UPDATE lamin.artifact SET is_latest = true WHERE uid = 'famAAAAAAAAAAAAA0000';
UPDATE lamin.artifact SET is_latest = false WHERE uid = 'famAAAAAAAAAAAAA0001';
-- in trash it is free
UPDATE lamin.artifact_all SET branch_id = -1 WHERE uid = 'famAAAAAAAAAAAAA0000';
UPDATE lamin.artifact_all SET is_latest = true WHERE uid = 'famAAAAAAAAAAAAA0000';
-- an older version inserted later is not head
INSERT INTO lamin.artifact (uid, key, hash, created_at)
VALUES ('famAAAAAAAAAAAAA0009', 'f.txt', 'h9', '2000-01-01');
SELECT * FROM heads();
SELECT invariant_holds();
-- two families and several branches at once, moved by one statement
INSERT INTO lamin.artifact (uid, key) SELECT 'fam' || f || 'BBBBBBBBBBBB' || lpad(v::text, 4, '0'), 'g' || f || v
  FROM generate_series(1, 3) f, generate_series(0, 2) v;
UPDATE lamin.artifact_all SET branch_id = 0 WHERE uid LIKE 'fam_BBBBBBBBBBBB000_' AND uid LIKE '%0001';
SELECT invariant_holds();
DELETE FROM lamin.artifact WHERE uid LIKE 'fam_BBBBBBBBBBBB%';
SELECT invariant_holds();
SELECT substr(uid, 1, 4) AS fam, branch_id, count(*), count(*) FILTER (WHERE is_latest) AS heads
  FROM lamin.artifact_all WHERE uid LIKE 'fam_BBBB%' GROUP BY 1, 2 ORDER BY 1, 2;
-- every move holds its family's lock (an advisory lock, objsubid 19522) until the transaction
-- ends; a savepoint rolled back releases it, and the next move of the family takes it again
CREATE FUNCTION family_locks() RETURNS bigint LANGUAGE sql AS
$$ SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 19522 AND pid = pg_backend_pid() $$;
INSERT INTO lamin.artifact (uid, key) VALUES ('famLOCKAAAAAAAAA0000', 'lock.txt');
BEGIN;
SAVEPOINT a;
DELETE FROM lamin.artifact WHERE uid = 'famLOCKAAAAAAAAA0000';
SELECT family_locks();
ROLLBACK TO SAVEPOINT a;
SELECT family_locks();
DELETE FROM lamin.artifact WHERE uid = 'famLOCKAAAAAAAAA0000';
SELECT family_locks();
SAVEPOINT b;
UPDATE lamin.artifact_all SET branch_id = 0 WHERE uid = 'fam2BBBBBBBBBBBB0000';
ROLLBACK TO SAVEPOINT b;
UPDATE lamin.artifact_all SET branch_id = 0 WHERE uid = 'fam2BBBBBBBBBBBB0000';
SELECT family_locks();
ROLLBACK;
BEGIN;
UPDATE lamin.artifact_all SET branch_id = 0 WHERE uid = 'fam2BBBBBBBBBBBB0000';
SELECT family_locks();
ROLLBACK;
DROP FUNCTION family_locks();
DROP FUNCTION heads();
DROP FUNCTION invariant_holds();
TRUNCATE lamin.artifact_all;
