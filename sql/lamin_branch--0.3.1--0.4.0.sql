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
--   - Trash management (the last section): the move log and its triggers on every enabled table
--     (rows already in a trash get a record), lamin.trash and lamin.trash_summary,
--     lamin.empty_trash, cascades (enable's cascade, restore's overloads with cascade), unique
--     keys among visible rows (enable's unique_among_visible).
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
CREATE FUNCTION lamin.enable(tbl regclass, views_schema name DEFAULT NULL, spaces boolean DEFAULT false,
                             cascade boolean DEFAULT false, unique_among_visible boolean DEFAULT false)
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
    citus      boolean;
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
    -- a Citus table (distributed, reference or local): Citus mode, see lamin._citus_enable_check
    citus := lamin._citus_table(tbl);
    IF citus THEN
        PERFORM lamin._citus_enable_check(tbl, spaces);
    END IF;

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
                         OR (x.privilege_type IN ('SELECT', 'INSERT', 'UPDATE') AND NOT (c.relrowsecurity OR citus))) LOOP
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
    IF (SELECT count(*) FROM pg_attribute WHERE attrelid = tbl AND attname IN ('uid', 'is_latest') AND NOT attisdropped) = 2
       AND citus THEN
        RAISE NOTICE 'version heads (is_latest) of table % are not kept: it is a Citus table', tbl
              USING HINT = 'lamin_branch keeps heads with triggers, which Citus tables do not run; see README, Scale-out.';
    ELSIF (SELECT count(*) FROM pg_attribute WHERE attrelid = tbl AND attname IN ('uid', 'is_latest') AND NOT attisdropped) = 2 THEN
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

    -- row-level security: the branch rule narrows what policies the table already has
    e.enabled_rls := NOT c.relrowsecurity;
    IF citus THEN
        PERFORM lamin._citus_enable_rules(tbl);
        e.spaces := false;
    ELSE
    EXECUTE format('CREATE TRIGGER lamin_branch_row BEFORE INSERT OR UPDATE OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION lamin.branch_row_trigger()', tbl);
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
    IF citus THEN
        -- Citus reads shards with the rights of the role that queries: the main view does too,
        -- and lamin_branch_main confines that role to main (a barrier would only slow its plans)
        EXECUTE format('ALTER VIEW %s SET (security_invoker = true, security_barrier = false)', e.main_view);
    END IF;

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

    -- the move log, cascades, unique keys among visible rows (section Trash management)
    PERFORM lamin._trash_enable(tbl, enable.cascade, enable.unique_among_visible);

    INSERT INTO lamin.enabled_table SELECT e.*;
    -- a table's own branch catalog tells sessions when its branches change (see Branches)
    PERFORM lamin._watch_branch_catalog(cat);
    RETURN e;
END
$$;
COMMENT ON FUNCTION lamin.enable(regclass, name, boolean, boolean, boolean) IS
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
-- rows while a table uses them. (lamin.artifact_all keeps the foreign key of created_on_id for
-- pg_dump's order only; the row trigger checks that column too, and the key's check triggers on
-- the table are disabled.)
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

-- The version family of a row locked from inside the WHERE clause of the single-row move
-- statements, after their key and branch conditions and before the row's lock: the order every
-- move path takes (family, then row), without a query of its own for the row's uid. Only a
-- role that may update the table may call it; it costs more than any other condition, so that
-- the planner runs it last.
CREATE FUNCTION lamin._lock_family(tbl oid, uid text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'lamin_lock_family_of'
LANGUAGE C VOLATILE COST 1000;
COMMENT ON FUNCTION lamin._lock_family(oid, text) IS
    'lock the version family of uid in a branch-enabled table: called by the single-row move statements';

-- The triggers that keep a table's version heads: per statement, from the transition table of
-- an INSERT or DELETE and from what the row trigger noted of an UPDATE's rows (Postgres would
-- copy both versions of every updated row into transition tables); per row on a partitioned
-- table, whose partitions a statement may name directly. Called by
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
    -- a Citus table has a branch check instead of the row trigger
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = e.relation AND tgname = 'lamin_branch_row') THEN
        EXECUTE format('DROP TRIGGER lamin_branch_row ON %s', e.relation);
    END IF;
    IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = e.relation AND conname = 'lamin_branch_known') THEN
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT lamin_branch_known', e.relation);
    END IF;
    FOR trig IN SELECT tgname FROM pg_trigger WHERE tgrelid = e.relation AND NOT tgisinternal
                   AND tgname IN ('lamin_branch_heads', 'lamin_branch_heads_insert', 'lamin_branch_heads_update',
                                  'lamin_branch_heads_delete', 'lamin_move_log', 'lamin_move_log_update',
                                  'lamin_move_log_delete', 'lamin_cascade_purge') LOOP
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
        IF EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = e.relation AND polname = 'lamin_branch_rows') THEN
            EXECUTE format('DROP POLICY lamin_branch_rows ON %s', e.relation);
        END IF;
        EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', e.relation);
    END IF;
    IF e.family_index IS NOT NULL AND EXISTS (SELECT 1 FROM pg_class WHERE oid = e.family_index) THEN
        EXECUTE format('DROP INDEX %s', e.family_index);
    END IF;
    PERFORM lamin._unique_among_visible_undo(e.relation);
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

-- The foreign key of created_on_id stays for pg_dump: it restores an extension's tables in the
-- order of their foreign keys, with their triggers on, and the row trigger needs lamin.branch's
-- rows first. The key's checks of this table's inserts and updates are the row trigger's, as on
-- every enabled table (no query for main, archive and trash, where the key ran one per row), so
-- its two check triggers here are disabled; its triggers on lamin.branch stay.
DO $fk$
DECLARE
    tg name;
