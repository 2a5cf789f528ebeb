-- Version heads per branch, as LaminDB keeps them: a version made on a branch is the head
-- there and leaves main's head alone; each (family, branch) has one head on every path.
\set SHOW_CONTEXT never
SELECT setval('lamin.branch_id_seq', 200, false) IS NOT NULL AS ids_from_200;
SELECT lamin.create_branch('revise') AS revise \gset
INSERT INTO lamin.artifact_all (id, uid, key, created_at) VALUES
    (1, 'hdsAAAAAAAAAAAAA0000', 'h.txt', '2024-01-01'),
    (2, 'hdsAAAAAAAAAAAAA0001', 'h.txt', '2024-01-02');
SELECT lamin.switch('revise');
-- a new version through the main view, on the branch: head there, main keeps its head
INSERT INTO lamin.artifact (id, uid, key, created_at) VALUES (3, 'hdsAAAAAAAAAAAAA0002', 'h.txt', '2024-01-03');
SELECT id, uid, branch_id, is_latest FROM lamin.artifact_all WHERE uid LIKE 'hds%' ORDER BY id;
-- the main view shows both heads: LaminDB's view of a branch and main
SELECT id FROM lamin.artifact WHERE is_latest ORDER BY id;
-- another version on the branch, newer: it takes over there only
INSERT INTO lamin.artifact (id, uid, key, created_at) VALUES (4, 'hdsAAAAAAAAAAAAA0003', 'h.txt', '2024-01-04');
-- an older version made on the branch does not take over
INSERT INTO lamin.artifact (id, uid, key, created_at) VALUES (5, 'hdsAAAAAAAAAAAAA0004', 'h.txt', '2023-12-31');
SELECT id, branch_id, is_latest FROM lamin.artifact_all WHERE uid LIKE 'hds%' ORDER BY id;
-- one head per (family, branch)
SELECT branch_id, count(*) FILTER (WHERE is_latest) AS heads FROM lamin.artifact_all
 WHERE uid LIKE 'hds%' GROUP BY branch_id ORDER BY branch_id;
-- trashing the branch's head promotes the branch's next newest, not a version of main
DELETE FROM lamin.artifact WHERE id = 4;
SELECT id, branch_id, is_latest FROM lamin.artifact_all WHERE uid LIKE 'hds%' ORDER BY id;
-- a version moved from main to the branch joins the branch's family: heads follow, per branch
SELECT action, to_branch = :revise AS to_revise FROM lamin.move('lamin.artifact_all', 2, :revise);
SELECT id, branch_id, is_latest FROM lamin.artifact_all WHERE uid LIKE 'hds%' ORDER BY id;
SELECT branch_id, count(*) FILTER (WHERE is_latest) AS heads FROM lamin.artifact_all
 WHERE uid LIKE 'hds%' AND branch_id <> -1 GROUP BY branch_id ORDER BY branch_id;
SELECT lamin.switch('main');
DELETE FROM lamin.artifact_all WHERE uid LIKE 'hds%';
DELETE FROM lamin.branch WHERE id >= 200;
