-- lamin_branch 0.3.1 -> 0.4.0
--
-- A fresh install of 0.4.0 runs lamin_branch--0.4.0.sql alone; this script brings an installed
-- 0.3.1 to the same objects.
--   - Spaces tables that still have their 0.2.0 main view are named in a warning.
--   - lamin.enable() quotes each key column on its own where it makes the heads of a table's
--     existing version families right: key columns whose names hold '.' or ',' made it fail.
--   - lamin._branch_of() runs with the caller's rights: naming a branch of a table reads its
--     branch catalog as the caller, no longer as the extension's owner.
--   - The views carry their table's column defaults and comments and a comment of their own;
--     lamin._views_drop and lamin._views_make re-create them for the DDL hook and
--     lamin.refresh_views; the event triggers follow COMMENT too, and refuse DDL on a main view
--     for its table where the module is not preloaded.
--   - LaminDB's own branches: lamin.create_branch, rename_branch, set_branch_status, switch,
--     current_branch, merge, merge_preview, enable_all; main views (and the branch policy) show
--     the session's current branch beside main, and rows inserted through them land on it.
\echo Use "ALTER EXTENSION lamin_branch UPDATE TO '0.4.0'" to load this file. \quit

-- Spaces tables enabled under 0.2.0 keep their 0.2.0 main view (the caller's rights, confined by
-- the space policies) until their owner runs lamin.refresh_views(). The 0.3.0 update's notice
-- that says so never reaches the client (Postgres passes on only warnings and errors of an
-- extension script), and it names the table wrongly. Say it here, as a warning, for each such
-- table that is left.
DO $$
DECLARE
    e lamin.enabled_table;
BEGIN
    FOR e IN SELECT t.* FROM lamin.enabled_table t
               JOIN pg_catalog.pg_class v ON v.oid OPERATOR(pg_catalog.=) t.main_view
              WHERE t.spaces AND t.enabled_rls
                AND 'security_invoker=true' OPERATOR(pg_catalog.=) ANY (v.reloptions) LOOP
        RAISE WARNING '%', pg_catalog.format('table %s keeps its 0.2.0 main view until SELECT lamin.refresh_views(%L);',
                                             e.relation, e.relation::text);
    END LOOP;
END
$$;

