-- Objects planted in schema lamin before CREATE EXTENSION make it fail; it never adopts them.
\set SHOW_CONTEXT never
DROP EXTENSION lamin_branch;
SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'lamin';
DROP SCHEMA lamin;
CREATE ROLE regress_planter NOLOGIN;
CREATE SCHEMA lamin AUTHORIZATION regress_planter;
SET ROLE regress_planter;
CREATE FUNCTION lamin.enable(tbl regclass) RETURNS void LANGUAGE sql AS 'SELECT';
CREATE TABLE lamin.enabled_table (relation regclass);
RESET ROLE;
CREATE EXTENSION lamin_branch;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- an empty schema of another role is refused too: its owner could add objects later
DROP FUNCTION lamin.enable(regclass);
DROP TABLE lamin.enabled_table;
CREATE EXTENSION lamin_branch;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- nothing was created
SELECT count(*) FROM pg_extension WHERE extname = 'lamin_branch';
DROP SCHEMA lamin;
DROP ROLE regress_planter;
-- a schema of our own that already holds something is refused as well
CREATE SCHEMA lamin;
CREATE TABLE lamin.branch (id int);
CREATE EXTENSION lamin_branch;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TABLE lamin.branch;
CREATE EXTENSION lamin_branch;
SELECT extversion FROM pg_extension WHERE extname = 'lamin_branch';
