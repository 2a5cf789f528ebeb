-- PostgreSQL 17 and later: MERGE into a branch view, and MERGE ... RETURNING. MERGE into the main
-- view of an enabled table inserts and updates main rows; rows of other branches are not matched
-- (the view does not show them); a WHEN MATCHED ... DELETE moves the row to trash through the
-- view's INSTEAD OF trigger where Postgres allows it. The planner hook leaves MERGE to Postgres:
-- the same happens with lamin_branch.flatten_views on and off.
CREATE SCHEMA mrg;
CREATE TABLE mrg.item (id int PRIMARY KEY, label text, n int NOT NULL DEFAULT 0);
INSERT INTO mrg.item VALUES (1, 'one', 1), (2, 'two', 2), (3, 'three', 3), (4, 'four', 4);
SELECT relation FROM lamin.enable('mrg.item');
DELETE FROM mrg.item WHERE id = 4;                     -- in the trash
CREATE TABLE mrg.src (id int, label text);
INSERT INTO mrg.src VALUES (1, 'ONE'), (4, 'FOUR'), (5, 'five');

-- insert and update through the main view; the trashed row 4 is not seen, so its key is taken
-- and the INSERT fails with the primary key's error
BEGIN;
MERGE INTO mrg.item t USING mrg.src s ON t.id = s.id
  WHEN MATCHED THEN UPDATE SET label = s.label
  WHEN NOT MATCHED THEN INSERT (id, label) VALUES (s.id, s.label);
ROLLBACK;
MERGE INTO mrg.item t USING (SELECT * FROM mrg.src WHERE id <> 4) s ON t.id = s.id
  WHEN MATCHED THEN UPDATE SET label = s.label
  WHEN NOT MATCHED THEN INSERT (id, label) VALUES (s.id, s.label)
  RETURNING merge_action(), t.id, t.label;
SELECT id, label, branch_id FROM mrg.item_all ORDER BY id;

-- a MERGE that deletes: the view's DELETE is an INSTEAD OF trigger, the other actions are the
-- view's own; Postgres decides whether it may mix them, with the hook on as with it off
MERGE INTO mrg.item t USING mrg.src s ON t.id = s.id
  WHEN MATCHED AND s.id = 5 THEN DELETE;
SET lamin_branch.flatten_views = off;
MERGE INTO mrg.item t USING (VALUES (3)) s(id) ON t.id = s.id
  WHEN MATCHED THEN DELETE;
RESET lamin_branch.flatten_views;
SELECT id, branch_id FROM mrg.item_all ORDER BY id;

-- MERGE reading a view as its source sees main rows only, with the hook on and off
CREATE TABLE mrg.copy (id int PRIMARY KEY, label text);
WITH m AS (MERGE INTO mrg.copy c USING mrg.item i ON c.id = i.id
  WHEN NOT MATCHED THEN INSERT VALUES (i.id, i.label) RETURNING c.*) SELECT * FROM m ORDER BY id;
TRUNCATE mrg.copy;
SET lamin_branch.flatten_views = off;
WITH m AS (MERGE INTO mrg.copy c USING mrg.item i ON c.id = i.id
  WHEN NOT MATCHED THEN INSERT VALUES (i.id, i.label) RETURNING c.*) SELECT * FROM m ORDER BY id;
RESET lamin_branch.flatten_views;

-- an archive by MERGE is an UPDATE of branch_id: the row leaves the main view
MERGE INTO mrg.item t USING (VALUES (2)) s(id) ON t.id = s.id
  WHEN MATCHED THEN UPDATE SET branch_id = 0 RETURNING t.id, t.branch_id;
SELECT id, branch_id FROM mrg.item_all ORDER BY id;

SELECT lamin.disable('mrg.item');
DROP SCHEMA mrg CASCADE;
