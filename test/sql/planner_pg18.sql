-- PostgreSQL 18 and later: what 18 added to the queries the planner hook rewrites. The hook
-- changes plans, never results: each query returns the same rows with lamin_branch.flatten_views
-- on and off.
-- the module names itself and its version (PG_MODULE_MAGIC_EXT)
SELECT module_name, version FROM pg_get_loaded_modules() WHERE module_name = 'lamin_branch';
CREATE SCHEMA p18;
-- a virtual generated column (18): computed when read, through the view as on the table
CREATE TABLE p18.item (id int PRIMARY KEY, price int NOT NULL, qty int NOT NULL,
                       total int GENERATED ALWAYS AS (price * qty) VIRTUAL);
INSERT INTO p18.item (id, price, qty) SELECT i, i * 10, i % 4 FROM generate_series(1, 12) i;
SELECT relation FROM lamin.enable('p18.item');
DELETE FROM p18.item WHERE id % 3 = 0;
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/same_rows.sql
SELECT q, pg_temp.same(q) FROM (VALUES
    ('SELECT id, total FROM p18.item'),
    ('SELECT total, count(*) FROM p18.item GROUP BY total'),
    ('SELECT i FROM p18.item i WHERE total > 50'),
    ('SELECT id FROM p18.item WHERE total = (SELECT max(total) FROM p18.item)'),
    -- GROUP BY now has a range entry of its own (RTE_GROUP); whole rows and columns through it
    ('SELECT i, count(*) FROM p18.item i GROUP BY i'),
    ('SELECT qty, sum(price) FROM p18.item GROUP BY ROLLUP (qty)'),
    ('SELECT qty, array_agg(id ORDER BY id) FROM p18.item i GROUP BY qty HAVING count(*) > 1'),
    ('SELECT x.qty, x.n FROM (SELECT qty, count(*) AS n FROM p18.item GROUP BY qty) x JOIN p18.item i ON i.id = x.n')
) v(q);
EXPLAIN (COSTS OFF) SELECT id, total FROM p18.item WHERE id = 1;
SELECT id, total FROM p18.item ORDER BY id;
-- RETURNING OLD and NEW (18) through the main view
UPDATE p18.item SET qty = qty + 1 WHERE id = 1 RETURNING old.total AS before, new.total AS after;
DELETE FROM p18.item WHERE id = 2 RETURNING old.id, old.total;
SELECT id, branch_id FROM p18.item_all WHERE id IN (1, 2) ORDER BY id;
SELECT lamin.disable('p18.item');
DROP SCHEMA p18 CASCADE;