-- Branch-enable a table. Replaced by DROP and CREATE: an update script must not adopt an object
-- that someone else put in its place.
DROP FUNCTION lamin.enable(regclass, name, boolean);
CREATE FUNCTION lamin.enable(tbl regclass, views_schema name DEFAULT NULL, spaces boolean DEFAULT false)
RETURNS lamin.enabled_table
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c          record;
    e          lamin.enabled_table;
    ext        name;
    vnsp       name;
    attnum_b   smallint;
    branch_typ oid;
    cat        regclass;
    base       name;
    mainv      name;
    a          record;
    key_t      text;
    key_t_desc text;
    key_x      text;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT cl.*, n.nspname INTO c
      FROM pg_class cl JOIN pg_namespace n ON n.oid = cl.relnamespace WHERE cl.oid = tbl;

    IF (lamin._registry(tbl)).relation IS NOT NULL THEN
        RAISE EXCEPTION 'table % is already branch-enabled', (lamin._registry(tbl)).relation
              USING ERRCODE = 'duplicate_object',
                    HINT = 'lamin.enable() runs once per table; lamin.disable() undoes it.';
    END IF;
    -- what can be enabled
    IF c.nspname IN ('pg_catalog', 'information_schema') OR c.nspname LIKE 'pg\_toast%' THEN
        RAISE EXCEPTION '"%" is a system catalog', tbl
              USING ERRCODE = 'wrong_object_type', HINT = 'Only user tables can be branch-enabled.';
    END IF;
    IF c.relkind IN ('v', 'm') THEN
        RAISE EXCEPTION '"%" is a view, not a table', tbl
              USING ERRCODE = 'wrong_object_type',
                    HINT = 'A view of a branch-enabled table is enabled with its table.';
    ELSIF c.relkind = 'f' THEN
        RAISE EXCEPTION '"%" is a foreign table', tbl
              USING ERRCODE = 'feature_not_supported',
                    HINT = 'Enable the table on the server that holds it.';
    ELSIF c.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%" is not a table', tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    IF c.relispartition THEN
        RAISE EXCEPTION '"%" is a partition', tbl
              USING ERRCODE = 'wrong_object_type', HINT = 'Enable its partitioned table.';
    END IF;
    IF c.relforcerowsecurity THEN
        RAISE EXCEPTION 'table % forces row-level security on its owner', tbl
              USING ERRCODE = 'feature_not_supported',
                    HINT = 'The archive and trash views read the table as its owner; ALTER TABLE ... NO FORCE ROW LEVEL SECURITY first.';
    END IF;
    IF c.relhassubclass AND c.relkind = 'r' OR EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = tbl) THEN
        RAISE EXCEPTION 'table % is part of an inheritance tree', tbl
              USING ERRCODE = 'feature_not_supported',
                    HINT = 'Rows of child tables would escape the branch rules; use a partitioned table.';
    END IF;
    IF c.relpersistence = 't' THEN
        RAISE EXCEPTION '"%" is a temporary table', tbl
              USING ERRCODE = 'feature_not_supported',
                    HINT = 'Temporary tables vanish with the session: there is nothing to keep in a trash.';
    END IF;
    IF NOT pg_has_role(current_user, c.relowner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT x.extname INTO ext FROM pg_depend d JOIN pg_extension x ON x.oid = d.refobjid
     WHERE d.classid = 'pg_class'::regclass AND d.objid = tbl AND d.refclassid = 'pg_extension'::regclass
       AND d.deptype = 'e';
    IF ext IS NOT NULL THEN
        RAISE EXCEPTION 'table % belongs to extension %', tbl, ext
              USING ERRCODE = 'feature_not_supported',
                    HINT = 'Tables of an extension change only with the extension.';
    END IF;

    EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', tbl);
    -- a concurrent enable() may have finished while we waited for the lock: look again
    IF (lamin._registry(tbl)).relation IS NOT NULL THEN
        RAISE EXCEPTION 'table % is already branch-enabled', (lamin._registry(tbl)).relation
              USING ERRCODE = 'duplicate_object',
                    HINT = 'lamin.enable() runs once per table; lamin.disable() undoes it.';
    END IF;
    SELECT cl.*, n.nspname INTO c
      FROM pg_class cl JOIN pg_namespace n ON n.oid = cl.relnamespace WHERE cl.oid = tbl;

    PERFORM FROM pg_index WHERE indrelid = tbl AND indisprimary;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % has no primary key', tbl
              USING ERRCODE = 'invalid_table_definition',
                    HINT = 'lamin_branch identifies rows by their primary key; add one.';
    END IF;

    -- names of the views, and of the table in rename mode
    IF views_schema IS NULL THEN
        base := lamin._object_name(c.relname, '_all');
        mainv := c.relname;
        vnsp := c.nspname;
        IF to_regclass(format('%I.%I', vnsp, base)) IS NOT NULL THEN
            RAISE EXCEPTION 'relation "%.%" already exists', vnsp, base
                  USING ERRCODE = 'duplicate_table',
                        HINT = 'enable() renames the table to it; rename that relation, or pass views_schema.';
        END IF;
    ELSE
        PERFORM FROM pg_namespace WHERE nspname = views_schema;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'schema "%" does not exist', views_schema USING ERRCODE = 'invalid_schema_name';
        END IF;
        base := c.relname;
        mainv := c.relname;
        vnsp := views_schema;
        IF vnsp = c.nspname THEN
            RAISE EXCEPTION 'views of % cannot be in its own schema under its own name', tbl
                  USING ERRCODE = 'duplicate_table',
                        HINT = 'Pass another views_schema, or none to rename the table.';
        END IF;
    END IF;
    e.main_view := NULL;
    FOR a IN SELECT * FROM (VALUES (mainv), (lamin._object_name(c.relname, '_archive')),
                                   (lamin._object_name(c.relname, '_trash'))) x(name) LOOP
        IF to_regclass(format('%I.%I', vnsp, a.name)) IS NOT NULL AND NOT (views_schema IS NULL AND a.name = mainv) THEN
            RAISE EXCEPTION 'relation "%.%" already exists', vnsp, a.name
                  USING ERRCODE = 'duplicate_table',
                        HINT = 'enable() creates a view of that name; rename that relation, or pass views_schema.';
        END IF;
    END LOOP;

    -- branch_id: added, or the table's own, whose foreign key names its branch catalog
    SELECT attnum, atttypid INTO attnum_b, branch_typ FROM pg_attribute
     WHERE attrelid = tbl AND attname = 'branch_id' AND NOT attisdropped;
    e.added_columns := '{}';
    IF attnum_b IS NULL THEN
        -- no foreign key: the row trigger checks it, without a query for main, archive and trash
        EXECUTE format('ALTER TABLE %s ADD COLUMN branch_id lamin.branch_id NOT NULL DEFAULT 1', tbl);
        e.added_columns := e.added_columns || 'branch_id'::name;
        cat := 'lamin.branch';
    ELSE
        IF (SELECT coalesce(nullif(typbasetype, 0), oid) FROM pg_type WHERE oid = branch_typ) <> 'integer'::regtype THEN
            RAISE EXCEPTION 'column "branch_id" of table % must be of type integer', tbl
                  USING ERRCODE = 'datatype_mismatch';
        END IF;
        SELECT confrelid INTO cat FROM pg_constraint
         WHERE conrelid = tbl AND contype = 'f' AND conkey = ARRAY[attnum_b];
        cat := coalesce(cat, 'lamin.branch'::regclass);
    END IF;
    PERFORM FROM pg_attribute WHERE attrelid = tbl AND attname = 'created_on_id' AND NOT attisdropped;
    IF NOT FOUND THEN
        IF cat = 'lamin.branch'::regclass THEN
            EXECUTE format('ALTER TABLE %s ADD COLUMN created_on_id lamin.branch_id NOT NULL DEFAULT 1', tbl);
        ELSE
            EXECUTE format('ALTER TABLE %s ADD COLUMN created_on_id integer NOT NULL DEFAULT 1 CONSTRAINT %I REFERENCES %s (id)',
                           tbl, lamin._object_name(c.relname, '_created_on_id_fkey'), cat);
        END IF;
        e.added_columns := e.added_columns || 'created_on_id'::name;
    END IF;

    IF spaces AND NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = tbl AND attname = 'space_id' AND NOT attisdropped) THEN
        EXECUTE format('ALTER TABLE %s ADD COLUMN space_id smallint NOT NULL DEFAULT 1 CONSTRAINT %I REFERENCES lamin.space (id)',
                       tbl, lamin._object_name(c.relname, '_space_id_fkey'));
        e.added_columns := e.added_columns || 'space_id'::name;
    END IF;

    -- privileges: in rename mode the table's grantees get its main view (below) and lose
    -- SELECT, INSERT, UPDATE, DELETE and TRUNCATE on the table itself, where DELETE and TRUNCATE
    -- would go around the trash and SELECT would show it; REFERENCES and TRIGGER stay.
    -- moved_privileges records what was taken, and disable() gives it back. A table with
    -- row-level security of its own keeps SELECT, INSERT and UPDATE: its main view runs with
    -- the caller's rights, so that the table's policies see the caller (see
    -- lamin._create_views_named).
    e.moved_privileges := '{}';
    IF views_schema IS NULL THEN
        FOR a IN SELECT * FROM aclexplode(c.relacl) x
                  WHERE x.grantee <> c.relowner
                    AND (x.privilege_type IN ('DELETE', 'TRUNCATE')
                         OR (x.privilege_type IN ('SELECT', 'INSERT', 'UPDATE') AND NOT c.relrowsecurity)) LOOP
            EXECUTE format('REVOKE %s ON %s FROM %s', a.privilege_type, tbl,
                           CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END);
            e.moved_privileges := e.moved_privileges || makeaclitem(a.grantee, a.grantor, a.privilege_type, a.is_grantable);
        END LOOP;
        EXECUTE format('ALTER TABLE %s RENAME TO %I', tbl, base);
    END IF;

    -- version families, where rows have uid and is_latest: an index to find them, the existing
    -- rows' heads made right once, and a trigger that keeps them right. The head of a family on
    -- a branch (trash has none) is its newest version: latest created_at where the table has
    -- one, then highest key.
    IF (SELECT count(*) FROM pg_attribute WHERE attrelid = tbl AND attname IN ('uid', 'is_latest') AND NOT attisdropped) = 2 THEN
        EXECUTE format('CREATE INDEX %I ON %s ((pg_catalog.substr(uid::pg_catalog.text, 1, 16)), branch_id)',
                       lamin._object_name(base, '_lamin_family_idx'), tbl);
        e.family_index := format('%I.%I', c.nspname, lamin._object_name(base, '_lamin_family_idx'))::regclass;
        -- the key columns in key order, each one quoted on its own (names may hold '.' or ','):
        -- as columns of t, as the same newest first, and as columns of x
        SELECT string_agg(format('t.%I', att.attname), ', ' ORDER BY k.i),
               string_agg(format('t.%I DESC', att.attname), ', ' ORDER BY k.i),
               string_agg(format('x.%I', att.attname), ', ' ORDER BY k.i)
          INTO key_t, key_t_desc, key_x
          FROM pg_index ix, unnest(ix.indkey) WITH ORDINALITY k(attnum, i), pg_attribute att
         WHERE ix.indrelid = tbl AND ix.indisprimary AND att.attrelid = tbl AND att.attnum = k.attnum;
        EXECUTE format('UPDATE %1$s t SET is_latest = x.lamin_head FROM ('
                       'SELECT %2$s, row_number() OVER (PARTITION BY substr(uid::text, 1, 16), branch_id ORDER BY %3$s%4$s) = 1 AS lamin_head '
                       'FROM %1$s t WHERE branch_id OPERATOR(pg_catalog.<>) -1) x '
                       'WHERE (%2$s) = (%5$s) AND t.is_latest IS DISTINCT FROM x.lamin_head',
                       tbl, key_t,
                       CASE WHEN EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = tbl AND attname = 'created_at' AND NOT attisdropped)
                            THEN 't.created_at DESC NULLS LAST, ' ELSE '' END,
                       key_t_desc, key_x);
        PERFORM lamin._heads_triggers(tbl);
    END IF;

    EXECUTE format('CREATE TRIGGER lamin_branch_row BEFORE INSERT OR UPDATE OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION lamin.branch_row_trigger()', tbl);

    -- row-level security: the branch rule narrows what policies the table already has
    e.enabled_rls := NOT c.relrowsecurity;
    IF e.enabled_rls THEN
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
        EXECUTE format('CREATE POLICY lamin_branch_rows ON %s AS PERMISSIVE FOR ALL USING (true) WITH CHECK (true)', tbl);
    END IF;
    EXECUTE format('CREATE POLICY lamin_branch_main ON %1$s AS RESTRICTIVE FOR ALL '
                   'USING (branch_id OPERATOR(pg_catalog.=) ANY (lamin._visible_branches(%2$L::regclass))) '
                   'WITH CHECK (branch_id OPERATOR(pg_catalog.=) ANY (lamin._visible_branches(%2$L::regclass)))',
                   tbl, tbl::text);
    -- spaces: read the rows of readable spaces, change those of writable ones
    e.spaces := coalesce(spaces, false);
    IF e.spaces THEN
        EXECUTE format('CREATE POLICY lamin_space_read ON %s AS RESTRICTIVE FOR SELECT '
                       'USING (space_id OPERATOR(pg_catalog.=) ANY ((SELECT lamin.readable_spaces())::smallint[]))', tbl);
        EXECUTE format('CREATE POLICY lamin_space_write ON %s AS RESTRICTIVE FOR UPDATE '
                       'USING (space_id OPERATOR(pg_catalog.=) ANY ((SELECT lamin.writable_spaces())::smallint[])) '
                       'WITH CHECK (space_id OPERATOR(pg_catalog.=) ANY ((SELECT lamin.writable_spaces())::smallint[]))', tbl);
        EXECUTE format('CREATE POLICY lamin_space_insert ON %s AS RESTRICTIVE FOR INSERT '
                       'WITH CHECK (space_id OPERATOR(pg_catalog.=) ANY ((SELECT lamin.writable_spaces())::smallint[]))', tbl);
        EXECUTE format('CREATE POLICY lamin_space_delete ON %s AS RESTRICTIVE FOR DELETE '
                       'USING (space_id OPERATOR(pg_catalog.=) ANY ((SELECT lamin.writable_spaces())::smallint[]))', tbl);
    END IF;

    e.relation := tbl;
    e.mode := CASE WHEN views_schema IS NULL THEN 'rename' ELSE 'views' END;
    e.original_name := c.relname;
    e.views_schema := vnsp;
    e.branch_table := cat;
    e.enabled_by := current_user;
    e.enabled_at := statement_timestamp();
    -- regclass of views that do not exist yet: registered after they are made
    PERFORM lamin._create_views_named(e, vnsp, mainv);
    SELECT format('%I.%I', vnsp, mainv)::regclass,
           format('%I.%I', vnsp, lamin._object_name(c.relname, '_archive'))::regclass,
           format('%I.%I', vnsp, lamin._object_name(c.relname, '_trash'))::regclass
      INTO e.main_view, e.archive_view, e.trash_view;

    -- the table's grants carry over to its main view (rename mode: the view now has its name)
    IF views_schema IS NULL THEN
        FOR a IN SELECT * FROM aclexplode(c.relacl) x
                  WHERE x.grantee <> c.relowner
                    AND x.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE', 'REFERENCES', 'TRIGGER') LOOP
            EXECUTE format('GRANT %s ON %s TO %s%s', a.privilege_type, e.main_view,
                           CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                           CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
        END LOOP;
    END IF;

    INSERT INTO lamin.enabled_table SELECT e.*;
    -- a table's own branch catalog tells sessions when its branches change (see Branches)
    PERFORM lamin._watch_branch_catalog(cat);
    RETURN e;
END
$$;
COMMENT ON FUNCTION lamin.enable(regclass, name, boolean) IS
    'branch-enable a table: views hide archive and trash, DELETE moves to trash';

-- A branch by name, from the branch catalog of the table (lamin.branch, or the table's own).
-- Runs with the caller's rights: naming a branch reads the catalog, so the caller needs SELECT
-- on it (every role has it on lamin.branch). A branch given by id is checked by the C
-- functions, as the table's owner.
ALTER FUNCTION lamin._branch_of(regclass, text) SECURITY INVOKER;


-- Branch columns, version heads and the registry, for speed: the objects below are new.
-- Every backend caches the registry; a change to it makes them all read it again (at once in
-- this transaction, at commit for the others).
CREATE FUNCTION lamin._registry_changed() RETURNS trigger
LANGUAGE C AS 'MODULE_PATHNAME', 'lamin_registry_changed';
REVOKE ALL ON FUNCTION lamin._registry_changed() FROM PUBLIC;
CREATE TRIGGER lamin_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON lamin.enabled_table
    FOR EACH STATEMENT EXECUTE FUNCTION lamin._registry_changed();

-- The branch columns of an enabled table that refer to lamin.branch have no foreign key: the row
-- trigger checks them, without a query for main, archive and trash, and lamin.branch keeps its
-- rows while a table uses them. (lamin.artifact_all keeps the foreign key of created_on_id, which
-- a move never changes: pg_dump restores its rows into a table whose triggers are on, and only a
-- foreign key makes it restore the branches first.)
CREATE FUNCTION lamin._branch_in_use() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e record;
    n bigint;
BEGIN
    IF OLD.id BETWEEN -1 AND 1 THEN
        RAISE EXCEPTION 'branch "%" cannot be %', OLD.name, CASE TG_OP WHEN 'DELETE' THEN 'deleted' ELSE 'renumbered' END
              USING ERRCODE = 'dependent_objects_still_exist',
                    DETAIL = 'main, archive and trash belong to every branch-enabled table.';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
        RETURN NEW;
    END IF;
    FOR e IN SELECT t.relation,
                    EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = t.relation
                             AND a.attname = 'created_on_id' AND NOT a.attisdropped) AS has_created_on
               FROM lamin.enabled_table t
              WHERE t.branch_table = 'lamin.branch'::regclass ORDER BY t.relation::text LOOP
        EXECUTE format('SELECT count(*) FROM %s WHERE branch_id OPERATOR(pg_catalog.=) $1%s', e.relation,
                       CASE WHEN e.has_created_on THEN ' OR created_on_id OPERATOR(pg_catalog.=) $1' ELSE '' END)
           INTO n USING OLD.id;
        IF n > 0 THEN
            RAISE EXCEPTION 'branch "%" is still used by table %', OLD.name, e.relation
                  USING ERRCODE = 'foreign_key_violation',
                        DETAIL = format('%s rows of %s are on branch %s or were created on it.', n, e.relation, OLD.id),
                        HINT = 'Move those rows to another branch first (lamin.move_many).';
        END IF;
    END LOOP;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
REVOKE ALL ON FUNCTION lamin._branch_in_use() FROM PUBLIC;
CREATE TRIGGER lamin_branch_in_use BEFORE DELETE OR UPDATE OF id ON lamin.branch
    FOR EACH ROW EXECUTE FUNCTION lamin._branch_in_use();

-- The triggers that keep a table's version heads: per statement, from its transition tables;
-- per row on a partitioned table, whose partitions a statement may name directly. Called by
-- lamin.enable() with the caller's rights: only a table's owner can change its triggers.
CREATE FUNCTION lamin._heads_triggers(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    trig name;
BEGIN
    FOR trig IN SELECT tgname FROM pg_trigger WHERE tgrelid = tbl AND NOT tgisinternal
                   AND tgname IN ('lamin_branch_heads', 'lamin_branch_heads_insert', 'lamin_branch_heads_update',
                                  'lamin_branch_heads_delete') LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', trig, tbl);
    END LOOP;
    IF (SELECT relkind FROM pg_class WHERE oid = tbl) = 'p' THEN
        EXECUTE format('CREATE TRIGGER lamin_branch_heads AFTER INSERT OR UPDATE OF branch_id, uid OR DELETE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION lamin.branch_heads_trigger()', tbl);
        RETURN;
    END IF;
    EXECUTE format('CREATE TRIGGER lamin_branch_heads_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS lamin_new '
                   'FOR EACH STATEMENT EXECUTE FUNCTION lamin.branch_heads_trigger()', tbl);
    EXECUTE format('CREATE TRIGGER lamin_branch_heads_update AFTER UPDATE ON %s '
                   'REFERENCING OLD TABLE AS lamin_old NEW TABLE AS lamin_new '
                   'FOR EACH STATEMENT EXECUTE FUNCTION lamin.branch_heads_trigger()', tbl);
    EXECUTE format('CREATE TRIGGER lamin_branch_heads_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS lamin_old '
                   'FOR EACH STATEMENT EXECUTE FUNCTION lamin.branch_heads_trigger()', tbl);
END
$$;

-- lamin.disable() drops whichever heads triggers a table has, and no longer expects the foreign
-- keys 0.4.0 no longer makes.
DROP FUNCTION lamin.disable(regclass, boolean);
CREATE FUNCTION lamin.disable(tbl regclass, drop_columns boolean DEFAULT false)
RETURNS regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e     lamin.enabled_table;
    owner oid;
    a     record;
    col   name;
    v     regclass;
    trig  name;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    e := lamin._registry(tbl);
    IF e.relation IS NULL THEN
        RAISE EXCEPTION 'table % is not branch-enabled', tbl
              USING ERRCODE = 'object_not_in_prerequisite_state',
                    HINT = 'The branch-enabled tables are listed by: SELECT relation FROM lamin.enabled_table;';
    END IF;
    IF e.mode = 'extension' THEN
        RAISE EXCEPTION 'table % belongs to extension lamin_branch', e.relation
              USING ERRCODE = 'feature_not_supported',
                    HINT = 'Its branches go away only with DROP EXTENSION lamin_branch.';
    END IF;
    SELECT relowner INTO owner FROM pg_class WHERE oid = e.relation;
    IF NOT pg_has_role(current_user, owner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', e.relation USING ERRCODE = 'insufficient_privilege';
    END IF;

    EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', e.relation);
    -- first, so that the ALTER TABLEs below do not ask for the views to be refreshed
    DELETE FROM lamin.enabled_table WHERE relation = e.relation;

    FOREACH v IN ARRAY ARRAY[e.main_view, e.archive_view, e.trash_view] LOOP
        IF EXISTS (SELECT 1 FROM pg_class WHERE oid = v) THEN
            EXECUTE format('DROP VIEW %s', v);
        END IF;
    END LOOP;
    EXECUTE format('DROP TRIGGER lamin_branch_row ON %s', e.relation);
    FOR trig IN SELECT tgname FROM pg_trigger WHERE tgrelid = e.relation AND NOT tgisinternal
                   AND tgname IN ('lamin_branch_heads', 'lamin_branch_heads_insert', 'lamin_branch_heads_update',
                                  'lamin_branch_heads_delete') LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', trig, e.relation);
    END LOOP;
    EXECUTE format('DROP POLICY lamin_branch_main ON %s', e.relation);
    IF e.spaces THEN
        EXECUTE format('DROP POLICY lamin_space_read ON %s', e.relation);
        EXECUTE format('DROP POLICY lamin_space_write ON %s', e.relation);
        EXECUTE format('DROP POLICY lamin_space_insert ON %s', e.relation);
        EXECUTE format('DROP POLICY lamin_space_delete ON %s', e.relation);
    END IF;
    IF e.enabled_rls THEN
        EXECUTE format('DROP POLICY lamin_branch_rows ON %s', e.relation);
        EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', e.relation);
    END IF;
    IF e.family_index IS NOT NULL AND EXISTS (SELECT 1 FROM pg_class WHERE oid = e.family_index) THEN
        EXECUTE format('DROP INDEX %s', e.family_index);
    END IF;
    FOR a IN SELECT * FROM unnest(e.moved_privileges) m, aclexplode(ARRAY[m]) LOOP
        EXECUTE format('GRANT %s ON %s TO %s%s', a.privilege_type, e.relation,
                       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                       CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
    -- added columns: dropped, or kept as plain integers that no longer depend on the extension
    FOREACH col IN ARRAY e.added_columns LOOP
        IF drop_columns THEN
            EXECUTE format('ALTER TABLE %s DROP COLUMN %I', e.relation, col);
        ELSE
            -- tables enabled before 0.4.0 have a foreign key to lamin.branch there
            IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = e.relation
                          AND conname = lamin._object_name(e.original_name, '_' || col || '_fkey')) THEN
                EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', e.relation,
                               lamin._object_name(e.original_name, '_' || col || '_fkey'));
            END IF;
            EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE integer', e.relation, col);
        END IF;
    END LOOP;
    IF e.mode = 'rename' THEN
        EXECUTE format('ALTER TABLE %s RENAME TO %I', e.relation, e.original_name);
    END IF;
    RETURN e.relation;
END
$$;
COMMENT ON FUNCTION lamin.disable(regclass, boolean) IS
    'undo lamin.enable(): views dropped, table name and privileges back, every row kept';

-- Tables enabled before get the 0.4.0 heads triggers ...
SELECT lamin._heads_triggers(e.relation) FROM lamin.enabled_table e
 WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = e.relation AND t.tgname = 'lamin_branch_heads');

-- ... and lose the foreign keys to lamin.branch that lamin.enable() made (a table's own stay), and
-- lamin.artifact_all that of branch_id
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT k.conrelid::regclass AS tbl, k.conname
               FROM pg_catalog.pg_constraint k
               JOIN lamin.enabled_table e ON e.relation = k.conrelid
               JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
              WHERE k.contype = 'f' AND k.confrelid = 'lamin.branch'::regclass
                AND pg_catalog.cardinality(k.conkey) = 1
                AND (e.mode <> 'extension' AND a.attname = ANY (e.added_columns)
                     OR e.mode = 'extension' AND a.attname = 'branch_id') LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', c.tbl, c.conname);
    END LOOP;
END
$$;

-- The views' metadata; the views made again by parts, for the DDL hook (src/utility.c) as for
-- lamin.refresh_views. Replaced by DROP and CREATE.
DROP EVENT TRIGGER lamin_branch_alter_table;
DROP FUNCTION lamin._on_alter_table();
DROP FUNCTION lamin.refresh_views(regclass);
DROP FUNCTION lamin._create_views_named(lamin.enabled_table, name, name);

-- A column comment of a branch view (COMMENT ON COLUMN on a main view goes to its table where the
-- module is preloaded). Only for the views' owner.
CREATE FUNCTION lamin._view_column_comment(view regclass, col name, comment text) RETURNS void
LANGUAGE C AS 'MODULE_PATHNAME', 'lamin_view_column_comment';

-- What tools that read a view's columns (psql's \d+, ORMs that generate models) should see: each
-- view column carries its table column's default (so that they see it, and INSERT through the
-- view fills it in as the table would) and comment, and each view a comment naming its table, its
-- branch and the key. Run when the views are made and after ALTER TABLE or COMMENT on the table;
-- changes only what differs.
CREATE FUNCTION lamin._view_meta(tbl regclass, main regclass, archive regclass, trash regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    keys text;
    v    record;
    a    record;
    txt  text;
BEGIN
    SELECT string_agg(quote_ident(att.attname), ', ' ORDER BY k.i) INTO keys
      FROM pg_index ix, unnest(ix.indkey) WITH ORDINALITY k(attnum, i), pg_attribute att
     WHERE ix.indrelid = tbl AND ix.indisprimary AND att.attrelid = tbl AND att.attnum = k.attnum;
    FOR v IN SELECT * FROM (VALUES (main, 'main', 1, 'Also the rows of the session''s current branch (lamin_branch.current_branch). DELETE moves rows to the trash.'),
                                   (archive, 'archive', 0, 'DELETE moves rows to the trash.'),
                                   (trash, 'trash', -1, 'DELETE removes rows for good; lamin.restore() brings them back.'))
                           x(view, branch, id, what)
              WHERE EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = x.view) LOOP
        txt := format('Rows of table %s on branch %s (branch_id = %s), key (%s). %s Made by lamin_branch.',
                      tbl, v.branch, v.id, keys, v.what);
        IF obj_description(v.view, 'pg_class') IS DISTINCT FROM txt THEN
            EXECUTE format('COMMENT ON VIEW %s IS %L', v.view, txt);
        END IF;
        FOR a IN SELECT va.attname,
                        -- rows inserted through the main view land on the current branch
                        CASE WHEN v.id = 1 AND va.attname IN ('branch_id', 'created_on_id')
                             THEN format('lamin._current_branch_of(%L::regclass)', tbl::text)
                             ELSE (SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
                                    WHERE d.adrelid = tbl AND d.adnum = ta.attnum AND ta.attgenerated = '') END AS def,
                        (SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
                          WHERE d.adrelid = v.view AND d.adnum = va.attnum) AS view_def,
                        col_description(tbl, ta.attnum) AS descr,
                        col_description(v.view, va.attnum) AS view_descr
                   FROM pg_attribute va
                   JOIN pg_attribute ta ON ta.attrelid = tbl AND ta.attname = va.attname AND NOT ta.attisdropped
                  WHERE va.attrelid = v.view AND va.attnum > 0 AND NOT va.attisdropped
                  ORDER BY va.attnum LOOP
            IF a.def IS DISTINCT FROM a.view_def THEN
                IF a.def IS NULL THEN
                    EXECUTE format('ALTER VIEW %s ALTER COLUMN %I DROP DEFAULT', v.view, a.attname);
                ELSE
                    EXECUTE format('ALTER VIEW %s ALTER COLUMN %I SET DEFAULT %s', v.view, a.attname, a.def);
                END IF;
            END IF;
            IF a.descr IS DISTINCT FROM a.view_descr THEN
                PERFORM lamin._view_column_comment(v.view, a.attname, a.descr);
            END IF;
        END LOOP;
    END LOOP;