BEGIN
    FOR tg IN SELECT t.tgname FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_constraint k ON k.oid = t.tgconstraint
               WHERE t.tgrelid = 'lamin.artifact_all'::regclass AND k.conrelid = t.tgrelid
                 AND k.contype = 'f' AND k.confrelid = 'lamin.branch'::regclass
                 AND k.conkey = ARRAY[(SELECT attnum FROM pg_catalog.pg_attribute
                                        WHERE attrelid = t.tgrelid AND attname = 'created_on_id')]
               ORDER BY t.tgname LOOP
        EXECUTE pg_catalog.format('ALTER TABLE lamin.artifact_all DISABLE TRIGGER %I', tg);
    END LOOP;
END
$fk$;

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

-- Is the table in Citus's catalog (pg_catalog.pg_dist_partition)? Such a table is in Citus mode:
-- the planner hook leaves its views to Postgres, enable() gives it no trigger, and the bulk
-- moves run as plain statements across its shards.
CREATE FUNCTION lamin._citus_table(tbl regclass)
RETURNS boolean
AS 'MODULE_PATHNAME', 'lamin_citus_table'
LANGUAGE C STABLE STRICT;

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
    -- Citus refuses view defaults; they serve INSERTs through the view, which it refuses too
    citus boolean := lamin._citus_table(tbl);
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
            IF a.def IS DISTINCT FROM a.view_def AND NOT citus THEN
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
                       -- main: main and the session's current branch (lamin_branch.current_branch);
                       -- main alone on a Citus table, whose shards do not see the session's setting
                       CASE WHEN v.branch = 1 AND NOT lamin._citus_table(e.relation)
                            THEN format('ANY (lamin._visible_branches(%L::regclass))', e.relation::text)
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
CREATE FUNCTION lamin._key_free(tbl regclass, key anyelement)
RETURNS anyelement
AS 'MODULE_PATHNAME', 'lamin_key_free'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION lamin._key_free(regclass, anyelement) IS
    'the key an INSERT through a main view gives, after checking that no row the view does not show holds it (set by the planner hook)';

CREATE FUNCTION lamin._keys_free(tbl regclass, keys record, value anyelement)
RETURNS anyelement
AS 'MODULE_PATHNAME', 'lamin_keys_free'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION lamin._keys_free(regclass, record, anyelement) IS
    'the same for a key of several columns (keys, in key order): returns value, the last column''s';

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
-- Citus: tables that Citus plans (distributed, reference or Citus local tables)
--------------------------------------------------------------------------------------------------

-- What Citus mode cannot do, refused before enable() changes anything.
CREATE FUNCTION lamin._citus_enable_check(tbl regclass, spaces boolean)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF spaces THEN
        RAISE EXCEPTION 'spaces are not available on table %', tbl
              USING ERRCODE = 'feature_not_supported',
                    DETAIL = 'It is a Citus table: the space rules are restrictive policies, which Citus does not apply as such on its shards.',
                    HINT = 'Enable it without spaces.';
    END IF;
    IF (SELECT relrowsecurity FROM pg_class WHERE oid = tbl) THEN
        RAISE EXCEPTION 'table % has row-level security of its own', tbl
              USING ERRCODE = 'feature_not_supported',
                    DETAIL = 'It is a Citus table: the branch rule would be one more permissive policy on its shards and widen what the others allow.',
                    HINT = 'Disable its row-level security first, or keep the table off Citus.';
    END IF;
END
$$;

-- The rules a trigger keeps on other tables, as a Citus table keeps them on every shard: the
-- branch columns hold main, archive or trash where lamin.branch is the catalog (a user branch
-- needs a catalog that is a Citus reference table, named by a foreign key of branch_id), and one
-- permissive policy confines every role but the owner to main: Citus applies policies on the
-- shards, but not restrictive ones as restrictive.
CREATE FUNCTION lamin._citus_enable_rules(tbl regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
      WHERE c.conrelid = tbl AND c.contype = 'f' AND a.attname = 'branch_id';
    IF NOT FOUND THEN
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT lamin_branch_known CHECK '
                       '(branch_id BETWEEN -1 AND 1 AND created_on_id BETWEEN -1 AND 1)', tbl);
    END IF;
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('CREATE POLICY lamin_branch_main ON %s AS PERMISSIVE FOR ALL '
                   'USING (branch_id OPERATOR(pg_catalog.=) 1) WITH CHECK (branch_id OPERATOR(pg_catalog.=) 1)', tbl);
END
$$;

--------------------------------------------------------------------------------------------------
-- Trash management: move log, trash, retention, cascades
--------------------------------------------------------------------------------------------------


