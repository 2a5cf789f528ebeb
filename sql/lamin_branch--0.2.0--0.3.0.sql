-- lamin_branch 0.2.0 -> 0.3.0
--
-- The main views run with their owner's rights, as security barriers: an application role is
-- granted the views only, never the table under them. Who may move rows between branches with
-- an UPDATE or INSERT is checked by the row trigger, as for the functions. With the module
-- preloaded, the planner reads such a view as its table (src/planner.c), so the barrier costs
-- nothing. On spaces tables every view filters readable spaces, and the row trigger checks write
-- access to a space on every path.
\echo Use "ALTER EXTENSION lamin_branch UPDATE TO '0.3.0'" to load this file. \quit

-- Create the three views of a table in schema vnsp (none may exist), with delete triggers and owner.
-- Replaced by DROP and CREATE: an update script must not adopt an object that someone else put
-- in its place.
DROP FUNCTION lamin._create_views_named(lamin.enabled_table, name, name);
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
                       cols, e.relation, v.branch,
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
END
$$;

--------------------------------------------------------------------------------------------------
-- lamin.enable: in rename mode the table's privileges move to its main view
--------------------------------------------------------------------------------------------------

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
        EXECUTE format('ALTER TABLE %s ADD COLUMN branch_id lamin.branch_id NOT NULL DEFAULT 1 '
                       'CONSTRAINT %I REFERENCES lamin.branch (id)',
                       tbl, lamin._object_name(c.relname, '_branch_id_fkey'));
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
        EXECUTE format('ALTER TABLE %s ADD COLUMN created_on_id %s NOT NULL DEFAULT 1 CONSTRAINT %I REFERENCES %s (id)',
                       tbl, CASE WHEN cat = 'lamin.branch'::regclass THEN 'lamin.branch_id' ELSE 'integer' END,
                       lamin._object_name(c.relname, '_created_on_id_fkey'), cat);
        e.added_columns := e.added_columns || 'created_on_id'::name;
    END IF;

    IF spaces AND NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = tbl AND attname = 'space_id' AND NOT attisdropped) THEN
        EXECUTE format('ALTER TABLE %s ADD COLUMN space_id smallint NOT NULL DEFAULT 1 CONSTRAINT %I REFERENCES lamin.space (id)',
                       tbl, lamin._object_name(c.relname, '_space_id_fkey'));
        e.added_columns := e.added_columns || 'space_id'::name;
    END IF;

    -- privileges: in rename mode the table's readers and writers get its main view (below) and
    -- keep nothing on the table itself, where DELETE and TRUNCATE would go around the trash and
    -- SELECT would show it; disable() gives them back. A table with row-level security of its
    -- own keeps SELECT, INSERT and UPDATE: its main view runs with the caller's rights, so that
    -- the table's policies see the caller (see lamin._create_views_named).
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
    -- rows' heads made right once, and a trigger that keeps them right
    IF (SELECT count(*) FROM pg_attribute WHERE attrelid = tbl AND attname IN ('uid', 'is_latest') AND NOT attisdropped) = 2 THEN
        EXECUTE format('CREATE INDEX %I ON %s ((pg_catalog.substr(uid::pg_catalog.text, 1, 16)), branch_id)',
                       lamin._object_name(base, '_lamin_family_idx'), tbl);
        e.family_index := format('%I.%I', c.nspname, lamin._object_name(base, '_lamin_family_idx'))::regclass;
        EXECUTE format('UPDATE %1$s t SET is_latest = x.lamin_head FROM ('
                       'SELECT %2$s, row_number() OVER (PARTITION BY substr(uid::text, 1, 16), branch_id ORDER BY %3$s%4$s) = 1 AS lamin_head '
                       'FROM %1$s t WHERE branch_id OPERATOR(pg_catalog.<>) -1) x '
                       'WHERE (%2$s) = (%5$s) AND t.is_latest IS DISTINCT FROM x.lamin_head',
                       tbl, lamin._key_order(tbl),
                       CASE WHEN EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = tbl AND attname = 'created_at' AND NOT attisdropped)
                            THEN 't.created_at DESC NULLS LAST, ' ELSE '' END,
                       replace(lamin._key_order(tbl), ',', ' DESC,') || ' DESC',
                       replace(lamin._key_order(tbl), 't.', 'x.'));
        EXECUTE format('CREATE TRIGGER lamin_branch_heads AFTER INSERT OR UPDATE OF branch_id, uid OR DELETE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION lamin.branch_heads_trigger()', tbl);
    END IF;

    EXECUTE format('CREATE TRIGGER lamin_branch_row BEFORE INSERT OR UPDATE OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION lamin.branch_row_trigger()', tbl);

    -- row-level security: the branch rule narrows what policies the table already has
    e.enabled_rls := NOT c.relrowsecurity;
    IF e.enabled_rls THEN
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
        EXECUTE format('CREATE POLICY lamin_branch_rows ON %s AS PERMISSIVE FOR ALL USING (true) WITH CHECK (true)', tbl);
    END IF;
    EXECUTE format('CREATE POLICY lamin_branch_main ON %s AS RESTRICTIVE FOR ALL '
                   'USING (branch_id OPERATOR(pg_catalog.=) 1) WITH CHECK (branch_id OPERATOR(pg_catalog.=) 1)', tbl);
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
    RETURN e;
END
$$;
COMMENT ON FUNCTION lamin.enable(regclass, name, boolean) IS
    'branch-enable a table: views hide archive and trash, DELETE moves to trash';

--------------------------------------------------------------------------------------------------
-- Existing views
--------------------------------------------------------------------------------------------------

-- Main views of tables without row-level security of their own become owner's-rights security
-- barriers, altered in place so that their grants and any view of the user's that depends on
-- them stay. A spaces table's main view also needs the space filter in its query, which an
-- extension update may not write into a view it does not own: those keep their 0.2.0 view (the
-- caller's rights, confined by the space policies) until their owner runs lamin.refresh_views().
DO $$
DECLARE
    e lamin.enabled_table;
BEGIN
    FOR e IN SELECT * FROM lamin.enabled_table WHERE enabled_rls LOOP
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = e.main_view);
        IF e.spaces THEN
            RAISE NOTICE 'table % keeps its 0.2.0 main view until SELECT lamin.refresh_views(%L);',
                         e.relation, e.relation::text;
            CONTINUE;
        END IF;
        EXECUTE pg_catalog.format('ALTER VIEW %s RESET (security_invoker)', e.main_view);
        EXECUTE pg_catalog.format('ALTER VIEW %s SET (security_barrier = true)', e.main_view);
    END LOOP;
END
$$;
