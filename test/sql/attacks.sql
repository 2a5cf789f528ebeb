-- A hostile role with the ordinary application grants tries every path to hidden rows, to
-- foreign code running with the extension's rights, and to more rights than it was given. It is
-- also granted the base table, which application roles never need: row-level security still
-- shows it main only there.
\set SHOW_CONTEXT never
INSERT INTO lamin.artifact_all (id, uid, key, description, branch_id) OVERRIDING SYSTEM VALUE VALUES
    (1, 'atkMAINAAAAAAAAA0000', 'main-row', 'visible', 1),
    (2, 'atkARCHAAAAAAAAA0000', 'archive-row', 'secret-archive', 0),
    (3, 'atkTRSHAAAAAAAAA0000', 'trash-row', 'secret-trash', -1);
CREATE ROLE regress_hostile NOLOGIN;
CREATE ROLE regress_admin NOLOGIN;
GRANT SELECT, INSERT, UPDATE ON lamin.artifact_all TO regress_hostile;
GRANT SELECT, INSERT, UPDATE, DELETE ON lamin.artifact TO regress_hostile;
GRANT SELECT, DELETE ON lamin.artifact_trash, lamin.artifact_archive TO regress_admin;
GRANT CREATE ON SCHEMA public TO regress_hostile;
SELECT setval('lamin.artifact_all_id_seq', 100);

-- 1. leaks: a cheap leaky function, error oracles, EXPLAIN ANALYZE
CREATE FUNCTION public.leak(text) RETURNS boolean
LANGUAGE plpgsql COST 0.0000001 AS $$ BEGIN RAISE NOTICE 'leak saw: %', $1; RETURN true; END $$;
SET ROLE regress_hostile;
SELECT key FROM lamin.artifact WHERE public.leak(description);
SELECT key FROM lamin.artifact_all WHERE public.leak(description);
SELECT key FROM lamin.artifact WHERE 1 / (CASE WHEN description LIKE 'secret%' THEN 0 ELSE 1 END) = 1;
SELECT key FROM lamin.artifact_all WHERE description::int > 0;
SELECT key FROM lamin.artifact_all WHERE (SELECT 1 / (a2.branch_id + 1) FROM lamin.artifact_all a2 WHERE a2.branch_id = -1 LIMIT 1) IS NULL;
-- EXPLAIN ANALYZE shows no hidden value (row counts of a filter are Postgres's own limit of RLS)
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF) SELECT key FROM lamin.artifact WHERE public.leak(description);
SELECT key FROM lamin.artifact_trash;
SELECT key FROM lamin.artifact_archive;
RESET ROLE;
SET ROLE regress_admin;
SELECT key FROM lamin.artifact_trash WHERE public.leak(description);
SELECT key FROM lamin.artifact_archive WHERE 1 / (CASE WHEN branch_id = 1 THEN 0 ELSE 1 END) = 1;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF) SELECT key FROM lamin.artifact_trash WHERE public.leak(description);
RESET ROLE;

-- 2. plan caches: the same prepared statement, SQL function, CTE and sublink under two roles
PREPARE all_rows AS SELECT count(*) FROM lamin.artifact_all;
EXECUTE all_rows; EXECUTE all_rows; EXECUTE all_rows; EXECUTE all_rows; EXECUTE all_rows; EXECUTE all_rows;
SET ROLE regress_hostile;
EXECUTE all_rows;
RESET ROLE;
EXECUTE all_rows;
SET ROLE regress_hostile;
PREPARE mine AS SELECT key FROM lamin.artifact_all ORDER BY key;
EXECUTE mine; EXECUTE mine; EXECUTE mine; EXECUTE mine; EXECUTE mine; EXECUTE mine;
RESET ROLE;
EXECUTE mine;
SET ROLE regress_admin;
EXECUTE mine;
RESET ROLE;
CREATE FUNCTION public.count_all() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM lamin.artifact_all';
SELECT public.count_all();
SET ROLE regress_hostile;
SELECT public.count_all();
WITH x AS (SELECT * FROM lamin.artifact_all) SELECT count(*) FROM x;
SELECT (SELECT count(*) FROM lamin.artifact_all WHERE branch_id = -1) AS trashed_seen;
SELECT count(*) FROM lamin.artifact WHERE EXISTS (SELECT 1 FROM lamin.artifact_all t WHERE t.branch_id <> 1);
RESET ROLE;
DEALLOCATE all_rows;
DEALLOCATE mine;

-- 3. settings: none a role can set widens what it sees
SET ROLE regress_hostile;
SET row_security = off;
SELECT key FROM lamin.artifact_all;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET row_security;
SET lamin_branch.show_trash = on;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET session_replication_role = replica;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- the one setting there is only changes how the views are planned, not what they show
SET lamin_branch.flatten_views = off;
SELECT key FROM lamin.artifact WHERE public.leak(description);
SELECT key FROM lamin.artifact_trash;
RESET lamin_branch.flatten_views;
RESET ROLE;

