-- The planner hook changes plans, never results: each query below returns the same rows with
-- lamin_branch.flatten_views on (the views read as their tables) and off (Postgres's own view
-- planning), over rows on every branch, NULLs included.
INSERT INTO lamin.artifact_all (id, uid, key, description, kind, size, branch_id, created_at) OVERRIDING SYSTEM VALUE
SELECT i, 'shp' || lpad(i::text, 13, 'A') || '0000', 'k' || (i % 7), CASE WHEN i % 5 = 0 THEN NULL ELSE 'd' || i END,
       CASE WHEN i % 3 = 0 THEN 'dataset' ELSE NULL END, i * 10, (i % 3) - 1, timestamptz '2024-01-01' + i * interval '1 day'
  FROM generate_series(1, 60) i;
CREATE SCHEMA shp;
CREATE TABLE shp.part (id int, grp int, note text, PRIMARY KEY (id, grp)) PARTITION BY LIST (grp);
CREATE TABLE shp.part_a PARTITION OF shp.part FOR VALUES IN (1);
CREATE TABLE shp.part_b PARTITION OF shp.part FOR VALUES IN (2);
INSERT INTO shp.part SELECT i, 1 + i % 2, 'n' || i FROM generate_series(1, 20) i;
SELECT relation FROM lamin.enable('shp.part');
DELETE FROM shp.part WHERE id % 4 = 0;
-- a table with dropped columns: view column k is not table column k
CREATE TABLE shp.gap (a int, id int PRIMARY KEY, b int, name text, c int, n int);
ALTER TABLE shp.gap DROP COLUMN a, DROP COLUMN b, DROP COLUMN c;
INSERT INTO shp.gap SELECT i, 'g' || i, i % 4 FROM generate_series(1, 30) i;
SELECT relation FROM lamin.enable('shp.gap');
DELETE FROM shp.gap WHERE id % 3 = 0;

\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/same_rows.sql