END
$$;

-- Create the three views of a table in schema vnsp (none may exist), with delete triggers and owner.
CREATE FUNCTION lamin._create_views_named(e lamin.enabled_table, vnsp name, mainv name)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cols text := lamin._columns(e.relation);
    owner name := (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = e.relation);
    v record;
BEGIN
    FOR v IN SELECT * FROM (VALUES (mainv, 1),
                                   (lamin._object_name(e.original_name, '_archive'), 0),
                                   (lamin._object_name(e.original_name, '_trash'), -1)) x(name, branch) LOOP
        -- The views run with the owner's rights as security barriers, past row-level security:
        -- they filter spaces themselves, for the role that queries them, and the row trigger
        -- checks who may move rows between branches and write in a space. A table that had
        -- row-level security of its own (e.enabled_rls false) keeps a main view with the
        -- caller's rights, so that its policies apply to the caller; lamin_branch_main confines
        -- that view (and the table's grantees) to main.
        EXECUTE format('CREATE VIEW %I.%I WITH (%s) AS SELECT %s FROM %s WHERE branch_id OPERATOR(pg_catalog.=) %s%s',
                       vnsp, v.name,
                       CASE WHEN v.branch = 1 AND NOT e.enabled_rls THEN 'security_invoker = true' ELSE 'security_barrier = true' END,
                       cols, e.relation,
                       -- main: main and the session's current branch (lamin_branch.current_branch)
                       CASE WHEN v.branch = 1 THEN format('ANY (lamin._visible_branches(%L::regclass))', e.relation::text)
                            ELSE v.branch::text END,
                       CASE WHEN e.spaces
                            THEN ' AND space_id OPERATOR(pg_catalog.=) ANY ((SELECT lamin.readable_spaces())::smallint[])' ELSE '' END);
        IF v.branch <> -1 THEN
            EXECUTE format('CREATE TRIGGER lamin_delete_to_trash INSTEAD OF DELETE ON %I.%I '
                           'FOR EACH ROW EXECUTE FUNCTION lamin.view_delete_trigger()', vnsp, v.name);
        END IF;
        IF owner <> current_user THEN
            EXECUTE format('ALTER VIEW %I.%I OWNER TO %I', vnsp, v.name, owner);
        END IF;
    END LOOP;
    PERFORM lamin._view_meta(e.relation, format('%I.%I', vnsp, mainv)::regclass,
                             format('%I.%I', vnsp, lamin._object_name(e.original_name, '_archive'))::regclass,
                             format('%I.%I', vnsp, lamin._object_name(e.original_name, '_trash'))::regclass);
END
$$;

-- Drop the views of a table so that they can be made again (lamin._views_make) once its columns
-- changed: returns where the main view is (schema, name) and the statements that give the
-- views their grants back. Views of the user's that depend on them stop it (Postgres's error
-- names them). Views already gone (a CASCADE) are made again where enable() put them, with a
-- warning: their grants are lost.
CREATE FUNCTION lamin._views_drop(tbl regclass)
RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e      lamin.enabled_table := lamin._registry(tbl);
    vnsp   name;
    mainv  name;
    grants text[];
    v      regclass;
