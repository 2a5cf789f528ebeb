-- lamin.disable() undoes lamin.enable() exactly: the table's name, privileges, row-level security,
-- triggers and policies come back, nothing enable() made is left, every row stays. While a table
-- is enabled, its views follow ALTER TABLE, and DROP TABLE takes it out of the registry.
\set SHOW_CONTEXT never
-- the catalog entries of a schema's relations: columns, constraints, triggers, policies,
-- row-level security, privileges (grantor and grant option included), registry rows
CREATE FUNCTION pg_temp.shape(nsp name) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT format('%s %s rls=%s force=%s', c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity)
      FROM pg_class c WHERE c.relnamespace = nsp::regnamespace
    UNION ALL
    SELECT format('  grant %s.%s to %s by %s%s', c.relname, x.privilege_type,
                  CASE WHEN x.grantee = 0 THEN 'public' ELSE x.grantee::regrole::text END,
                  x.grantor::regrole, CASE WHEN x.is_grantable THEN ' with grant option' ELSE '' END)
      FROM pg_class c, aclexplode(c.relacl) x
     WHERE c.relnamespace = nsp::regnamespace AND x.grantee <> c.relowner
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
    SELECT format('  trigger %s.%s', c.relname, pg_get_triggerdef(g.oid))
      FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
     WHERE c.relnamespace = nsp::regnamespace AND NOT g.tgisinternal
    UNION ALL
    SELECT format('  policy %s.%s %s %s %s %s', c.relname, p.polname, p.polpermissive, p.polcmd,
                  pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
      FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = nsp::regnamespace
    UNION ALL
    SELECT format('  registered %s', e.relation) FROM lamin.enabled_table e
      JOIN pg_class c ON c.oid = e.relation WHERE c.relnamespace = nsp::regnamespace
    ORDER BY 1
$$;
-- what differs from a saved shape: + now, - before
CREATE FUNCTION pg_temp.changes(nsp name, saved text) RETURNS SETOF text LANGUAGE sql AS $$
    (SELECT '+ ' || s FROM pg_temp.shape(nsp) s EXCEPT ALL SELECT '+ ' || unnest(saved::text[]))
    UNION ALL
    (SELECT '- ' || unnest(saved::text[]) EXCEPT ALL SELECT '- ' || s FROM pg_temp.shape(nsp) s)
    ORDER BY 1
$$;

CREATE SCHEMA dis;
CREATE ROLE regress_lamin_owner NOLOGIN;
CREATE ROLE regress_lamin_member NOLOGIN IN ROLE regress_lamin_owner;
CREATE ROLE regress_lamin_app NOLOGIN;
CREATE ROLE regress_lamin_reader NOLOGIN;
GRANT ALL ON SCHEMA dis TO regress_lamin_owner;
GRANT USAGE ON SCHEMA dis TO regress_lamin_app, regress_lamin_reader;
-- a table with a trigger, a check, an index, grants of every kind (DELETE and TRUNCATE among
-- them, with grant option too) and rows that will be on every branch
SET ROLE regress_lamin_owner;
CREATE TABLE dis.items (
    id integer PRIMARY KEY,
    name text NOT NULL CHECK (name <> ''),
    uid varchar(20) NOT NULL UNIQUE,
    is_latest boolean NOT NULL DEFAULT true
);
CREATE INDEX items_name_idx ON dis.items (name);
CREATE FUNCTION dis.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER items_touch BEFORE UPDATE ON dis.items FOR EACH ROW EXECUTE FUNCTION dis.touch();
GRANT SELECT, INSERT, UPDATE ON dis.items TO regress_lamin_app;
GRANT DELETE, TRUNCATE ON dis.items TO regress_lamin_app WITH GRANT OPTION;
GRANT SELECT ON dis.items TO regress_lamin_reader;
GRANT TRUNCATE ON dis.items TO PUBLIC;
INSERT INTO dis.items VALUES (1, 'one', 'itemAAAAAAAAAAAA0000'), (2, 'two', 'itemBBBBBBBBBBBB0000'),
    (3, 'three', 'itemCCCCCCCCCCCC0000'), (4, 'four', 'itemDDDDDDDDDDDD0000'), (5, 'five', 'itemEEEEEEEEEEEE0000');
RESET ROLE;
SELECT array_agg(s) AS before FROM pg_temp.shape('dis') s \gset
SELECT * FROM pg_temp.shape('dis');

-- a member of the owning role enables it
SET ROLE regress_lamin_member;
SELECT relation, mode, main_view, original_name, added_columns, family_index, enabled_rls, moved_privileges
  FROM lamin.enable('dis.items');
RESET ROLE;
-- what enable() changed, but for the columns and constraints, which moved with the table to
-- its new name
SELECT * FROM pg_temp.changes('dis', :'before') c WHERE c !~ '^. +(column|constraint) ';
-- DELETE and TRUNCATE are gone from the table: the app deletes through the view, to the trash
SET ROLE regress_lamin_app;
DELETE FROM dis.items_all WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
TRUNCATE dis.items_all;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM dis.items WHERE id = 3 RETURNING id, name;
RESET ROLE;
INSERT INTO lamin.branch (id, uid, name) OVERRIDING SYSTEM VALUE VALUES (4343, 'disbranch000', 'dis-feature');
SELECT action FROM lamin.archive('dis.items', 2);
SELECT action FROM lamin.move('dis.items', 4, 'dis-feature');
SELECT id, name, is_latest, branch_id FROM dis.items_all ORDER BY id;

-- disable(): the table is back as it was, but for the columns enable() added, kept as plain
-- integers; every row is kept with its branch
SET ROLE regress_lamin_member;
SELECT lamin.disable('dis.items');
RESET ROLE;
SELECT * FROM pg_temp.changes('dis', :'before');
SELECT id, name, branch_id, pg_typeof(branch_id) AS type, created_on_id FROM dis.items ORDER BY id;
SELECT count(*) AS registered FROM lamin.enabled_table WHERE relation::text LIKE 'dis.%';
-- a branch id no longer has to exist: the table no longer depends on the extension
UPDATE dis.items SET branch_id = 99 WHERE id = 5;
DELETE FROM lamin.branch WHERE id = 4343;
SELECT pg_describe_object(classid, objid, objsubid) AS depends_on_lamin
  FROM pg_depend
 WHERE refobjid IN (SELECT oid FROM pg_namespace WHERE nspname = 'lamin'
                    UNION ALL SELECT oid FROM pg_class WHERE relnamespace = 'lamin'::regnamespace
                    UNION ALL SELECT oid FROM pg_type WHERE typnamespace = 'lamin'::regnamespace
                    UNION ALL SELECT oid FROM pg_proc WHERE pronamespace = 'lamin'::regnamespace)
   AND (classid, objid) IN (SELECT 'pg_class'::regclass, oid FROM pg_class WHERE relnamespace = 'dis'::regnamespace
                            UNION ALL SELECT 'pg_constraint'::regclass, oid FROM pg_constraint
                             WHERE conrelid = 'dis.items'::regclass AND contype <> 'n'
                            UNION ALL SELECT 'pg_trigger'::regclass, oid FROM pg_trigger
                             WHERE tgrelid = 'dis.items'::regclass);
UPDATE dis.items SET branch_id = 1 WHERE id = 5;

-- enabled again: the columns are the table's own now, so disable() leaves them even with
-- drop_columns => true
SELECT relation, added_columns, branch_table FROM lamin.enable('dis.items');
SELECT id, name, is_latest, branch_id FROM dis.items ORDER BY id;
SELECT id, name, branch_id FROM dis.items_trash ORDER BY id;
SELECT lamin.disable('dis.items', drop_columns => true);
SELECT * FROM pg_temp.changes('dis', :'before');
-- with them dropped, enable -> disable -> enable -> disable is exact each time
ALTER TABLE dis.items DROP COLUMN branch_id, DROP COLUMN created_on_id;
SELECT * FROM pg_temp.changes('dis', :'before');
SELECT relation, added_columns, moved_privileges FROM lamin.enable('dis.items');
SELECT array_agg(s) AS enabled_once FROM pg_temp.shape('dis') s \gset
SELECT lamin.disable('dis.items', drop_columns => true);
SELECT * FROM pg_temp.changes('dis', :'before');
SELECT relation, added_columns, moved_privileges FROM lamin.enable('dis.items');
SELECT * FROM pg_temp.changes('dis', :'enabled_once');
SELECT action FROM lamin.archive('dis.items', 2);
SELECT action FROM lamin.delete('dis.items', 3);

-- a table with its own branch_id: drop_columns => true drops only what enable() added
CREATE TABLE dis.own (id integer PRIMARY KEY, branch_id integer NOT NULL DEFAULT 1
                      CONSTRAINT own_branch_fkey REFERENCES lamin.branch (id));
INSERT INTO dis.own VALUES (1, 1), (2, 0), (3, -1);
SELECT relation, added_columns, branch_table FROM lamin.enable('dis.own');
SELECT id, branch_id FROM dis.own_archive;
SELECT lamin.disable('dis.own', drop_columns => true);
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'dis.own'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
SELECT conname FROM pg_constraint WHERE conrelid = 'dis.own'::regclass AND contype <> 'n' ORDER BY 1;
SELECT id, branch_id FROM dis.own ORDER BY id;

-- ALTER TABLE ADD COLUMN: the event trigger re-creates the three views with the new column,
-- keeping their grants, options and delete triggers
GRANT SELECT, DELETE ON dis.items_trash, dis.items_archive TO regress_lamin_reader;
CREATE TEMP TABLE views_before AS
SELECT c.relname, c.reloptions, c.relacl, (SELECT array_agg(tgname ORDER BY tgname) FROM pg_trigger WHERE tgrelid = c.oid) AS triggers
  FROM pg_class c WHERE c.relnamespace = 'dis'::regnamespace AND c.relkind = 'v';
SELECT relname, reloptions, triggers FROM views_before ORDER BY 1;
ALTER TABLE dis.items_all ADD COLUMN note text NOT NULL DEFAULT 'new';
SELECT c.relname, count(*) FILTER (WHERE a.attname = 'note') AS has_note
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
 WHERE c.relnamespace = 'dis'::regnamespace AND c.relkind = 'v' GROUP BY 1 ORDER BY 1;
SELECT c.relname FROM pg_class c JOIN views_before b USING (relname)
 WHERE c.relnamespace = 'dis'::regnamespace AND c.relkind = 'v'
   AND (c.reloptions IS DISTINCT FROM b.reloptions OR c.relacl::text[] IS DISTINCT FROM b.relacl::text[]
        OR (SELECT array_agg(tgname ORDER BY tgname) FROM pg_trigger WHERE tgrelid = c.oid) IS DISTINCT FROM b.triggers);
SELECT id, name, note FROM dis.items ORDER BY id;
SET ROLE regress_lamin_reader;
SELECT id, note FROM dis.items_trash ORDER BY id;
DELETE FROM dis.items_archive WHERE id = 2;
SELECT id, note FROM dis.items_trash ORDER BY id;
RESET ROLE;
SET ROLE regress_lamin_app;
INSERT INTO dis.items (id, name, uid, note) VALUES (6, 'six', 'itemFFFFFFFFFFFF0000', 'via view');
SELECT id, name, note FROM dis.items WHERE id = 6;
RESET ROLE;

-- RENAME COLUMN: the views follow
ALTER TABLE dis.items_all RENAME COLUMN note TO remark;
SELECT id, remark FROM dis.items_archive;
SELECT attname FROM pg_attribute WHERE attrelid = 'dis.items'::regclass AND attnum > 0 ORDER BY attnum;
-- unless a view of the user's depends on them: the ALTER TABLE stands, a warning says the views
-- were not re-created, and lamin.refresh_views() does it once the cause is gone
CREATE VIEW dis.names AS SELECT id, name FROM dis.items;
ALTER TABLE dis.items_all RENAME COLUMN remark TO comment;
SELECT attname FROM pg_attribute WHERE attrelid = 'dis.items_all'::regclass AND attname IN ('remark', 'comment');
SELECT attname FROM pg_attribute WHERE attrelid = 'dis.items'::regclass AND attname IN ('remark', 'comment');
-- the stale views still work
SELECT id, remark FROM dis.items WHERE id = 6;
DELETE FROM dis.items WHERE id = 6;
SELECT lamin.refresh_views('dis.items');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP VIEW dis.names;
SELECT lamin.refresh_views('dis.items');
SELECT attname FROM pg_attribute WHERE attrelid = 'dis.items_trash'::regclass AND attname IN ('remark', 'comment');
SELECT c.relname FROM pg_class c JOIN views_before b USING (relname)
 WHERE c.relnamespace = 'dis'::regnamespace AND c.relkind = 'v'
   AND (c.reloptions IS DISTINCT FROM b.reloptions OR c.relacl::text[] IS DISTINCT FROM b.relacl::text[]
        OR (SELECT array_agg(tgname ORDER BY tgname) FROM pg_trigger WHERE tgrelid = c.oid) IS DISTINCT FROM b.triggers);
SELECT id, comment FROM dis.items_trash ORDER BY id;
-- only the owner refreshes
SET ROLE regress_lamin_app;
SELECT lamin.refresh_views('dis.items');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;

-- views mode: ALTER TABLE on the table (it keeps its name) refreshes the views in their schema
CREATE SCHEMA dis_views;
CREATE TABLE dis.kept (id integer PRIMARY KEY);
SELECT relation, mode, main_view FROM lamin.enable('dis.kept', 'dis_views');
ALTER TABLE dis.kept ADD COLUMN extra integer DEFAULT 42;
INSERT INTO dis_views.kept (id) VALUES (1);
SELECT id, extra, branch_id FROM dis_views.kept_trash;
DELETE FROM dis_views.kept WHERE id = 1;
SELECT id, extra, branch_id FROM dis_views.kept_trash;

-- DROP TABLE takes a table out of the registry, in both modes, and so does DROP SCHEMA
SELECT relation FROM lamin.enabled_table WHERE mode <> 'extension' ORDER BY 1;
DROP TABLE dis.items_all;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TABLE dis.items_all CASCADE;
DROP TABLE dis.kept CASCADE;
SELECT relation FROM lamin.enabled_table WHERE mode <> 'extension' ORDER BY 1;
CREATE TABLE dis.last (id integer PRIMARY KEY);
SELECT relation FROM lamin.enable('dis.last');
SET ROLE regress_lamin_owner;
CREATE TABLE dis.owned (id integer PRIMARY KEY);
SELECT relation FROM lamin.enable('dis.owned');
RESET ROLE;
SELECT relation FROM lamin.enabled_table WHERE mode <> 'extension' ORDER BY 1;
DROP OWNED BY regress_lamin_owner;
SELECT relation FROM lamin.enabled_table WHERE mode <> 'extension' ORDER BY 1;
DROP SCHEMA dis, dis_views CASCADE;
SELECT relation FROM lamin.enabled_table WHERE mode <> 'extension' ORDER BY 1;

DROP ROLE regress_lamin_member, regress_lamin_owner, regress_lamin_app, regress_lamin_reader;
