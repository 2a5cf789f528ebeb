-- The views: main is what a default query sees; archive and trash are separate views.
INSERT INTO lamin.artifact_all (id, uid, key, branch_id) OVERRIDING SYSTEM VALUE VALUES
    (1, 'mainAAAAAAAAAAAA0000', 'on-main', 1),
    (2, 'archAAAAAAAAAAAA0000', 'in-archive', 0),
    (3, 'trshAAAAAAAAAAAA0000', 'in-trash', -1);
SELECT id, key, branch_id FROM lamin.artifact ORDER BY id;
SELECT id, key, branch_id FROM lamin.artifact_archive ORDER BY id;
SELECT id, key, branch_id FROM lamin.artifact_trash ORDER BY id;
-- view options: main runs with the caller's rights (RLS hides the rest), the others are barriers
SELECT c.relname, c.reloptions FROM pg_class c
 WHERE c.oid IN ('lamin.artifact'::regclass, 'lamin.artifact_archive'::regclass,
                 'lamin.artifact_trash'::regclass)
 ORDER BY 1;
SELECT polname, polpermissive, polcmd, pg_get_expr(polqual, polrelid) AS using_expr,
       pg_get_expr(polwithcheck, polrelid) AS check_expr
  FROM pg_policy WHERE polrelid = 'lamin.artifact_all'::regclass ORDER BY 1;
-- the main view's filter is a constant the planner uses like a hand-written predicate:
-- the plan scans the table in place, as the hand-written query does
EXPLAIN (COSTS OFF) SELECT sum(size) FROM lamin.artifact WHERE id BETWEEN 1 AND 200;
EXPLAIN (COSTS OFF) SELECT sum(size) FROM lamin.artifact_all WHERE branch_id = 1 AND id BETWEEN 1 AND 200;
-- inserting through the main view takes the table's defaults
INSERT INTO lamin.artifact (key, suffix) VALUES ('through-view', '.csv')
RETURNING id, uid ~ '^[0-9A-Za-z]{16}0000$' AS uid_ok, branch_id, created_on_id, is_latest, is_locked, space_id;
-- updating through the main view works as on a table, and stamps updated_at
UPDATE lamin.artifact SET description = 'changed', updated_at = '2000-01-01'
 WHERE key = 'through-view' RETURNING description, updated_at > '2000-01-01' AS stamped;
-- rows on other branches are not reachable through the main view
UPDATE lamin.artifact SET description = 'nope' WHERE id IN (2, 3);
-- an ORM's UPDATE ... SET branch_id = 0 archives the row (LaminDB has no archive method)
UPDATE lamin.artifact SET branch_id = 0 WHERE key = 'through-view';
SELECT key, branch_id FROM lamin.artifact_archive ORDER BY id;
-- inserting through the archive view: rows land where the view shows them when they say so
INSERT INTO lamin.artifact_archive (key, branch_id) VALUES ('archived-directly', 0) RETURNING key, branch_id;
TRUNCATE lamin.artifact_all;