BEGIN
    SELECT n.nspname, c.relname INTO vnsp, mainv
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = e.main_view;
    -- the views' grants, as statements to run on the new views
    SELECT coalesce(array_agg(format('GRANT %s ON %I.%I TO %s%s', x.privilege_type, n.nspname, c.relname,
                                     CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END,
                                     CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)), '{}')
      INTO grants
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) x
     WHERE c.oid IN (e.main_view, e.archive_view, e.trash_view) AND x.grantee <> c.relowner;
    FOREACH v IN ARRAY ARRAY[e.main_view, e.archive_view, e.trash_view] LOOP
        IF EXISTS (SELECT 1 FROM pg_class WHERE oid = v) THEN
            EXECUTE format('DROP VIEW %s', v);
        END IF;
    END LOOP;
    IF mainv IS NULL THEN
        -- the views are gone (dropped by a CASCADE): make them again where enable() put them
        vnsp := e.views_schema;
        mainv := e.original_name;
        RAISE WARNING 'views of % were dropped and are made again; grant them again', e.relation;
    END IF;
    RETURN ARRAY[vnsp::text, mainv::text] || grants;
END
$$;

-- Make the views of a table again after lamin._views_drop, as enable() made them (options,
-- triggers, owner, defaults and comments), with their grants, and register them.
CREATE FUNCTION lamin._views_make(tbl regclass, saved text[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e      lamin.enabled_table := lamin._registry(tbl);
    vnsp   name := saved[1];
    mainv  name := saved[2];
    g      text;
BEGIN
    PERFORM lamin._create_views_named(e, vnsp, mainv);
    FOREACH g IN ARRAY saved[3:] LOOP
        EXECUTE g;
    END LOOP;
    UPDATE lamin.enabled_table
       SET main_view = format('%I.%I', vnsp, mainv)::regclass,
           archive_view = format('%I.%I', vnsp, lamin._object_name(e.original_name, '_archive'))::regclass,
           trash_view = format('%I.%I', vnsp, lamin._object_name(e.original_name, '_trash'))::regclass
     WHERE relation = e.relation;
END
$$;

-- Re-create the views of a table after its columns changed, keeping their grants.
CREATE FUNCTION lamin.refresh_views(tbl regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e      lamin.enabled_table := lamin._registry(tbl);
BEGIN
    IF e.relation IS NULL THEN
        RAISE EXCEPTION 'table % is not branch-enabled', tbl USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF e.mode = 'extension' THEN
        RAISE EXCEPTION 'table % belongs to extension lamin_branch', e.relation USING ERRCODE = 'feature_not_supported';
    END IF;
    IF NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = e.relation), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', e.relation USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM lamin._views_make(e.relation, lamin._views_drop(e.relation));
END
$$;
COMMENT ON FUNCTION lamin.refresh_views(regclass) IS
    're-create the views of a branch-enabled table after its columns changed, keeping grants';

-- After ALTER TABLE or COMMENT on a branch-enabled table, its views show its new columns, defaults
-- and comments. A change the views cannot follow (a dependent view of the user's blocks
-- re-creating them) is reported as a warning: the ALTER TABLE itself stands. Views that the
-- module's DDL hook has dropped for this statement (lamin._views_pending) are the hook's to make.
CREATE FUNCTION lamin._on_alter_table()
RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    e lamin.enabled_table;
BEGIN
    FOR r IN SELECT DISTINCT x.relation
               FROM pg_event_trigger_ddl_commands() d
               JOIN lamin.enabled_table x ON x.relation OPERATOR(pg_catalog.=) d.objid
              WHERE d.classid = 'pg_class'::regclass AND x.mode <> 'extension'
    LOOP
        CONTINUE WHEN lamin._views_pending(r.relation);
        e := lamin._registry(r.relation);
        BEGIN
            IF lamin._columns(e.relation) IS DISTINCT FROM (SELECT lamin._columns(e.main_view)) THEN
                PERFORM lamin.refresh_views(e.relation);
            ELSE
                PERFORM lamin._view_meta(e.relation, e.main_view, e.archive_view, e.trash_view);
            END IF;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'views of % not refreshed: %', e.relation, SQLERRM
                  USING HINT = format('Run SELECT lamin.refresh_views(%L); once the cause is fixed.', e.relation::text);
        END;
    END LOOP;
END
$$;
CREATE EVENT TRIGGER lamin_branch_alter_table ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'COMMENT')
    EXECUTE FUNCTION lamin._on_alter_table();

-- Has the DDL hook (src/utility.c) dropped the views of this table for the statement running
-- now, to make them again once it is done? Always false where the module is not preloaded.
CREATE FUNCTION lamin._views_pending(tbl regclass) RETURNS boolean
LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'lamin_views_pending';

-- Before DDL that names the main view of a table enabled in rename mode where the module is not
-- preloaded (the DDL hook would send it to the table): an error whose hint names the table.
CREATE FUNCTION lamin._on_ddl_start() RETURNS event_trigger
LANGUAGE C AS 'MODULE_PATHNAME', 'lamin_ddl_start';
CREATE EVENT TRIGGER lamin_branch_ddl_start ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE', 'CREATE INDEX', 'CREATE TABLE', 'COMMENT')
    EXECUTE FUNCTION lamin._on_ddl_start();

-- What a main view shows beside main, and where rows inserted through it land: the session's
-- current branch (lamin_branch.current_branch) in the table's branch catalog. (Here, before the
-- views' metadata below uses them; a fresh install has them in its first section.)
CREATE FUNCTION lamin._visible_branches(tbl regclass)
RETURNS integer[]
AS 'MODULE_PATHNAME', 'lamin_visible_branches'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lamin._visible_branches(regclass) IS
    'branches the main view of a table shows: main, and the current branch';

CREATE FUNCTION lamin._current_branch_of(tbl regclass)
RETURNS integer
AS 'MODULE_PATHNAME', 'lamin_current_branch_of'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lamin._current_branch_of(regclass) IS
    'the current branch in the branch catalog of a table: where rows inserted through its main view land';

-- Tables enabled before, and the artifacts, get their views' metadata.
SELECT lamin._view_meta(relation, main_view, archive_view, trash_view) FROM lamin.enabled_table;

--------------------------------------------------------------------------------------------------
-- Branches: create, switch, merge
--------------------------------------------------------------------------------------------------

-- Every role may create a branch (its name and description; the rest has defaults) and change
-- the ones it created; the catalog's owner changes any. main, archive and trash belong to the
-- owner. Deleting a branch is the owner's, and refused while a table uses it.
ALTER TABLE lamin.branch ENABLE ROW LEVEL SECURITY;
CREATE POLICY branch_read ON lamin.branch FOR SELECT USING (true);
CREATE POLICY branch_create ON lamin.branch FOR INSERT WITH CHECK (created_by OPERATOR(pg_catalog.=) CURRENT_USER);
CREATE POLICY branch_change ON lamin.branch FOR UPDATE
    USING (created_by OPERATOR(pg_catalog.=) CURRENT_USER) WITH CHECK (created_by OPERATOR(pg_catalog.=) CURRENT_USER);
GRANT INSERT (name, description), UPDATE (name, description, _status_code) ON lamin.branch TO PUBLIC;

-- A branch is marked merged only by lamin.merge(), and stays merged.
CREATE FUNCTION lamin._branch_status_guard() RETURNS trigger
LANGUAGE C AS 'MODULE_PATHNAME', 'lamin_branch_status_guard';
CREATE TRIGGER lamin_branch_status BEFORE UPDATE OF _status_code ON lamin.branch
    FOR EACH ROW EXECUTE FUNCTION lamin._branch_status_guard();

-- Sessions keep what the current branch's name means for each table; a change to a branch
-- catalog makes them look it up again (a relcache invalidation of the catalog).
CREATE FUNCTION lamin._branches_changed() RETURNS trigger
LANGUAGE C AS 'MODULE_PATHNAME', 'lamin_registry_changed';
CREATE TRIGGER lamin_branch_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON lamin.branch
    FOR EACH STATEMENT EXECUTE FUNCTION lamin._branches_changed();

-- LaminDB's status names of _status_code
CREATE FUNCTION lamin.branch_status(code smallint)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE code WHEN -2 THEN 'closed' WHEN -1 THEN 'merged' WHEN 0 THEN 'standalone'
                     WHEN 1 THEN 'draft' WHEN 2 THEN 'review' END
$$;
COMMENT ON FUNCTION lamin.branch_status(smallint) IS
    'LaminDB''s name of a branch status code: closed, merged, standalone, draft, review';

-- A branch by name for the catalog functions below: its row, or 42704 naming it.
CREATE FUNCTION lamin._branch_row(name text)
RETURNS lamin.branch
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b lamin.branch;
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'branch name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO b FROM lamin.branch x WHERE lower(x.name) = lower(_branch_row.name);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'branch "%" does not exist', name
              USING ERRCODE = 'undefined_object',
                    HINT = 'The branches are listed by: SELECT id, name FROM lamin.branch;';
    END IF;
    RETURN b;
END
$$;

-- Changing a branch: not main, archive or trash; only its creator or the catalog's owner.
CREATE FUNCTION lamin._branch_changeable(b lamin.branch)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF b.id BETWEEN -1 AND 1 THEN
        RAISE EXCEPTION 'branch "%" is reserved', b.name
              USING ERRCODE = 'reserved_name',
                    DETAIL = 'main, archive and trash belong to every branch-enabled table.';
    END IF;
    IF b.created_by <> current_user
       AND NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = 'lamin.branch'::regclass), 'USAGE') THEN
        RAISE EXCEPTION 'permission denied to change branch "%"', b.name
              USING ERRCODE = 'insufficient_privilege',
                    DETAIL = format('Branch "%s" was created by role "%s"; only that role and the owner of lamin.branch change it.',
                                    b.name, b.created_by);
    END IF;
