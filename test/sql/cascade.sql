-- Cascades: enable(tbl, cascade => true) makes moving a parent row move the rows of enabled
-- tables that reference it, in the same operation; restore brings back exactly those.
\set SHOW_CONTEXT never
TRUNCATE lamin.move_record;
CREATE SCHEMA cs;
CREATE TABLE cs.project (id int PRIMARY KEY, name text);
CREATE TABLE cs.sample (id int PRIMARY KEY, project_id int REFERENCES cs.project ON DELETE RESTRICT, name text);
CREATE TABLE cs.file (id int PRIMARY KEY, sample_id int REFERENCES cs.sample ON DELETE CASCADE);
INSERT INTO cs.project VALUES (1, 'p1'), (2, 'p2');
INSERT INTO cs.sample SELECT i, CASE WHEN i <= 3 THEN 1 ELSE 2 END, 's' || i FROM generate_series(1, 6) i;
INSERT INTO cs.file VALUES (1, 1), (2, 2), (3, 4), (4, 5);
SELECT relation FROM lamin.enable('cs.project', cascade => true);
SELECT relation FROM lamin.enable('cs.sample', cascade => true);
SELECT relation FROM lamin.enable('cs.file');
CREATE VIEW cs.branches AS
    SELECT 'project' AS tbl, id, branch_id FROM cs.project_all
    UNION ALL SELECT 'sample', id, branch_id FROM cs.sample_all
    UNION ALL SELECT 'file', id, branch_id FROM cs.file_all;
CREATE VIEW cs.log AS
    SELECT dense_rank() OVER (ORDER BY operation) AS op, regexp_replace(relation::text, '^cs\.(.*)_all$', '\1') AS tbl,
           key::int AS id, from_branch, to_branch
      FROM lamin.move_log;

-- sample 3 goes to the trash on its own; then its project, which takes samples 1 and 2 and
-- their files along, in one operation
SELECT action FROM lamin.delete('cs.sample', 3);
SELECT action FROM lamin.delete('cs.project', 1);
SELECT * FROM cs.branches WHERE branch_id <> 1 ORDER BY tbl, id;
SELECT * FROM cs.log ORDER BY op, tbl, id;
SELECT relation, key, operation_rows FROM lamin.trash ORDER BY relation::text, key;

-- restoring the project brings back what its trashing took along, not sample 3
SELECT action FROM lamin.restore('cs.project', 1);
SELECT * FROM cs.branches WHERE branch_id <> 1 ORDER BY tbl, id;
TRUNCATE lamin.move_record;

-- restore(..., cascade => false) brings back the parent alone
SELECT action FROM lamin.delete('cs.project', 1);
SELECT action FROM lamin.restore('cs.project', 1, cascade => false);
SELECT * FROM cs.branches WHERE branch_id <> 1 ORDER BY tbl, id;
-- the samples, restored on their own, bring back the files that operation took along with them
SELECT count(*) FROM lamin.restore_many('cs.sample', ARRAY[1, 2]);
SELECT * FROM cs.branches WHERE branch_id <> 1 ORDER BY tbl, id;
TRUNCATE lamin.move_record;

-- every path cascades: DELETE through the view (one UPDATE), an UPDATE of branch_id
DELETE FROM cs.project WHERE id = 2;
SELECT * FROM cs.branches WHERE branch_id <> 1 ORDER BY tbl, id;
UPDATE cs.project_all SET branch_id = 1 WHERE id = 2;
SELECT * FROM cs.log ORDER BY op, tbl, id;
SELECT * FROM cs.branches WHERE branch_id <> 1 ORDER BY tbl, id;
TRUNCATE lamin.move_record;

-- archive likewise, and back
SELECT action FROM lamin.archive('cs.project', 2);
SELECT * FROM cs.branches WHERE branch_id <> 1 ORDER BY tbl, id;
SELECT action FROM lamin.restore('cs.project', 2);
SELECT * FROM cs.branches WHERE branch_id <> 1 ORDER BY tbl, id;
TRUNCATE lamin.move_record;

-- when the children were trashed first (as an ORM that deletes them itself does), they share no
-- operation with the parent, and restoring the parent leaves them in the trash
SELECT count(*) FROM lamin.delete_many('cs.file', ARRAY[3, 4]);
SELECT count(*) FROM lamin.delete_many('cs.sample', ARRAY[4, 5, 6]);
SELECT action FROM lamin.delete('cs.project', 2);
SELECT action FROM lamin.restore('cs.project', 2);
SELECT * FROM cs.branches WHERE branch_id <> 1 ORDER BY tbl, id;
SELECT count(*) FROM lamin.restore_many('cs.sample', ARRAY[4, 5, 6]);
SELECT count(*) FROM lamin.restore_many('cs.file', ARRAY[3, 4]);
TRUNCATE lamin.move_record;

