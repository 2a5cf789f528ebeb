-- The extension installs into schema lamin and refuses to be loaded twice or relocated.
SELECT extname, extversion, extrelocatable, n.nspname
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'lamin_branch';
CREATE EXTENSION lamin_branch;
ALTER EXTENSION lamin_branch SET SCHEMA public;
-- every member object, by kind (from PostgreSQL 17 the row types of tables and views, and
-- array types, are recorded as members too: they come with their relations and are left out)
SELECT pg_describe_object(classid, objid, 0) AS object
  FROM pg_depend d
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'lamin_branch')
   AND NOT EXISTS (SELECT 1 FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
                    WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
                      AND (t.typcategory = 'A' OR c.relkind IN ('r', 'v', 'p')))
 ORDER BY 1;
-- settings under the prefix are reserved once the library is loaded
SELECT length(lamin.random_base62(1));
SET lamin_branch.nonexistent = 1;
