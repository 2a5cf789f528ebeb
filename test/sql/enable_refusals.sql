-- lamin.enable() refuses what it cannot branch-enable, and lamin.disable() what is not enabled:
-- each refusal is a clear error with a specific SQLSTATE, and leaves the table exactly as it was.
\set SHOW_CONTEXT never
CREATE SCHEMA refuse;
CREATE TABLE refuse.t (id integer PRIMARY KEY, name text NOT NULL DEFAULT '');
GRANT SELECT, DELETE, TRUNCATE ON refuse.t TO PUBLIC;
INSERT INTO refuse.t VALUES (1, 'one'), (2, 'two');
-- what enable() changes, read from the catalogs: relations of the schema, their columns,
-- constraints, indexes, triggers, RLS and policies, privileges (but the owner's), and the registry
CREATE FUNCTION pg_temp.shape(nsp name) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT format('%s %s rls=%s acl=%s', c.relname, c.relkind, c.relrowsecurity,
                  (SELECT string_agg(g || ':' || p, ' ' ORDER BY g)
                     FROM (SELECT CASE WHEN x.grantee = 0 THEN 'public' ELSE x.grantee::regrole::text END AS g,
                                  string_agg(x.privilege_type, ',' ORDER BY x.privilege_type) AS p
                             FROM aclexplode(c.relacl) x
                            -- MAINTAIN (PostgreSQL 17) stays on the table
                            WHERE x.grantee <> c.relowner AND x.privilege_type <> 'MAINTAIN' GROUP BY 1) x))
      FROM pg_class c WHERE c.relnamespace = nsp::regnamespace
    UNION ALL
    SELECT format('  column %s.%s %s%s%s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                  CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                  coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''))
      FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
     WHERE c.relnamespace = nsp::regnamespace AND c.relkind <> 'i'
    UNION ALL
    SELECT format('  constraint %s.%s %s', c.relname, k.conname, pg_get_constraintdef(k.oid))
      FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid WHERE c.relnamespace = nsp::regnamespace AND k.contype <> 'n'
    UNION ALL
    SELECT format('  trigger %s.%s%s', c.relname, g.tgname, CASE WHEN g.tgisinternal THEN ' (internal)' ELSE '' END)
      FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid WHERE c.relnamespace = nsp::regnamespace
    UNION ALL
    SELECT format('  policy %s.%s %s %s', c.relname, p.polname, p.polcmd, pg_get_expr(p.polqual, p.polrelid))
      FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = nsp::regnamespace
    UNION ALL
    SELECT format('  registered %s', e.relation) FROM lamin.enabled_table e
      JOIN pg_class c ON c.oid = e.relation WHERE c.relnamespace = nsp::regnamespace
    ORDER BY 1
$$;
CREATE TEMP TABLE before AS SELECT * FROM pg_temp.shape('refuse');
SELECT * FROM before;
-- whether the schema is exactly as it was before
CREATE FUNCTION pg_temp.unchanged() RETURNS boolean LANGUAGE sql AS $$
    SELECT NOT EXISTS ((SELECT * FROM pg_temp.shape('refuse') EXCEPT ALL SELECT * FROM before)
                       UNION ALL (SELECT * FROM before EXCEPT ALL SELECT * FROM pg_temp.shape('refuse')))
$$;

-- NULL
SELECT lamin.enable(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.enable(NULL, 'refuse');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.disable(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- no such table
SELECT lamin.enable('refuse.nope');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- a role that does not own the table, even with every privilege on it
CREATE ROLE regress_lamin_stranger NOLOGIN;
GRANT USAGE, CREATE ON SCHEMA refuse TO regress_lamin_stranger;
GRANT ALL ON refuse.t TO regress_lamin_stranger;
DELETE FROM before WHERE shape LIKE 't r %';
INSERT INTO before SELECT * FROM pg_temp.shape('refuse') WHERE shape LIKE 't r %';
SELECT * FROM before WHERE shape LIKE 't r %';
SET ROLE regress_lamin_stranger;
SELECT lamin.enable('refuse.t');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.enable('refuse.t', 'public');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT pg_temp.unchanged();

-- views, materialized views, and other relations that are not tables
CREATE VIEW refuse.v AS SELECT * FROM refuse.t;
CREATE MATERIALIZED VIEW refuse.mv AS SELECT * FROM refuse.t;
CREATE SEQUENCE refuse.seq;
SELECT lamin.enable('refuse.v');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.enable('refuse.mv');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.enable('refuse.seq');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.enable('refuse.t_pkey');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP VIEW refuse.v;
DROP MATERIALIZED VIEW refuse.mv;
DROP SEQUENCE refuse.seq;
SELECT pg_temp.unchanged();

-- temporary tables
CREATE TEMP TABLE tmp (id integer PRIMARY KEY);
SELECT lamin.enable('tmp');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TABLE tmp;

-- foreign tables
CREATE FOREIGN DATA WRAPPER regress_lamin_fdw;
CREATE SERVER regress_lamin_server FOREIGN DATA WRAPPER regress_lamin_fdw;
CREATE FOREIGN TABLE refuse.ft (id integer NOT NULL) SERVER regress_lamin_server;
SELECT lamin.enable('refuse.ft');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP FOREIGN TABLE refuse.ft;
DROP SERVER regress_lamin_server;
DROP FOREIGN DATA WRAPPER regress_lamin_fdw;

-- system catalogs
SELECT lamin.enable('pg_class');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.enable('information_schema.sql_features');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- tables of extensions: artifacts are enabled already (by their table or a view), the branch
-- catalog belongs to the extension
SELECT lamin.enable('lamin.artifact_all');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.enable('lamin.artifact');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.enable('lamin.branch');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.enable('lamin.space', 'refuse');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.disable('lamin.artifact_all');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.disable('lamin.artifact_trash');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT relation, mode, main_view FROM lamin.enabled_table ORDER BY relation::text;

-- partitions: the partitioned table is what is enabled
CREATE TABLE refuse.p (id integer PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE refuse.p1 PARTITION OF refuse.p FOR VALUES FROM (0) TO (100);
SELECT lamin.enable('refuse.p1');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TABLE refuse.p;

-- a table without a primary key (a unique constraint is not enough)
CREATE TABLE refuse.nokey (id integer UNIQUE NOT NULL, name text);
SELECT lamin.enable('refuse.nokey');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.enable('refuse.nokey', 'public');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TABLE refuse.nokey;

-- a branch_id column that is not an integer
CREATE TABLE refuse.textbranch (id integer PRIMARY KEY, branch_id text);
SELECT lamin.enable('refuse.textbranch');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TABLE refuse.textbranch;

-- views_schema: a schema that does not exist, or the table's own schema
SELECT lamin.enable('refuse.t', 'no_such_schema');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.enable('refuse.t', 'refuse');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged();

-- names enable() would take are taken: the renamed table's, a view's
CREATE TABLE refuse.t_all (id integer);
SELECT lamin.enable('refuse.t');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TABLE refuse.t_all;
CREATE TABLE refuse.t_archive (id integer);
SELECT lamin.enable('refuse.t');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TABLE refuse.t_archive;
CREATE VIEW refuse.t_trash AS SELECT 1 AS one;
SELECT lamin.enable('refuse.t');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP VIEW refuse.t_trash;
-- in views mode, the views' schema has a relation of the table's name
CREATE SCHEMA refuse_views;
CREATE TABLE refuse_views.t (id integer);
SELECT lamin.enable('refuse.t', 'refuse_views');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TABLE refuse_views.t;
CREATE SEQUENCE refuse_views.t_archive;
SELECT lamin.enable('refuse.t', 'refuse_views');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP SEQUENCE refuse_views.t_archive;
SELECT pg_temp.unchanged();

-- failures half-way through enable(): the table was already renamed and had columns added when
-- the error came, and is exactly as before
CREATE TRIGGER lamin_branch_row BEFORE UPDATE ON refuse.t
    FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
DELETE FROM before; INSERT INTO before SELECT * FROM pg_temp.shape('refuse');
SELECT lamin.enable('refuse.t');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged();
DROP TRIGGER lamin_branch_row ON refuse.t;
CREATE POLICY lamin_branch_main ON refuse.t USING (true);
DELETE FROM before; INSERT INTO before SELECT * FROM pg_temp.shape('refuse');
SELECT lamin.enable('refuse.t');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged();
DROP POLICY lamin_branch_main ON refuse.t;
-- the owner may not create the views in the table's schema
REVOKE CREATE ON SCHEMA refuse FROM regress_lamin_stranger;
CREATE TABLE refuse.theirs (id integer PRIMARY KEY);
ALTER TABLE refuse.theirs OWNER TO regress_lamin_stranger;
DELETE FROM before; INSERT INTO before SELECT * FROM pg_temp.shape('refuse');
SET ROLE regress_lamin_stranger;
SELECT lamin.enable('refuse.theirs');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT pg_temp.unchanged();
DROP TABLE refuse.theirs;
DELETE FROM before; INSERT INTO before SELECT * FROM pg_temp.shape('refuse');
SELECT * FROM refuse.t ORDER BY id;

-- enabled twice, disabled twice: both are errors (enable() runs once per table)
SELECT relation, mode, main_view, original_name FROM lamin.enable('refuse.t');
SELECT lamin.enable('refuse.t');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.enable('refuse.t_all');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.enable('refuse.t_trash', 'refuse_views');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- only the owner disables
SET ROLE regress_lamin_stranger;
SELECT lamin.disable('refuse.t_all');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
-- by the name of its main view; the columns enable() added go too, and the table is as before
SELECT lamin.disable('refuse.t', drop_columns => true);
SELECT pg_temp.unchanged();
SELECT * FROM refuse.t ORDER BY id;
SELECT lamin.disable('refuse.t');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.disable('refuse.t_all');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- what a table that was never enabled gets from the other functions
SELECT lamin.refresh_views('refuse.t');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.delete('refuse.t', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.delete_many('refuse.t', ARRAY[1]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

DROP SCHEMA refuse, refuse_views CASCADE;
DROP OWNED BY regress_lamin_stranger;
DROP ROLE regress_lamin_stranger;