END
$$;

-- LaminDB: ln.Branch(name=...).save(), `lamin switch -c name` (which also switches)
CREATE FUNCTION lamin.create_branch(name text, description text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id  integer;
    key text;
BEGIN
    IF name IS NULL OR btrim(name) = '' THEN
        RAISE EXCEPTION 'branch name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    BEGIN
        INSERT INTO lamin.branch (name, description)
        VALUES (create_branch.name, create_branch.description) RETURNING branch.id INTO id;
    EXCEPTION WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS key = CONSTRAINT_NAME;
        IF key IS DISTINCT FROM 'branch_name_key' THEN
            RAISE;   -- the id or the uid: Postgres's message names the key
        END IF;
        RAISE EXCEPTION 'branch "%" already exists', name
              USING ERRCODE = 'duplicate_object',
                    DETAIL = format('Branch names are unique whatever their case: "%s" is taken.',
                                    (SELECT b.name FROM lamin.branch b WHERE lower(b.name) = lower(create_branch.name))),
                    HINT = format('Switch to it with SELECT lamin.switch(%L);, or choose another name.', name);
    END;
    RETURN id;
END
$$;
COMMENT ON FUNCTION lamin.create_branch(text, text) IS
    'create a user branch (ids from 2, a LaminDB uid, names unique whatever their case); returns its id';

CREATE FUNCTION lamin.rename_branch(name text, new_name text)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b lamin.branch := lamin._branch_row(name);
BEGIN
    PERFORM lamin._branch_changeable(b);
    IF new_name IS NULL OR btrim(new_name) = '' THEN
        RAISE EXCEPTION 'branch name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    BEGIN
        UPDATE lamin.branch x SET name = new_name WHERE x.id = b.id;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'branch "%" already exists', new_name
              USING ERRCODE = 'duplicate_object', DETAIL = 'Branch names are unique whatever their case.';
    END;
    RETURN b.id;
END
$$;
COMMENT ON FUNCTION lamin.rename_branch(text, text) IS 'rename a user branch; returns its id';

CREATE FUNCTION lamin.set_branch_status(name text, status text)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b    lamin.branch := lamin._branch_row(name);
    code smallint := CASE lower(status) WHEN 'closed' THEN -2 WHEN 'standalone' THEN 0
                                        WHEN 'draft' THEN 1 WHEN 'review' THEN 2 END;
BEGIN
    PERFORM lamin._branch_changeable(b);
    IF lower(status) = 'merged' THEN
        RAISE EXCEPTION 'a branch becomes merged only by merging it'
              USING ERRCODE = 'invalid_parameter_value',
                    HINT = format('SELECT lamin.merge(%L);', b.name);
    END IF;
    IF code IS NULL THEN
        RAISE EXCEPTION 'branch status must be draft, review, closed or standalone, not "%"', status
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF b._status_code = -1 THEN
        RAISE EXCEPTION 'branch "%" is merged', b.name
              USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = 'A merged branch stays merged.';
    END IF;
    UPDATE lamin.branch x SET _status_code = code WHERE x.id = b.id;
    RETURN b.id;
END
$$;
COMMENT ON FUNCTION lamin.set_branch_status(text, text) IS
    'set a user branch''s status: draft, review, closed or standalone (merged comes with lamin.merge)';

-- The session's current branch. lamin_branch.current_branch may also be SET directly (name or
-- uid), in postgresql.conf, or per role with ALTER ROLE ... SET.
CREATE FUNCTION lamin.switch(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'lamin_switch'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION lamin.switch(text) IS
    'make a branch the session''s current branch: main views show it and main, inserts land on it';

CREATE FUNCTION lamin.current_branch()
RETURNS integer
AS 'MODULE_PATHNAME', 'lamin_current_branch'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION lamin.current_branch() IS 'id in lamin.branch of the session''s current branch (1, main, when unset)';

-- Merging: every enabled table whose branch catalog knows the branch, in one transaction. Who may
-- merge is a GRANT: EXECUTE on lamin.merge, and the rights lamin.move_many() would need for the
-- rows (into main: DELETE on each table's trash view; between user branches: DELETE on its main
-- view).
CREATE FUNCTION lamin.merge(source text, target text DEFAULT NULL)
RETURNS TABLE (relation regclass, rows_moved bigint, heads_changed bigint)
AS 'MODULE_PATHNAME', 'lamin_merge'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION lamin.merge(text, text) IS
    'move every row of a branch onto the target (default: the current branch, else main) and mark it merged';

CREATE FUNCTION lamin.merge_preview(source text, target text DEFAULT NULL)
RETURNS TABLE (relation regclass, rows_moved bigint, heads_changed bigint, collisions bigint,
               first_collision text)
AS 'MODULE_PATHNAME', 'lamin_merge_preview'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION lamin.merge_preview(text, text) IS
    'what lamin.merge would do, changing nothing, and how many rows would collide on unique keys';

REVOKE ALL ON FUNCTION lamin.merge(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION lamin.merge_preview(text, text) FROM PUBLIC;

-- A table's own branch catalog (a LaminDB instance's): sessions hear when its rows change. Made
-- by lamin.enable() where the caller owns the catalog; otherwise a renamed branch is seen at the
-- session's next invalidation. Kept by lamin.disable(): other tables may use the catalog.
CREATE FUNCTION lamin._watch_branch_catalog(cat regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF cat = 'lamin.branch'::regclass
       OR EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = cat AND tgname = 'lamin_branch_changed')
       OR NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = cat), 'USAGE') THEN
        RETURN;
    END IF;
    EXECUTE format('CREATE TRIGGER lamin_branch_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION lamin._branches_changed()', cat);