-- 4. search_path: functions, operators and tables with the names and signatures the extension
-- uses, planted where an unqualified name would find them first
SET ROLE regress_hostile;
CREATE TABLE public.pwned (what text);
CREATE FUNCTION public.substr(text, integer, integer) RETURNS text LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO public.pwned VALUES ('substr'); RETURN pg_catalog.substr($1, $2, $3); END $$;
CREATE FUNCTION public.lower(text) RETURNS text LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO public.pwned VALUES ('lower'); RETURN pg_catalog.lower($1); END $$;
CREATE FUNCTION public.int4eq_planted(integer, integer) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO public.pwned VALUES ('int4 ='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR public.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = public.int4eq_planted);
CREATE FUNCTION public.int8eq_planted(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO public.pwned VALUES ('int8 ='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR public.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.int8eq_planted);
CREATE TABLE public.branch (id int, name text);
CREATE TABLE public.enabled_table (relation regclass);
CREATE FUNCTION public.random_base62(integer) RETURNS text LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO public.pwned VALUES ('random_base62'); RETURN 'x'; END $$;
SET search_path = public, pg_temp, pg_catalog;
SELECT 1 = 1 AS planted_operator_is_live;
RESET ROLE;
GRANT EXECUTE ON FUNCTION lamin.artifact_delete(bigint, boolean), lamin.delete(regclass, anyelement, boolean),
      lamin.delete_many(regclass, anyarray, boolean, text) TO regress_hostile;
SET ROLE regress_hostile;
SET search_path = public, pg_temp, pg_catalog;
INSERT INTO lamin.artifact (uid, key) VALUES ('atkNEWAAAAAAAAAA0000', 'new');
INSERT INTO lamin.artifact (uid, key, hash) VALUES ('atkNEWAAAAAAAAAA0001', 'new', 'v2');
SELECT action FROM lamin.artifact_delete((SELECT id FROM lamin.artifact WHERE uid = 'atkNEWAAAAAAAAAA0001'));
DELETE FROM lamin.artifact WHERE uid = 'atkNEWAAAAAAAAAA0000';
SELECT action FROM lamin.delete('lamin.artifact', 1::bigint);
SELECT action FROM lamin.delete_many('lamin.artifact', ARRAY[1::bigint]);
SELECT lamin.find_branch('main');
DELETE FROM public.pwned WHERE what = 'int4 =';   -- left by the hostile role's own SELECT 1 = 1 above
SELECT what, count(*) FROM public.pwned GROUP BY what ORDER BY what;
RESET search_path;
RESET ROLE;
SELECT what, count(*) FROM public.pwned GROUP BY what ORDER BY what;

-- 5. rights: the hostile role cannot purge, restore, truncate, unlock or enable what it does not own
SELECT action FROM lamin.artifact_restore(1);
SET ROLE regress_hostile;
DELETE FROM lamin.artifact_trash;
SELECT lamin.artifact_delete(3, permanent => true);
SELECT lamin.delete('lamin.artifact', 3::bigint, permanent => true);
TRUNCATE lamin.artifact_all;
SELECT lamin.enable('lamin.branch');
UPDATE lamin.artifact_all SET branch_id = -1 WHERE id = 1;
RESET ROLE;
UPDATE lamin.artifact SET is_locked = true WHERE id = 1;
SET ROLE regress_hostile;
UPDATE lamin.artifact SET is_locked = false WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
UPDATE lamin.artifact SET is_locked = false WHERE id = 1;
SELECT id, branch_id, is_locked FROM lamin.artifact_all ORDER BY id;

DROP TABLE public.pwned, public.branch, public.enabled_table;
DROP OPERATOR public.= (integer, integer);
DROP OPERATOR public.= (bigint, bigint);
DROP FUNCTION public.substr(text, integer, integer), public.lower(text), public.int4eq_planted(integer, integer),
     public.int8eq_planted(bigint, bigint), public.random_base62(integer), public.leak(text), public.count_all();
REVOKE ALL ON lamin.artifact_all, lamin.artifact, lamin.artifact_trash, lamin.artifact_archive FROM regress_hostile, regress_admin;
REVOKE ALL ON FUNCTION lamin.artifact_delete(bigint, boolean), lamin.delete(regclass, anyelement, boolean),
      lamin.delete_many(regclass, anyarray, boolean, text) FROM regress_hostile;
REVOKE CREATE ON SCHEMA public FROM regress_hostile;
DROP ROLE regress_hostile;
DROP ROLE regress_admin;
TRUNCATE lamin.artifact_all;