-- Every move of rows of an enabled table between branches, and every row deleted for good,
-- whatever the path (move functions, DELETE through a view, UPDATE of branch_id, batched jobs,
-- purges). One record per statement, pair of branches and up to 1000 keys (per row on a
-- partitioned table), holding the keys it moved as an array: a bulk move writes a heap row per
-- 1000 keys and one GIN entry per key into the pending list, not a row and btree entries per
-- moved row. A record holds no more keys than a look-up by key is glad to read. Written by the
-- tables' move-log triggers as this table's owner; read through lamin.move_log (a row per
-- moved row) by the roles granted it, and through lamin.trash by each role for the tables
-- whose trash it may read.
CREATE TABLE lamin.move_record (
    id          bigint GENERATED BY DEFAULT AS IDENTITY NOT NULL,  -- the order of the records
    relation    regclass NOT NULL,  -- the base table
    keys        text[] COLLATE "C" NOT NULL,  -- the rows' primary keys as text; (a,b) for several columns
    uids        text[],             -- their uids, in the same order, where the table has them
    key_count   integer NOT NULL,   -- how many keys (counted without reading the arrays)
    from_branch integer,            -- NULL for rows found in the trash when the log began
    to_branch   integer,            -- NULL for a purge
    role        regrole,            -- the role that moved them (SET ROLE counts; SECURITY DEFINER does not)
    at          timestamptz NOT NULL DEFAULT pg_catalog.statement_timestamp(),
    txid        bigint NOT NULL DEFAULT pg_catalog.txid_current(),
    operation   bigint,             -- shared by everything one call or statement moved: its first record's id
    row_data    jsonb[]             -- for a purge: the rows, in the order of keys
);
-- The records of a key (lamin._moves_of: cascades, retention), those of a table in order
-- (lamin.trash), and the moves away to trash or archive by operation (operation_rows,
-- cascades coming back). No primary key: nothing looks a record up by id alone.
CREATE INDEX move_record_keys_idx ON lamin.move_record USING gin (keys);
CREATE INDEX move_record_relation_idx ON lamin.move_record (relation, id);
CREATE INDEX move_record_operation_idx ON lamin.move_record (operation) WHERE to_branch OPERATOR(pg_catalog.<=) 0;
COMMENT ON TABLE lamin.move_record IS
    'the move log as written: one record per statement, pair of branches and up to 1000 keys, the moved keys as an array';
-- The key, uid and row arrays are compressed with lz4 where the server was built with it
-- (--with-lz4, as the Debian and PGDG packages are): a bulk move's records are TOASTed, and lz4
-- takes less time over them than pglz, the default. Elsewhere they stay with pglz.
DO $lz4$
BEGIN
    ALTER TABLE lamin.move_record ALTER COLUMN keys SET COMPRESSION lz4,
                                  ALTER COLUMN uids SET COMPRESSION lz4,
                                  ALTER COLUMN row_data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    NULL;
END
$lz4$;
-- Autovacuum looks at the log after every 100 records, whatever its size: vacuum is what merges
-- the GIN pending list of the keys into the index in the background. Counted by heap rows, the
-- defaults (1000 rows and a fifth of the table) would wait for 200 000 records of a large log,
-- while 100 records of a bulk move (1000 keys each) fill about half of the 4 MB list, and the
-- moving statement that finds it full merges it itself.
ALTER TABLE lamin.move_record SET (autovacuum_vacuum_insert_threshold = 100,
                                   autovacuum_vacuum_insert_scale_factor = 0);
SELECT pg_catalog.pg_extension_config_dump('lamin.move_record', '');
SELECT pg_catalog.pg_extension_config_dump('lamin.move_record_id_seq', '');

-- Records written where lamin_branch.log_inbox is on: the same columns, no index, so that a
-- moving statement writes a heap row only. lamin.merge_log(), run by a scheduled job or another
-- session, moves them into lamin.move_record; until then every query of lamin.move_record reads
-- them too (this table inherits from it), by a scan of what is here.
CREATE TABLE lamin.move_inbox () INHERITS (lamin.move_record);
COMMENT ON TABLE lamin.move_inbox IS
    'records not yet merged into lamin.move_record by lamin.merge_log(); read with it through inheritance';
ALTER TABLE lamin.move_inbox SET (autovacuum_vacuum_threshold = 1000,
                                  autovacuum_vacuum_scale_factor = 0,
                                  autovacuum_vacuum_insert_threshold = 1000,
                                  autovacuum_vacuum_insert_scale_factor = 0);
SELECT pg_catalog.pg_extension_config_dump('lamin.move_inbox', '');

-- Move the inbox's records into the indexed log; returns how many. Records keep their ids, and a
-- query sees each record once, before or after (one statement).
CREATE FUNCTION lamin.merge_log()
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH moved AS (
        DELETE FROM lamin.move_inbox
        RETURNING id, relation, keys, uids, key_count, from_branch, to_branch, role, at, txid, operation, row_data
    ), merged AS (
        INSERT INTO lamin.move_record (id, relation, keys, uids, key_count, from_branch, to_branch, role, at, txid, operation, row_data)
        SELECT id, relation, keys, uids, key_count, from_branch, to_branch, role, at, txid, operation, row_data FROM moved
        RETURNING 1
    )
    SELECT pg_catalog.count(*) FROM merged
$$;
COMMENT ON FUNCTION lamin.merge_log() IS
    'move the records of lamin.move_inbox into lamin.move_record; returns how many';
REVOKE ALL ON FUNCTION lamin.merge_log() FROM PUBLIC;

-- A row per moved row: who moved it, when, from which branch to which, in which operation.
-- Readable only by the roles granted it.
CREATE VIEW lamin.move_log AS
    SELECT r.id, r.relation, k.key, k.uid, r.from_branch, r.to_branch, r.role, r.at, r.txid, r.operation, k.row_data
      FROM lamin.move_record r
     CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(r.keys), pg_catalog.unnest(r.uids), pg_catalog.unnest(r.row_data))
           AS k(key, uid, row_data);
COMMENT ON VIEW lamin.move_log IS
    'every move between branches and every purge of rows of branch-enabled tables: who, when, in which operation';

-- AFTER UPDATE and AFTER DELETE FOR EACH STATEMENT (FOR EACH ROW on partitioned tables): the
-- statement's records in lamin.move_record, of the moves the row trigger noted (UPDATE) or from
-- the transition tables (DELETE, and UPDATE with the argument 'cascade', where the rows of
-- enabled tables that reference the moved rows follow them).
CREATE FUNCTION lamin._move_log_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'lamin_move_log_trigger'
LANGUAGE C;