END
$$;

-- Enable every table of a schema that has a branch_id column: a whole LaminDB instance, whose
-- tables name its own lamindb_branch as their catalog. One transaction; tables already enabled
-- are skipped with a notice.
CREATE FUNCTION lamin.enable_all(schema name, views_schema name DEFAULT NULL)
RETURNS SETOF lamin.enabled_table
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tbls regclass[];
    tbl  regclass;
BEGIN
    IF schema IS NULL THEN
        RAISE EXCEPTION 'schema must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM FROM pg_namespace WHERE nspname = schema;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'schema "%" does not exist', schema USING ERRCODE = 'invalid_schema_name';
    END IF;
    SELECT coalesce(array_agg(c.oid::regclass ORDER BY c.relname), '{}') INTO tbls
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = schema AND c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'branch_id'
                      AND NOT a.attisdropped);
    FOREACH tbl IN ARRAY tbls LOOP
        IF (lamin._registry(tbl)).relation IS NOT NULL THEN
            RAISE NOTICE 'table % is already branch-enabled: skipped', tbl;
            CONTINUE;
        END IF;
        RETURN NEXT lamin.enable(tbl, views_schema);
    END LOOP;
END
$$;
COMMENT ON FUNCTION lamin.enable_all(name, name) IS
    'branch-enable every table of a schema that has a branch_id column (a LaminDB instance), in one transaction';

