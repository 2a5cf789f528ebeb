-- artifact_delete, artifact_restore and artifact_archive: what each does and reports.
INSERT INTO lamin.artifact_all (id, uid, key, branch_id) OVERRIDING SYSTEM VALUE VALUES
    (1, 'fnAAAAAAAAAAAAAA0000', 'one', 1),
    (2, 'fnBBBBBBBBBBBBBB0000', 'two', 0),
    (3, 'fnCCCCCCCCCCCCCC0000', 'three', -1);
INSERT INTO lamin.branch (id, name) OVERRIDING SYSTEM VALUE VALUES (5, 'feature');
INSERT INTO lamin.artifact_all (id, uid, key, branch_id) OVERRIDING SYSTEM VALUE VALUES
    (4, 'fnDDDDDDDDDDDDDD0000', 'four', 5);
-- delete: main, archive and a user branch go to trash
SELECT * FROM lamin.artifact_delete(1);
SELECT * FROM lamin.artifact_delete(2);
SELECT * FROM lamin.artifact_delete(4);
-- from trash: permanent => false does nothing, permanent => true deletes for good
SELECT * FROM lamin.artifact_delete(3, permanent => false);
SELECT * FROM lamin.artifact_delete(3, permanent => true);
SELECT id FROM lamin.artifact_all WHERE id = 3;
-- permanent => true from main skips the trash
INSERT INTO lamin.artifact_all (id, uid, key) OVERRIDING SYSTEM VALUE VALUES (6, 'fnFFFFFFFFFFFFFF0000', 'six');
SELECT * FROM lamin.artifact_delete(6, true);
-- restore: from trash, archive and user branches to main; on main nothing changes
SELECT * FROM lamin.artifact_restore(1);
SELECT * FROM lamin.artifact_restore(1);
UPDATE lamin.artifact_all SET branch_id = 0 WHERE id = 2;
SELECT * FROM lamin.artifact_restore(2);
UPDATE lamin.artifact_all SET branch_id = 5 WHERE id = 4;
SELECT * FROM lamin.artifact_restore(4);
-- archive: from main (or a user branch); twice is a no-op; from trash it says to restore first
SELECT * FROM lamin.artifact_archive(1);
SELECT * FROM lamin.artifact_archive(1);
SELECT * FROM lamin.artifact_delete(2);
SELECT * FROM lamin.artifact_archive(2);
-- the functions are not executable by every role: moving rows is granted
SELECT p.proname, p.proacl IS NOT NULL AND NOT EXISTS (
         SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0) AS revoked_from_public,
       p.prosecdef, p.provolatile
  FROM pg_proc p
 WHERE p.pronamespace = 'lamin'::regnamespace AND p.proname LIKE 'artifact\_%'
 ORDER BY 1;
-- the result type
SELECT (lamin.artifact_restore(2)).action;
TRUNCATE lamin.artifact_all;
DELETE FROM lamin.branch WHERE id = 5;