SELECT q, pg_temp.same(q) FROM (VALUES
  ('SELECT id, key FROM lamin.artifact'),
  ('SELECT id FROM lamin.artifact_archive'),
  ('SELECT id, description FROM lamin.artifact_trash WHERE description IS NULL'),
  ('SELECT * FROM lamin.artifact WHERE id BETWEEN 10 AND 40'),
  ('SELECT kind, count(*), sum(size) FROM lamin.artifact GROUP BY kind'),
  ('SELECT kind, key, count(*) FROM lamin.artifact GROUP BY GROUPING SETS ((kind), (key), ())'),
  ('SELECT id, rank() OVER (PARTITION BY key ORDER BY size DESC) FROM lamin.artifact'),
  ('SELECT DISTINCT ON (key) key, id FROM lamin.artifact ORDER BY key, id'),
  ('SELECT a.id, t.id FROM lamin.artifact a JOIN lamin.artifact_trash t ON t.key = a.key'),
  ('SELECT a.id, t.id FROM lamin.artifact a LEFT JOIN lamin.artifact_trash t ON t.id = a.id + 1'),
  ('SELECT a.id, t.id FROM lamin.artifact a RIGHT JOIN lamin.artifact_trash t ON t.id = a.id + 1'),
  ('SELECT a.id, t.id FROM lamin.artifact a FULL JOIN lamin.artifact_archive t ON t.id = a.id + 1'),
  ('SELECT id FROM lamin.artifact a NATURAL JOIN lamin.artifact b'),
  ('SELECT uid, a.id, b.id FROM lamin.artifact a JOIN lamin.artifact b USING (uid)'),
  ('SELECT x.id FROM lamin.artifact_all x WHERE EXISTS (SELECT 1 FROM lamin.artifact a WHERE a.id = x.id + 1)'),
  ('SELECT x.id FROM lamin.artifact_all x WHERE x.id NOT IN (SELECT id FROM lamin.artifact_trash)'),
  ('SELECT id, (SELECT count(*) FROM lamin.artifact b WHERE b.size < a.size) FROM lamin.artifact a'),
  ('SELECT id, (SELECT max(t.id) FROM lamin.artifact_trash t WHERE t.id < a.id AND t.key = a.key) FROM lamin.artifact a'),
  ('SELECT x.id, l.n FROM lamin.artifact_all x, LATERAL (SELECT count(*) AS n FROM lamin.artifact a WHERE a.size >= x.size) l'),
  ('SELECT a.id, t.id FROM lamin.artifact a, LATERAL (SELECT id FROM lamin.artifact_trash t WHERE t.id > a.id ORDER BY id LIMIT 1) t'),
  ('WITH m AS (SELECT * FROM lamin.artifact) SELECT key, count(*) FROM m GROUP BY key'),
  ('WITH m AS MATERIALIZED (SELECT * FROM lamin.artifact) SELECT a.id FROM m a JOIN m b ON b.id = a.id + 3'),
  ('WITH RECURSIVE r(id) AS (SELECT min(id) FROM lamin.artifact UNION ALL SELECT a.id FROM lamin.artifact a JOIN r ON a.id = r.id + 3) SELECT id FROM r'),
  ('SELECT id FROM lamin.artifact UNION SELECT id FROM lamin.artifact_archive'),
  ('SELECT key FROM lamin.artifact INTERSECT SELECT key FROM lamin.artifact_trash'),
  ('SELECT key FROM lamin.artifact EXCEPT ALL SELECT key FROM lamin.artifact_archive'),
  ('SELECT id FROM (SELECT * FROM lamin.artifact_all WHERE branch_id = 1 UNION ALL SELECT * FROM lamin.artifact_all WHERE branch_id = 0) u'),
  ('SELECT id FROM (SELECT * FROM lamin.artifact ORDER BY size DESC LIMIT 5 OFFSET 2) s'),
  ('SELECT v.x, a.id FROM (VALUES (1), (4), (7)) v(x) LEFT JOIN lamin.artifact a ON a.id = v.x'),
  ('SELECT a.id, g FROM lamin.artifact a, generate_series(1, a.id % 3) g'),
  ('SELECT id FROM lamin.artifact WHERE id = ANY (ARRAY(SELECT id + 2 FROM lamin.artifact_trash))'),
  ('SELECT count(*) FROM lamin.artifact HAVING count(*) > (SELECT count(*) / 2 FROM lamin.artifact_trash)'),
  ('SELECT a FROM lamin.artifact a WHERE id < 10'),
  ('SELECT row_to_json(t) FROM lamin.artifact_trash t WHERE id < 10'),
  ('SELECT a.id, t FROM lamin.artifact a LEFT JOIN lamin.artifact_trash t ON t.id = a.id + 1'),
  ('SELECT id, grp, note FROM shp.part'),
  ('SELECT id, grp FROM shp.part_trash'),
  ('SELECT p.id, a.id FROM shp.part p JOIN lamin.artifact a ON a.id = p.id'),
  ('SELECT grp, count(*) FROM shp.part WHERE note LIKE ''n1%'' GROUP BY grp'),
  ('SELECT * FROM shp.gap'),
  ('SELECT name, n FROM shp.gap WHERE n > 1 ORDER BY name'),
  ('SELECT g FROM shp.gap g'),
  ('SELECT id, name FROM shp.gap_trash'),
  ('SELECT g.name, t.name FROM shp.gap g LEFT JOIN shp.gap_trash t ON t.id = g.id + 1'),
  ('SELECT id, g.name, t.name FROM shp.gap g JOIN shp.gap_trash t USING (id, n)'),
  ('SELECT g.id, (SELECT count(*) FROM shp.gap h WHERE h.n = g.n AND h.id < g.id) FROM shp.gap g'),
  ('SELECT g.id, l.name FROM shp.gap g, LATERAL (SELECT name FROM shp.gap_trash t WHERE t.n = g.n ORDER BY t.id LIMIT 1) l'),
  ('SELECT n, string_agg(name, '','' ORDER BY name) FROM shp.gap GROUP BY ROLLUP (n)'),
  ('SELECT name FROM shp.gap WHERE EXISTS (SELECT 1 FROM shp.gap_trash t WHERE t.n = gap.n AND t.id > gap.id)'),
  ('WITH x AS (SELECT * FROM shp.gap) SELECT count(*), max(name) FROM x')
) v(q);

-- the view over the table with dropped columns reads the table, naming the right columns
EXPLAIN (VERBOSE, COSTS OFF) SELECT name, n FROM shp.gap WHERE n > 1;
SELECT lamin.disable('shp.part');
SELECT lamin.disable('shp.gap');
DROP SCHEMA shp CASCADE;
TRUNCATE lamin.artifact_all;