-- purging a parent purges its trashed children first (ON DELETE RESTRICT does not block, and
-- the ON DELETE CASCADE rows are purged with a record), sample 3 among them
SELECT action FROM lamin.delete('cs.project', 1);
SELECT action FROM lamin.delete('cs.project', 1, permanent => true);
SELECT * FROM cs.branches ORDER BY tbl, id;
SELECT tbl, id, from_branch, to_branch FROM cs.log WHERE to_branch IS NULL ORDER BY tbl, id;
SELECT count(DISTINCT operation) AS operations FROM lamin.move_log WHERE to_branch IS NULL;
-- a child on main that still references the parent keeps its key's rule
SELECT action FROM lamin.delete('cs.project', 2);
SELECT action FROM lamin.restore('cs.sample', 4);
SELECT action FROM lamin.delete('cs.project', 2, permanent => true);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- a role that may trash and restore projects moves their samples too, though it has no right on
-- the sample views: the cascade runs as the sample table's owner, as foreign-key actions do
CREATE ROLE regress_cs_app NOLOGIN;
GRANT USAGE ON SCHEMA cs TO regress_cs_app;
GRANT SELECT, DELETE ON cs.project, cs.project_trash TO regress_cs_app;
GRANT EXECUTE ON FUNCTION lamin.restore(regclass, anyelement) TO regress_cs_app;
SELECT action FROM lamin.restore('cs.project', 2);
SELECT * FROM cs.branches WHERE branch_id <> 1 ORDER BY tbl, id;
TRUNCATE lamin.move_record;
SET ROLE regress_cs_app;
DELETE FROM cs.project WHERE id = 2;
SELECT count(*) FROM cs.sample;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT action FROM lamin.restore('cs.project', 2);
RESET ROLE;
SELECT dense_rank() OVER (ORDER BY operation) AS op, regexp_replace(relation::text, '^cs\.(.*)_all$', '\1') AS tbl,
       key::int AS id, from_branch, to_branch, role
  FROM lamin.move_log ORDER BY 1, 2, 3;
SELECT * FROM cs.branches WHERE branch_id <> 1 ORDER BY tbl, id;
REVOKE ALL ON FUNCTION lamin.restore(regclass, anyelement) FROM regress_cs_app;
TRUNCATE lamin.move_record;

-- a partitioned parent whose partition numbers its columns otherwise cascades too
CREATE TABLE cs.batch (id int PRIMARY KEY, name text) PARTITION BY RANGE (id);
CREATE TABLE cs.batch_1 (name text, id int NOT NULL);
ALTER TABLE cs.batch ATTACH PARTITION cs.batch_1 FOR VALUES FROM (0) TO (100);
CREATE TABLE cs.item (id int PRIMARY KEY, batch_id int REFERENCES cs.batch);
INSERT INTO cs.batch VALUES (1, 'b1'), (2, 'b2');
INSERT INTO cs.item VALUES (1, 1), (2, 1), (3, 2);
SELECT relation FROM lamin.enable('cs.batch', cascade => true);
SELECT relation FROM lamin.enable('cs.item');
SELECT action FROM lamin.delete('cs.batch', 1);
SELECT id, branch_id FROM cs.item_all ORDER BY id;
SELECT action FROM lamin.restore('cs.batch', 1);
SELECT id, branch_id FROM cs.item_all ORDER BY id;
SELECT lamin.disable('cs.item');
SELECT lamin.disable('cs.batch');
TRUNCATE lamin.move_record;

-- no cascade into a table of another owner: enabling a table with cascade gives its owner no
-- power over the rows of someone else's table
CREATE ROLE regress_cs_a NOLOGIN;
CREATE ROLE regress_cs_b NOLOGIN;
GRANT USAGE, CREATE ON SCHEMA cs TO regress_cs_a, regress_cs_b;
CREATE TABLE cs.lab (id int PRIMARY KEY);
CREATE TABLE cs.notebook (id int PRIMARY KEY, lab_id int REFERENCES cs.lab);
INSERT INTO cs.lab VALUES (1);
INSERT INTO cs.notebook VALUES (1, 1);
ALTER TABLE cs.lab OWNER TO regress_cs_a;
ALTER TABLE cs.notebook OWNER TO regress_cs_b;
SET ROLE regress_cs_a;
SELECT relation FROM lamin.enable('cs.lab', cascade => true);
RESET ROLE;
SET ROLE regress_cs_b;
SELECT relation FROM lamin.enable('cs.notebook');
RESET ROLE;
SET ROLE regress_cs_a;
DELETE FROM cs.lab WHERE id = 1;
RESET ROLE;
SELECT id, branch_id FROM cs.lab_all UNION ALL SELECT id, branch_id FROM cs.notebook_all;
SET ROLE regress_cs_b;
SELECT lamin.disable('cs.notebook');
RESET ROLE;
SET ROLE regress_cs_a;
SELECT lamin.disable('cs.lab');
RESET ROLE;
DROP TABLE cs.notebook, cs.lab;
REVOKE ALL ON SCHEMA cs FROM regress_cs_a, regress_cs_b;
DROP ROLE regress_cs_a;
DROP ROLE regress_cs_b;
TRUNCATE lamin.move_record;

-- the triggers cascade => true makes
SELECT tgname, tgnargs FROM pg_trigger WHERE tgrelid = 'cs.project_all'::regclass AND tgname LIKE 'lamin_%' ORDER BY 1;

DROP VIEW cs.branches;
DROP VIEW cs.log;
SELECT lamin.disable('cs.file');
SELECT lamin.disable('cs.sample');
SELECT lamin.disable('cs.project');
DROP SCHEMA cs CASCADE;
DROP ROLE regress_cs_app;
TRUNCATE lamin.move_record;