-- The records of the given keys of a table (its latest record per key with latest), for a
-- role that may read the table's trash view or the move log; none for any other role. Found
-- through the GIN index on the keys.
CREATE FUNCTION lamin._moves_of(tbl regclass, keys text[], latest boolean)
RETURNS TABLE (key text, from_branch integer, to_branch integer, role regrole, at timestamptz,
               operation bigint, id bigint)
AS 'MODULE_PATHNAME', 'lamin_moves_of'
LANGUAGE C STABLE STRICT;

-- The primary key of a table as text, as an expression of alias a: what move_log.key holds.
CREATE FUNCTION lamin._key_text_expr(tbl regclass, a text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN count(*) = 1 THEN min(format('%s.%I::pg_catalog.text', a, att.attname))
                ELSE '''('' OPERATOR(pg_catalog.||) '
                     || string_agg(format('%s.%I::pg_catalog.text', a, att.attname),
                                   ' OPERATOR(pg_catalog.||) '','' OPERATOR(pg_catalog.||) ' ORDER BY k.i)
                     || ' OPERATOR(pg_catalog.||) '')''' END
      FROM pg_index x, unnest(x.indkey) WITH ORDINALITY k(attnum, i), pg_attribute att
     WHERE x.indrelid = tbl AND x.indisprimary AND att.attrelid = tbl AND att.attnum = k.attnum
$$;

-- BEFORE DELETE FOR EACH ROW on tables enabled with cascade: purging a trashed row first purges
-- the trashed rows of enabled tables that reference it (through their trash views, with the
-- caller's rights), so that ON DELETE RESTRICT keys do not block it and ON DELETE CASCADE keys
-- do not take them without a record. Rows on other branches still referencing it stay, and
-- their keys decide.
CREATE FUNCTION lamin._cascade_purge()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k      record;
    before timestamptz := nullif(current_setting('lamin.purge_before', true), '')::timestamptz;
BEGIN
    IF OLD.branch_id IS DISTINCT FROM -1 THEN
        RETURN OLD;
    END IF;
    FOR k IN SELECT e.trash_view, e.relation,
                    (SELECT string_agg(format('c.%I = ($1).%I', ca.attname, pa.attname), ' AND ' ORDER BY u.i)
                       FROM unnest(c.conkey, c.confkey) WITH ORDINALITY u(ck, pk, i)
                       JOIN pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = u.ck
                       JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = u.pk) AS cond
               FROM pg_constraint c JOIN lamin.enabled_table e ON e.relation = c.conrelid
              WHERE c.confrelid = TG_RELID AND c.contype = 'f'
              ORDER BY c.conrelid::regclass::text, c.conname LOOP
        -- under lamin.empty_trash, rows trashed after its cutoff stay (and their key decides):
        -- one look-up in the log for the children of this row
        EXECUTE format('DELETE FROM %s c WHERE %s%s', k.trash_view, k.cond,
                       CASE WHEN before IS NULL THEN '' ELSE
                            format(' AND %2$s <> ALL (SELECT y.key FROM lamin._moves_of(%1$L, '
                                   '(SELECT array_agg(%2$s) FROM %3$s c WHERE %4$s), true) y '
                                   'WHERE y.to_branch = -1 AND y.at >= $2)',
                                   k.relation, lamin._key_text_expr(k.relation, 'c'), k.trash_view, k.cond) END)
           USING OLD, before;
    END LOOP;
    RETURN OLD;
END
$$;

-- The move-log triggers of a table, made again; with cascade, its moves and purges take the
-- rows of enabled tables that reference it along.
CREATE FUNCTION lamin._move_log_triggers(tbl regclass, cascade boolean)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    trig name;
    arg  text := CASE WHEN _move_log_triggers.cascade THEN '''cascade''' ELSE '' END;
BEGIN
    FOR trig IN SELECT tgname FROM pg_trigger WHERE tgrelid = tbl AND NOT tgisinternal
                   AND tgname IN ('lamin_move_log', 'lamin_move_log_update', 'lamin_move_log_delete',
                                  'lamin_cascade_purge') LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', trig, tbl);
    END LOOP;
    IF (SELECT relkind FROM pg_class WHERE oid = tbl) = 'p' THEN
        -- a statement trigger on the root does not fire for a statement that names a partition
        EXECUTE format('CREATE TRIGGER lamin_move_log AFTER UPDATE OF branch_id OR DELETE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION lamin._move_log_trigger(%s)', tbl, arg);
    ELSE
        -- an UPDATE logs what the row trigger noted of its moves; cascades need the old rows
        EXECUTE format('CREATE TRIGGER lamin_move_log_update AFTER UPDATE ON %s %s'
                       'FOR EACH STATEMENT EXECUTE FUNCTION lamin._move_log_trigger(%s)', tbl,
                       CASE WHEN _move_log_triggers.cascade
                            THEN 'REFERENCING OLD TABLE AS lamin_old NEW TABLE AS lamin_new ' ELSE '' END, arg);
        EXECUTE format('CREATE TRIGGER lamin_move_log_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS lamin_old '
                       'FOR EACH STATEMENT EXECUTE FUNCTION lamin._move_log_trigger(%s)', tbl, arg);
    END IF;
    IF _move_log_triggers.cascade THEN
        EXECUTE format('CREATE TRIGGER lamin_cascade_purge BEFORE DELETE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION lamin._cascade_purge()', tbl);
    END IF;
END
$$;

-- Rows already in the trash when a table's log begins get a record (from_branch, role and
-- operation unknown, at the time the log began), so that retention counts from then. The owner
-- reads the rows; the C function checks that and writes the records as the log's owner.
CREATE FUNCTION lamin._move_log_record_trashed(tbl regclass, keys text[], uids text[])
RETURNS void
AS 'MODULE_PATHNAME', 'lamin_move_log_seed'
LANGUAGE C;

CREATE FUNCTION lamin._move_log_seed(tbl regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    keys text[];
    uids text[];
BEGIN
    EXECUTE format('SELECT array_agg(%s), array_agg(%s) FROM %s t WHERE t.branch_id OPERATOR(pg_catalog.=) -1',
                   lamin._key_text_expr(tbl, 't'),
                   CASE WHEN EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = tbl AND attname = 'uid' AND NOT attisdropped)
                        THEN 't.uid::pg_catalog.text' ELSE 'NULL::pg_catalog.text' END,
                   tbl)
       INTO keys, uids;
    IF keys IS NOT NULL THEN
        PERFORM lamin._move_log_record_trashed(tbl, keys, uids);
    END IF;
END
$$;

-- What lamin.enable() does for the move log and the trash of a table.
CREATE FUNCTION lamin._trash_enable(tbl regclass, cascade boolean, unique_among_visible boolean)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- a Citus table has no trigger (Citus mode): no move log, so nothing that builds on it
    IF lamin._citus_table(tbl) THEN
        IF coalesce(_trash_enable.cascade, false) OR coalesce(_trash_enable.unique_among_visible, false) THEN
            RAISE EXCEPTION '% is not available on table %',
                            CASE WHEN _trash_enable.cascade THEN 'cascade' ELSE 'unique_among_visible' END, tbl
                  USING ERRCODE = 'feature_not_supported',
                        DETAIL = 'It is a Citus table: it has no triggers, so no move log to cascade by or to guard restores with.',
                        HINT = 'Enable it without that option.';
        END IF;
        RETURN;
    END IF;
    PERFORM lamin._move_log_triggers(tbl, coalesce(_trash_enable.cascade, false));
    PERFORM lamin._move_log_seed(tbl);
    IF coalesce(_trash_enable.unique_among_visible, false) THEN
        PERFORM lamin._unique_among_visible(tbl);
    END IF;
END
$$;

-- The trash of every enabled table: each row in a trash, from its last move record, for the
-- tables whose trash view the querying role may read. operation_rows: how many rows the same
-- operation moved to the trash. A query for one table reads that table's records only.
CREATE VIEW lamin.trash WITH (security_barrier = true) AS
    SELECT l.relation, l.key, l.uid, l.role AS trashed_by, l.at AS trashed_at, l.operation,
           CASE WHEN l.operation IS NOT NULL
                THEN (SELECT pg_catalog.sum(o.key_count)::bigint FROM lamin.move_record o
                       WHERE o.operation OPERATOR(pg_catalog.=) l.operation
                         AND o.to_branch OPERATOR(pg_catalog.=) -1) END AS operation_rows
      FROM (SELECT DISTINCT ON (r.relation, k.key) r.relation, k.key, k.uid, r.to_branch, r.role, r.at, r.operation
              FROM lamin.move_record r
             CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(r.keys), pg_catalog.unnest(r.uids)) AS k(key, uid)
             ORDER BY r.relation, k.key, r.id DESC) l
      JOIN lamin.enabled_table e ON e.relation OPERATOR(pg_catalog.=) l.relation
     WHERE l.to_branch OPERATOR(pg_catalog.=) -1
       AND pg_catalog.has_table_privilege(e.trash_view, 'SELECT');