-- Main views show the current branch beside main, and the branch policy lets it through for
-- those who read through a view with their own rights: the artifact view, and the views of
-- tables enabled before (made again with their grants, as lamin.refresh_views does).
CREATE OR REPLACE VIEW lamin.artifact WITH (security_barrier = true) AS
    SELECT * FROM lamin.artifact_all
     WHERE branch_id OPERATOR(pg_catalog.=) ANY (lamin._visible_branches('lamin.artifact_all'::regclass));
ALTER POLICY lamin_branch_main ON lamin.artifact_all
    USING (branch_id OPERATOR(pg_catalog.=) ANY (lamin._visible_branches('lamin.artifact_all'::regclass)))
    WITH CHECK (branch_id OPERATOR(pg_catalog.=) ANY (lamin._visible_branches('lamin.artifact_all'::regclass)));
DO $$
DECLARE
    e lamin.enabled_table;
BEGIN
    FOR e IN SELECT * FROM lamin.enabled_table WHERE mode OPERATOR(pg_catalog.<>) 'extension' LOOP
        EXECUTE pg_catalog.format('ALTER POLICY lamin_branch_main ON %1$s '
                                  'USING (branch_id OPERATOR(pg_catalog.=) ANY (lamin._visible_branches(%2$L::regclass))) '
                                  'WITH CHECK (branch_id OPERATOR(pg_catalog.=) ANY (lamin._visible_branches(%2$L::regclass)))',
                                  e.relation, e.relation::text);
        PERFORM lamin._watch_branch_catalog(e.branch_table);
        -- a spaces table's 0.2.0 main view stays until its owner refreshes it (warned above)
        CONTINUE WHEN e.spaces AND e.enabled_rls AND EXISTS (
            SELECT 1 FROM pg_catalog.pg_class v WHERE v.oid OPERATOR(pg_catalog.=) e.main_view
               AND 'security_invoker=true' OPERATOR(pg_catalog.=) ANY (v.reloptions));
        PERFORM lamin._views_make(e.relation, lamin._views_drop(e.relation));
        -- made by this script, they would belong to the extension: they are the table's
        SELECT * INTO e FROM lamin.enabled_table t WHERE t.relation OPERATOR(pg_catalog.=) e.relation;
        EXECUTE pg_catalog.format('ALTER EXTENSION lamin_branch DROP VIEW %s', e.main_view);
        EXECUTE pg_catalog.format('ALTER EXTENSION lamin_branch DROP VIEW %s', e.archive_view);
        EXECUTE pg_catalog.format('ALTER EXTENSION lamin_branch DROP VIEW %s', e.trash_view);
    END LOOP;
END
$$;
SELECT lamin._view_meta(relation, main_view, archive_view, trash_view) FROM lamin.enabled_table
 WHERE mode OPERATOR(pg_catalog.=) 'extension';
