-- A DELETE through a main or archive view is planned as one UPDATE of the table (module loaded,
-- lamin_branch.flatten_views on): the same rows, counts, RETURNING, rights and version heads as
-- the INSTEAD OF trigger gives row by row (flatten_views off), and still a DELETE to its client.
\set SHOW_CONTEXT never
CREATE SCHEMA ds;
CREATE ROLE regress_ds_app;
CREATE ROLE regress_ds_archivist;
CREATE TABLE ds.doc (id int PRIMARY KEY, uid varchar(20) NOT NULL, is_latest boolean NOT NULL DEFAULT true,
                     created_at timestamptz NOT NULL DEFAULT '2025-01-01', title text);
SELECT relation FROM lamin.enable('ds.doc');
GRANT USAGE ON SCHEMA ds TO regress_ds_app, regress_ds_archivist;
GRANT SELECT, INSERT, DELETE ON ds.doc TO regress_ds_app;
GRANT SELECT, DELETE ON ds.doc_archive TO regress_ds_archivist;
-- the same work on both plans: families of two versions, some archived
CREATE FUNCTION ds.reset() RETURNS void LANGUAGE sql AS $$
    TRUNCATE ds.doc_all;
    INSERT INTO ds.doc_all (id, uid, created_at, title, branch_id)
    SELECT i, 'ds' || lpad(((i + 1) / 2)::text, 14, '0') || lpad((i % 2)::text, 4, '0'),
           '2025-01-01'::timestamptz + i * interval '1 day', 't' || i, CASE WHEN i > 16 THEN 0 ELSE 1 END
      FROM generate_series(1, 20) i;
$$;
CREATE FUNCTION ds.state() RETURNS TABLE (id int, branch_id int, is_latest boolean)
LANGUAGE sql AS $$ SELECT id, branch_id, is_latest FROM ds.doc_all ORDER BY id $$;
CREATE TABLE ds.runs (plan text, step text, result text);
CREATE FUNCTION ds.run(plan text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    r text;
BEGIN
    PERFORM ds.reset();
    DELETE FROM ds.doc WHERE id BETWEEN 1 AND 6;
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO ds.runs VALUES (plan, 'delete 1-6', n::text || ' ' || FOUND::text);
    -- rows already in trash, or on another branch, are not deleted again
    DELETE FROM ds.doc WHERE id BETWEEN 5 AND 8 OR id = 17;
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO ds.runs VALUES (plan, 'delete 5-8, 17', n::text);
    -- RETURNING of columns the move leaves alone
    CREATE TEMP TABLE ret ON COMMIT DROP AS SELECT 1 AS id, 'x'::text AS title WITH NO DATA;
    WITH d AS (DELETE FROM ds.doc WHERE id IN (9, 10) RETURNING id, title)
    INSERT INTO ret SELECT * FROM d;
    SELECT string_agg(id || ':' || title, ' ' ORDER BY id) INTO r FROM ret;
    INSERT INTO ds.runs VALUES (plan, 'returning', r);
    -- the archive view moves archived rows to trash
    DELETE FROM ds.doc_archive WHERE id IN (17, 18, 11);
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO ds.runs VALUES (plan, 'archive delete', n::text);
    INSERT INTO ds.runs SELECT plan, 'state', string_agg(s.id || ':' || s.branch_id || ':' || s.is_latest, ' ' ORDER BY s.id)
      FROM ds.state() s;
    DROP TABLE ret;
END
$$;
SET lamin_branch.flatten_views = off;
SELECT ds.run('trigger');
RESET lamin_branch.flatten_views;
SELECT ds.run('update');
SELECT step, result FROM ds.runs WHERE plan = 'update' ORDER BY step;
-- both plans did the same
SELECT a.step FROM ds.runs a JOIN ds.runs b USING (step)
 WHERE a.plan = 'trigger' AND b.plan = 'update' AND a.result IS DISTINCT FROM b.result;
-- the plan: one UPDATE of the table, the view's condition first
EXPLAIN (COSTS OFF) DELETE FROM ds.doc WHERE title = 't1';
-- the client sees a DELETE and its count
\set QUIET off
SELECT ds.reset();
DELETE FROM ds.doc WHERE id <= 4;
DELETE FROM ds.doc WHERE id <= 4;
DELETE FROM ds.doc WHERE id = 5 RETURNING id;
\set QUIET on
-- RETURNING the branch shows the row as the view showed it: planned row by row
DELETE FROM ds.doc WHERE id = 6 RETURNING id, branch_id;
EXPLAIN (COSTS OFF) DELETE FROM ds.doc WHERE id = 6 RETURNING id, branch_id;
-- a DELETE trigger of the user's on the view: row by row, so that it fires
CREATE FUNCTION ds.note_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE NOTICE 'view statement trigger: %', TG_OP; RETURN NULL; END $$;
CREATE TRIGGER note_delete AFTER DELETE ON ds.doc FOR EACH STATEMENT EXECUTE FUNCTION ds.note_delete();
DELETE FROM ds.doc WHERE id = 7;
EXPLAIN (COSTS OFF) DELETE FROM ds.doc WHERE id = 7;
DROP TRIGGER note_delete ON ds.doc;
-- a prepared DELETE follows: planned again when the view's triggers change
PREPARE del(int) AS DELETE FROM ds.doc WHERE id = $1;
EXECUTE del(8);
SELECT id, branch_id FROM ds.doc_all WHERE id = 8;
-- rights: the application moves main rows; a role with DELETE on the archive view only moves
-- archived rows, and neither sees nor moves rows of the other branch
SELECT ds.reset();
SET ROLE regress_ds_app;
DELETE FROM ds.doc WHERE id IN (1, 17);
DELETE FROM ds.doc_archive WHERE id = 18;
RESET ROLE;
SET ROLE regress_ds_archivist;
DELETE FROM ds.doc_archive WHERE id IN (2, 18);
DELETE FROM ds.doc WHERE id = 3;
RESET ROLE;
SELECT id, branch_id FROM ds.doc_all WHERE id IN (1, 2, 3, 17, 18) ORDER BY id;
SELECT lamin.disable('ds.doc');
DROP SCHEMA ds CASCADE;
DROP ROLE regress_ds_app;
DROP ROLE regress_ds_archivist;
