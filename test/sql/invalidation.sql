-- The extension's per-table cache across invalidations in the middle of a statement: a user
-- trigger that changes the table's grants (a relcache invalidation) on every row while a view
-- DELETE, a bulk move and a single move run. What the running statement uses stays valid until it
-- ends; the next row sees the new state.
\set SHOW_CONTEXT never
CREATE SCHEMA s;
CREATE ROLE regress_reent;
CREATE TABLE s.reent (id int PRIMARY KEY, uid text, is_latest boolean NOT NULL DEFAULT true, n int);
INSERT INTO s.reent SELECT i, lpad(i::text, 16, '0') || '0000', true, 0 FROM generate_series(1, 400) i;
SELECT relation FROM lamin.enable('s.reent');
CREATE FUNCTION s.churn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- GRANT and REVOKE send a relcache invalidation for the table being updated
    GRANT SELECT ON s.reent_all TO regress_reent;
    REVOKE SELECT ON s.reent_all FROM regress_reent;
    ANALYZE s.reent_all;
    RETURN NEW;
END
$$;
CREATE TRIGGER churn BEFORE UPDATE ON s.reent_all FOR EACH ROW EXECUTE FUNCTION s.churn();
-- view DELETE: each row moved by the INSTEAD OF trigger invalidates the table
DELETE FROM s.reent WHERE id BETWEEN 2 AND 200;
SELECT branch_id, count(*) FROM s.reent_all GROUP BY 1 ORDER BY 1;
-- the bulk and single moves, the same way
SELECT count(*) FROM lamin.restore_many('s.reent', ARRAY(SELECT generate_series(2, 200)));
SELECT action, from_branch, to_branch FROM lamin.delete('s.reent', 300);
SELECT action, from_branch, to_branch FROM lamin.restore('s.reent', 300);
SELECT branch_id, count(*) FROM s.reent_all GROUP BY 1 ORDER BY 1;
-- the heads stay right: one per family on main
SELECT count(*) FILTER (WHERE is_latest) AS heads, count(*) AS rows FROM s.reent;
-- the churn trigger goes before the table is disabled
DROP TRIGGER churn ON s.reent_all;
SELECT lamin.disable('s.reent');
DROP SCHEMA s CASCADE;
DROP ROLE regress_reent;