COMMENT ON VIEW lamin.trash IS
    'every trashed row of every branch-enabled table whose trash view you may read: who trashed it, when, in which operation';
GRANT SELECT ON lamin.trash TO PUBLIC;

CREATE FUNCTION lamin._trash_summary()
RETURNS TABLE ("table" regclass, rows bigint, oldest timestamptz, bytes bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e record;
BEGIN
    FOR e IN SELECT x.relation, x.trash_view FROM lamin.enabled_table x
              WHERE has_table_privilege(x.trash_view, 'SELECT') ORDER BY x.relation::text LOOP
        "table" := e.relation;
        EXECUTE format('SELECT count(*), coalesce(sum(pg_catalog.pg_column_size(t.*)), 0) FROM %s t', e.trash_view)
           INTO rows, bytes;
        oldest := (SELECT min(x.trashed_at) FROM lamin.trash x WHERE x.relation = e.relation);
        RETURN NEXT;
    END LOOP;
END
$$;

CREATE VIEW lamin.trash_summary AS SELECT * FROM lamin._trash_summary();
COMMENT ON VIEW lamin.trash_summary IS
    'per branch-enabled table whose trash view you may read: rows in its trash, the oldest trashed, their size in bytes';
GRANT SELECT ON lamin.trash_summary TO PUBLIC;

-- Retention: delete for good the rows whose last move to the trash is older than older_than,
-- table by table (or only tbl), batch_size rows per transaction. dry_run (the default) only
-- counts them. Runs with the caller's rights: a purge is a DELETE through the table's trash view.
-- A row restored or trashed again while the job waited for it is kept: the batch is rolled back
-- if one of its rows has a move to the trash after the cutoff. CALL it outside a transaction block.
CREATE PROCEDURE lamin.empty_trash(older_than interval, tbl regclass DEFAULT NULL, dry_run boolean DEFAULT true,
                                   batch_size integer DEFAULT 1000, INOUT removed bigint DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    cutoff  timestamptz;
    e       lamin.enabled_table;
    one     regclass;
    cand    text[];
    i       integer;
    keys    text[];
    late    text[];
    kt      text;
    excl    text;
    n       bigint;
    total   bigint;
BEGIN
    IF older_than IS NULL OR older_than OPERATOR(pg_catalog.<) '0'::pg_catalog.interval THEN
        RAISE EXCEPTION 'older_than must be an interval of zero or more, not %', coalesce(older_than::text, 'NULL')
              USING ERRCODE = 'invalid_parameter_value',
                    HINT = 'For example: CALL lamin.empty_trash(''30 days'');';
    END IF;
    IF batch_size IS NULL OR batch_size OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'batch_size must be at least 1, not %', batch_size USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF tbl IS NOT NULL THEN
        one := (lamin._registry(tbl)).relation;
        IF one IS NULL THEN
            RAISE EXCEPTION 'table % is not branch-enabled', tbl
                  USING ERRCODE = 'object_not_in_prerequisite_state',
                        HINT = 'The branch-enabled tables are listed by: SELECT relation FROM lamin.enabled_table;';
        END IF;
    END IF;
    cutoff := pg_catalog.statement_timestamp() OPERATOR(pg_catalog.-) older_than;
    removed := 0;
    FOR e IN SELECT * FROM lamin.enabled_table x
              WHERE one IS NULL OR x.relation OPERATOR(pg_catalog.=) one
              ORDER BY x.relation::pg_catalog.text LOOP
        -- every table: those whose trash the caller may empty; one table: its rights decide
        CONTINUE WHEN one IS NULL AND NOT (pg_catalog.has_table_privilege(e.trash_view, 'SELECT')
                                            AND pg_catalog.has_table_privilege(e.trash_view, 'DELETE'));
        kt := lamin._key_text_expr(e.relation, 't');
        -- a row that trashed rows of enabled tables reference, trashed after the cutoff, stays:
        -- purging it would take them along (a cascade purge, or the foreign key's own action)
        SELECT coalesce(string_agg(pg_catalog.format(
                   ' AND NOT EXISTS (SELECT 1 FROM %s c JOIN lamin.trash y ON y.relation OPERATOR(pg_catalog.=) %L::pg_catalog.regclass '
                   'AND y.key OPERATOR(pg_catalog.=) %s WHERE %s AND y.trashed_at OPERATOR(pg_catalog.>=) $1)',
                   ce.trash_view, ce.relation, lamin._key_text_expr(ce.relation, 'c'),
                   (SELECT pg_catalog.string_agg(pg_catalog.format('c.%I OPERATOR(pg_catalog.=) t.%I', ca.attname, pa.attname), ' AND ' ORDER BY u.i)
                      FROM ROWS FROM (pg_catalog.unnest(k.conkey), pg_catalog.unnest(k.confkey)) WITH ORDINALITY u(ck, pk, i)
                      JOIN pg_catalog.pg_attribute ca ON ca.attrelid OPERATOR(pg_catalog.=) k.conrelid AND ca.attnum OPERATOR(pg_catalog.=) u.ck
                      JOIN pg_catalog.pg_attribute pa ON pa.attrelid OPERATOR(pg_catalog.=) k.confrelid AND pa.attnum OPERATOR(pg_catalog.=) u.pk)),
                   '' ORDER BY ce.relation::pg_catalog.text, k.conname), '')
          INTO excl
          FROM pg_catalog.pg_constraint k JOIN lamin.enabled_table ce ON ce.relation OPERATOR(pg_catalog.=) k.conrelid
         WHERE k.confrelid OPERATOR(pg_catalog.=) e.relation AND k.contype OPERATOR(pg_catalog.=) 'f';
        total := 0;
        IF dry_run THEN
            EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %s t JOIN lamin.trash x ON x.relation OPERATOR(pg_catalog.=) %L::pg_catalog.regclass '
                                      'AND x.key OPERATOR(pg_catalog.=) %s WHERE x.trashed_at OPERATOR(pg_catalog.<) $1%s',
                                      e.trash_view, e.relation, kt, excl)
               INTO total USING cutoff;
            RAISE NOTICE 'would remove % rows of % (dry run)', total, e.relation;
        ELSE
            -- the rows to remove, found once (one pass over the table's records); each batch
            -- checks its rows' last records again as it deletes them
            EXECUTE pg_catalog.format('SELECT pg_catalog.array_agg(%1$s ORDER BY %4$s) FROM %2$s t '
                                      'JOIN lamin.trash x ON x.relation OPERATOR(pg_catalog.=) %3$L::pg_catalog.regclass '
                                      'AND x.key OPERATOR(pg_catalog.=) %1$s WHERE x.trashed_at OPERATOR(pg_catalog.<) $1%5$s',
                                      kt, e.trash_view, e.relation, lamin._key_order(e.relation), excl)
               INTO cand USING cutoff;
            i := 1;
            WHILE i OPERATOR(pg_catalog.<=) coalesce(pg_catalog.cardinality(cand), 0) LOOP
                keys := cand[i:i OPERATOR(pg_catalog.+) batch_size OPERATOR(pg_catalog.-) 1];
                -- the cascade purge (lamin._cascade_purge) leaves rows trashed after the cutoff
                PERFORM pg_catalog.set_config('lamin.purge_before', cutoff::pg_catalog.text, true);
                EXECUTE pg_catalog.format('WITH d AS (DELETE FROM %2$s t WHERE %1$s OPERATOR(pg_catalog.=) ANY ('
                                          'SELECT y.key FROM lamin._moves_of(%3$L::pg_catalog.regclass, $2, true) y '
                                          'WHERE y.to_branch OPERATOR(pg_catalog.=) -1 AND y.at OPERATOR(pg_catalog.<) $1) '
                                          'RETURNING %1$s AS k) SELECT pg_catalog.array_agg(k) FROM d',
                                          kt, e.trash_view, e.relation)
                   INTO keys USING cutoff, keys;
                n := coalesce(pg_catalog.cardinality(keys), 0);
                IF n OPERATOR(pg_catalog.>) 0 THEN
                    -- A row restored and trashed again by a transaction that committed while this
                    -- one waited for its lock was deleted on the strength of its old record (the
                    -- DELETE rechecks the row, not the log): its new record is after the cutoff.
                    -- Keep the batch, and run it again: its DELETE now sees the new record.
                    SELECT pg_catalog.array_agg(DISTINCT m.key ORDER BY m.key) INTO late
                      FROM lamin._moves_of(e.relation, keys, false) m
                     WHERE m.to_branch OPERATOR(pg_catalog.=) -1 AND m.at OPERATOR(pg_catalog.>=) cutoff;
                    IF late IS NOT NULL THEN
                        ROLLBACK;
                        RAISE NOTICE 'kept rows of % trashed again meanwhile: %', e.relation, pg_catalog.array_to_string(late, ', ');
                        CONTINUE;
                    END IF;
                    total := total OPERATOR(pg_catalog.+) n;
                    COMMIT;
                END IF;
                i := i OPERATOR(pg_catalog.+) batch_size;
            END LOOP;
            RAISE NOTICE 'removed % rows of %', total, e.relation;
        END IF;
        removed := removed OPERATOR(pg_catalog.+) total;
    END LOOP;
END
$$;
COMMENT ON PROCEDURE lamin.empty_trash(interval, regclass, boolean, integer, bigint) IS
    'delete for good the rows trashed longer ago than older_than (by their move record), in batches; dry_run => true (the default) only counts';

-- Unique keys among visible rows (enable(tbl, unique_among_visible => true)): the table's
-- unique constraints (not its primary key) become partial unique indexes that ignore trashed
-- rows, so that a key can be used again once its row is in the trash. What was changed is
-- recorded here, so that disable() puts the constraints back; kept by pg_dump.
CREATE TABLE lamin.visible_unique (
    index           regclass PRIMARY KEY,   -- the partial unique index
    relation        regclass NOT NULL,      -- its table
    constraint_name name NOT NULL,          -- the constraint it replaced
    definition      text NOT NULL           -- and its definition (pg_get_constraintdef)
);
COMMENT ON TABLE lamin.visible_unique IS
    'unique constraints lamin.enable(unique_among_visible => true) turned into partial unique indexes that ignore trashed rows';
SELECT pg_catalog.pg_extension_config_dump('lamin.visible_unique', '');
-- Everyone reads it; a row is written only by a role that owns its table.
ALTER TABLE lamin.visible_unique ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible_unique_read ON lamin.visible_unique FOR SELECT USING (true);
CREATE POLICY visible_unique_owner ON lamin.visible_unique FOR ALL
    USING (pg_catalog.pg_has_role(CURRENT_USER,
           (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relation), 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER,
           (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relation), 'USAGE'));
GRANT SELECT, INSERT, UPDATE, DELETE ON lamin.visible_unique TO PUBLIC;

-- BEFORE UPDATE OF branch_id FOR EACH ROW, for rows leaving the trash of a table with unique keys
-- among visible rows (the trigger's WHEN clause: no call for other rows): a row whose unique key
-- another visible row took meanwhile cannot come back; the error names both rows.
CREATE FUNCTION lamin._unique_restore_check()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    u     record;
    other record;
BEGIN
    FOR u IN SELECT v.index, v.constraint_name,
                    string_agg(format('t.%I = ($1).%I', a.attname, a.attname), ' AND ' ORDER BY k.i) AS cond,
                    string_agg(quote_ident(a.attname), ', ' ORDER BY k.i) AS cols,
                    string_agg(format('($1).%I::pg_catalog.text', a.attname), ' || '', '' || ' ORDER BY k.i) AS vals
               FROM lamin.visible_unique v
               JOIN pg_index x ON x.indexrelid = v.index
               CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY k(attnum, i)
               JOIN pg_attribute a ON a.attrelid = v.relation AND a.attnum = k.attnum
              WHERE v.relation = TG_RELID
              GROUP BY v.index, v.constraint_name ORDER BY v.constraint_name LOOP
        EXECUTE format('SELECT %s AS key, t.branch_id, %s AS vals, %s AS mine FROM %s t '
                       'WHERE %s AND t.branch_id OPERATOR(pg_catalog.<>) -1 AND (%s) OPERATOR(pg_catalog.<>) (%s) LIMIT 1',
                       lamin._key_text_expr(TG_RELID, 't'), u.vals, lamin._key_text_expr(TG_RELID, '($1)'),
                       TG_RELID::regclass, u.cond, lamin._key_text_expr(TG_RELID, 't'),
                       lamin._key_text_expr(TG_RELID, '($1)'))
           INTO other USING NEW;
        IF other.key IS NOT NULL THEN
            RAISE EXCEPTION 'cannot restore the row of % with key %: its unique key (%)=(%) is taken by the row with key % on branch %',
                            TG_RELID::regclass, other.mine, u.cols, other.vals, other.key, other.branch_id
                  USING ERRCODE = 'unique_violation', CONSTRAINT = u.constraint_name,
                        HINT = format('Restore it under another key (change its %s through the trash view first), or purge one of the two rows.', u.cols);
        END IF;
    END LOOP;
    RETURN NEW;
END
$$;

-- Turn the unique constraints of a table (not its primary key) into partial unique indexes
-- that ignore trashed rows. A constraint a foreign key depends on cannot be turned (the key
-- needs all rows unique): the error names it.
CREATE FUNCTION lamin._unique_among_visible(tbl regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c   record;
    idx name;
BEGIN
    FOR c IN SELECT con.oid, con.conname, pg_get_constraintdef(con.oid) AS def,
                    (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.i)
                       FROM unnest(con.conkey) WITH ORDINALITY k(attnum, i)
                       JOIN pg_attribute a ON a.attrelid = tbl AND a.attnum = k.attnum) AS cols
               FROM pg_constraint con
              WHERE con.conrelid = tbl AND con.contype = 'u' ORDER BY con.conname LOOP
        IF EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid =
                      (SELECT conindid FROM pg_constraint WHERE oid = c.oid)) THEN
            RAISE EXCEPTION 'unique constraint "%" of table % is referenced by a foreign key', c.conname, tbl
                  USING ERRCODE = 'dependent_objects_still_exist',
                        HINT = 'A foreign key needs every row''s key unique, trashed or not: enable the table without unique_among_visible, or drop that foreign key.';
        END IF;
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', tbl, c.conname);
        idx := c.conname;
        EXECUTE format('CREATE UNIQUE INDEX %I ON %s (%s) WHERE branch_id OPERATOR(pg_catalog.<>) -1',
                       idx, tbl, c.cols);
        INSERT INTO lamin.visible_unique (index, relation, constraint_name, definition)
        VALUES (format('%I.%I', (SELECT n.nspname FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace
                                  WHERE r.oid = tbl), idx)::regclass, tbl, c.conname, c.def);
    END LOOP;
    IF EXISTS (SELECT 1 FROM lamin.visible_unique WHERE relation = tbl) THEN
        EXECUTE format('CREATE TRIGGER lamin_unique_restore BEFORE UPDATE OF branch_id ON %s FOR EACH ROW '
                       'WHEN (OLD.branch_id OPERATOR(pg_catalog.=) -1 AND NEW.branch_id OPERATOR(pg_catalog.<>) -1) '
                       'EXECUTE FUNCTION lamin._unique_restore_check()', tbl);
    END IF;
END
$$;

-- What disable() does for them: the constraints come back. Rows in the trash that share a key
-- with visible rows stop it, with a hint.
CREATE FUNCTION lamin._unique_among_visible_undo(tbl regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = tbl AND tgname = 'lamin_unique_restore') THEN
        EXECUTE format('DROP TRIGGER lamin_unique_restore ON %s', tbl);
    END IF;
    FOR v IN SELECT * FROM lamin.visible_unique WHERE relation = tbl ORDER BY constraint_name LOOP
        IF EXISTS (SELECT 1 FROM pg_class WHERE oid = v.index) THEN
            EXECUTE format('DROP INDEX %s', v.index);
        END IF;
        BEGIN
            EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', tbl, v.constraint_name, v.definition);
        EXCEPTION WHEN unique_violation THEN
            RAISE EXCEPTION 'unique constraint "%" of table % cannot be made again', v.constraint_name, tbl
                  USING ERRCODE = 'unique_violation',
                        DETAIL = 'Rows in the trash share its key with visible rows.',
                        HINT = 'Purge those trashed rows (or change their key), then disable the table again.';
        END;
        DELETE FROM lamin.visible_unique WHERE index = v.index;
    END LOOP;
END
$$;

-- A dropped table or index leaves lamin.visible_unique.
CREATE FUNCTION lamin._on_drop_visible_unique()
RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM lamin.visible_unique v
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND (v.relation::oid OPERATOR(pg_catalog.=) d.objid OR v.index::oid OPERATOR(pg_catalog.=) d.objid);
END
$$;
CREATE EVENT TRIGGER lamin_branch_drop_visible_unique ON sql_drop
    WHEN TAG IN ('DROP TABLE', 'DROP SCHEMA', 'DROP OWNED', 'DROP INDEX')
    EXECUTE FUNCTION lamin._on_drop_visible_unique();

-- restore with cascade given: cascade => false brings back the rows alone, not what the
-- operation that trashed them took along (tables enabled with cascade). EXECUTE is granted on
-- these as on the forms without it.
CREATE FUNCTION lamin.restore(tbl regclass, key anyelement, cascade boolean)
RETURNS lamin.row_change
AS 'MODULE_PATHNAME', 'lamin_restore'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION lamin.restore(regclass, anyelement, boolean) IS
    'move a row to main from any branch; cascade => false: without the rows its trashing took along';
CREATE FUNCTION lamin.restore_many(tbl regclass, keys anyarray, locking text, cascade boolean)
RETURNS SETOF lamin.row_change
AS 'MODULE_PATHNAME', 'lamin_restore_many'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION lamin.restore_many(regclass, anyarray, text, boolean) IS
    'move many rows to main in one statement; cascade => false: without the rows their trashing took along';
REVOKE ALL ON FUNCTION lamin.restore(regclass, anyelement, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION lamin.restore_many(regclass, anyarray, text, boolean) FROM PUBLIC;

-- Tables enabled before, and the artifacts, log their moves from now on.
SELECT lamin._trash_enable(relation, false, false) FROM lamin.enabled_table;

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
    -- a Citus reference table takes no trigger: sessions see its changes at their next invalidation
    IF cat = 'lamin.branch'::regclass OR lamin._citus_table(cat)
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
