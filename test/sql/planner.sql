-- Reading a branch view costs what reading its table costs: with lamin_branch preloaded, the
-- planner reads the view as its table, the view's condition a security qual of the table. With
-- lamin_branch.flatten_views = off Postgres plans the view itself: same rows, same protection.
SHOW lamin_branch.flatten_views;
SELECT last_value AS seq_last, is_called AS seq_called FROM lamin.artifact_all_id_seq \gset
INSERT INTO lamin.artifact_all (id, uid, key, description, branch_id, size) OVERRIDING SYSTEM VALUE VALUES
    (1, 'planMAINAAAAAAAA0000', 'a-main', 'visible', 1, 10),
    (2, 'planARCHAAAAAAAA0000', 'b-archive', 'secret-archive', 0, 20),
    (3, 'planTRSHAAAAAAAA0000', 'c-trash', 'secret-trash', -1, 30),
    (4, 'planMAINBBBBBBBB0000', 'd-main', 'visible too', 1, 40);
SET enable_seqscan = off;

-- the view's plan is the plan of the hand-written predicate (Postgres reaches the same plan
-- for this query without the hook, after planning the view as a subquery first)
EXPLAIN (COSTS OFF) SELECT sum(size) FROM lamin.artifact WHERE id BETWEEN 1 AND 3;
EXPLAIN (COSTS OFF) SELECT sum(size) FROM lamin.artifact_all WHERE branch_id = 1 AND id BETWEEN 1 AND 3;
SET lamin_branch.flatten_views = off;
EXPLAIN (COSTS OFF) SELECT sum(size) FROM lamin.artifact WHERE id BETWEEN 1 AND 3;
RESET lamin_branch.flatten_views;
-- the archive and trash views, security barriers, lose their subquery scan too
EXPLAIN (COSTS OFF) SELECT key FROM lamin.artifact_trash WHERE id = 3;
SET lamin_branch.flatten_views = off;
EXPLAIN (COSTS OFF) SELECT key FROM lamin.artifact_trash WHERE id = 3;
RESET lamin_branch.flatten_views;
RESET enable_seqscan;

-- the same rows wherever a view appears: joins, outer joins, sublinks, CTEs, unions, lateral
SELECT key FROM lamin.artifact ORDER BY key;
SELECT a.key, t.key AS trash_key
  FROM lamin.artifact a LEFT JOIN lamin.artifact_trash t ON t.id = a.id + 2 ORDER BY 1;
SELECT key FROM lamin.artifact_all x
 WHERE EXISTS (SELECT 1 FROM lamin.artifact a WHERE a.id = x.id) ORDER BY 1;
WITH m AS (SELECT * FROM lamin.artifact) SELECT count(*), sum(size) FROM m;
SELECT key FROM lamin.artifact UNION ALL SELECT key FROM lamin.artifact_archive ORDER BY 1;
SELECT u.uid, u.key, u.branch_id FROM (SELECT * FROM lamin.artifact UNION ALL SELECT * FROM lamin.artifact_trash) u ORDER BY 1;
SELECT count(*) FROM (SELECT * FROM lamin.artifact_all WHERE branch_id = 1
                      UNION ALL SELECT * FROM lamin.artifact_all WHERE branch_id = 0) u;
SELECT count(*) FROM (SELECT * FROM lamin.artifact_all WHERE branch_id = 1) hand_written;

SELECT x.key, l.n FROM lamin.artifact_all x,
       LATERAL (SELECT count(*) AS n FROM lamin.artifact a WHERE a.size >= x.size) l ORDER BY 1;
SELECT key FROM lamin.artifact WHERE id IN (SELECT id FROM lamin.artifact_archive) ORDER BY 1;

-- a leaky function the planner thinks is nearly free sees main rows only, either way
CREATE FUNCTION public.plan_leak(text) RETURNS boolean
LANGUAGE plpgsql COST 0.0000001 AS $$ BEGIN RAISE NOTICE 'leak saw: %', $1; RETURN true; END $$;
SELECT key FROM lamin.artifact WHERE public.plan_leak(description) ORDER BY 1;
EXPLAIN (COSTS OFF) SELECT key FROM lamin.artifact WHERE public.plan_leak(description);
SET lamin_branch.flatten_views = off;
SELECT key FROM lamin.artifact WHERE public.plan_leak(description) ORDER BY 1;
RESET lamin_branch.flatten_views;
-- an error oracle never runs on a hidden value
SELECT key FROM lamin.artifact WHERE 1 / (CASE WHEN description LIKE 'secret%' THEN 0 ELSE 1 END) = 1 ORDER BY 1;

-- a whole-row reference reads the table's row, which has the view's columns; it keeps the view's
-- row type. So does the row Postgres hands an INSTEAD OF trigger: DELETE through the view reads
-- the table directly too.
EXPLAIN (COSTS OFF) SELECT a FROM lamin.artifact a WHERE id = 1;
SELECT (a).key, pg_typeof(a) FROM lamin.artifact a ORDER BY 1;
EXPLAIN (COSTS OFF) DELETE FROM lamin.artifact WHERE id = 1;
-- left to Postgres: rows locked FOR UPDATE, and a whole-row reference where the table's row is
-- not the view's (the table has a dropped column); its columns are read from the table
EXPLAIN (COSTS OFF) SELECT key FROM lamin.artifact WHERE id = 1 FOR UPDATE;
SELECT key FROM lamin.artifact WHERE id = 1 FOR UPDATE;
CREATE TABLE public.plan_dropped (id int PRIMARY KEY, gone int, v text);
ALTER TABLE public.plan_dropped DROP COLUMN gone;
INSERT INTO public.plan_dropped VALUES (1, 'one'), (2, 'two');
SELECT relation FROM lamin.enable('public.plan_dropped');
DELETE FROM public.plan_dropped WHERE id = 2;
EXPLAIN (COSTS OFF) SELECT t FROM public.plan_dropped t;
EXPLAIN (COSTS OFF) SELECT v FROM public.plan_dropped t;
SELECT t FROM public.plan_dropped t;
SELECT lamin.disable('public.plan_dropped');
DROP TABLE public.plan_dropped;
-- a view of a view: the inner one becomes the table, the outer stays a view
CREATE VIEW public.plan_big AS SELECT * FROM lamin.artifact WHERE size > 15;
SELECT key FROM public.plan_big ORDER BY 1;
-- a view of the same shape over a table that is not branch-enabled is left as it is
CREATE TABLE public.plan_plain (id int, v int);
CREATE VIEW public.plan_plain_v WITH (security_barrier = true) AS SELECT * FROM public.plan_plain WHERE v > 0;
EXPLAIN (COSTS OFF) SELECT * FROM public.plan_plain_v WHERE public.plan_leak(id::text);

-- privileges are checked on the view as before: a role granted the view reads it, a role
-- without the grant is refused, also by a statement prepared and planned for the first role
CREATE ROLE regress_plan_reader NOLOGIN;
CREATE ROLE regress_plan_nobody NOLOGIN;
GRANT USAGE ON SCHEMA lamin TO regress_plan_reader, regress_plan_nobody;
GRANT SELECT ON lamin.artifact TO regress_plan_reader;
SET ROLE regress_plan_reader;
PREPARE plan_count AS SELECT count(*) FROM lamin.artifact WHERE id > 0;
EXECUTE plan_count;
EXECUTE plan_count;
EXECUTE plan_count;
EXECUTE plan_count;
EXECUTE plan_count;
EXECUTE plan_count;
SELECT count(*) FROM lamin.artifact_all;
RESET ROLE;
SET ROLE regress_plan_nobody;
EXECUTE plan_count;
SELECT count(*) FROM lamin.artifact;
RESET ROLE;
DEALLOCATE plan_count;

-- writes that read a view: INSERT ... SELECT and UPDATE ... FROM see main rows only
CREATE TEMP TABLE plan_copy AS SELECT id, key FROM lamin.artifact WHERE false;
INSERT INTO plan_copy SELECT id, key FROM lamin.artifact;
SELECT * FROM plan_copy ORDER BY id;
UPDATE plan_copy c SET key = a.key || '!' FROM lamin.artifact_all x, lamin.artifact a
 WHERE a.id = c.id AND x.id = a.id;
SELECT * FROM plan_copy ORDER BY id;
SELECT setval('lamin.artifact_all_id_seq', 100) IS NOT NULL AS reset;
INSERT INTO lamin.artifact (key, description) SELECT key || '-copy', description FROM lamin.artifact WHERE id = 1;
SELECT key FROM lamin.artifact ORDER BY 1;

DROP VIEW public.plan_big;
DROP VIEW public.plan_plain_v;
DROP TABLE public.plan_plain;
DROP FUNCTION public.plan_leak(text);
REVOKE ALL ON lamin.artifact FROM regress_plan_reader;
REVOKE USAGE ON SCHEMA lamin FROM regress_plan_reader, regress_plan_nobody;
DROP ROLE regress_plan_reader;
DROP ROLE regress_plan_nobody;
TRUNCATE lamin.artifact_all;
SELECT setval('lamin.artifact_all_id_seq', :seq_last, :'seq_called'::boolean) IS NOT NULL AS restored;
