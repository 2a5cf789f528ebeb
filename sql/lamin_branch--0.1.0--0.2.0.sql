-- lamin_branch 0.1.0 -> 0.2.0: any table. lamin.enable() / lamin.disable(), the registry of
-- branch-enabled tables, generic move functions by primary key, one key or many at once.
\echo Use "ALTER EXTENSION lamin_branch UPDATE TO '0.2.0'" to load this file. \quit

-- Every role may read the branch catalog, reference it from its own tables, and use the schema.
GRANT USAGE ON SCHEMA lamin TO PUBLIC;
GRANT SELECT, REFERENCES ON lamin.branch TO PUBLIC;
GRANT SELECT ON lamin.space TO PUBLIC;

--------------------------------------------------------------------------------------------------
-- Registry
--------------------------------------------------------------------------------------------------

CREATE TABLE lamin.enabled_table (
    relation          regclass PRIMARY KEY,          -- the base table
    mode              text NOT NULL,                 -- rename, views or extension
    main_view         regclass NOT NULL UNIQUE,
    archive_view      regclass NOT NULL UNIQUE,
    trash_view        regclass NOT NULL UNIQUE,
    original_name     name NOT NULL,                 -- the table's name before enable()
    views_schema      name NOT NULL,                 -- where the views are
    branch_table      regclass NOT NULL,             -- where branch names come from
    added_columns     name[] NOT NULL DEFAULT '{}',  -- columns enable() added
    family_index      regclass,                      -- index enable() added for version families
    enabled_rls       boolean NOT NULL DEFAULT false,-- enable() switched row-level security on
    spaces            boolean NOT NULL DEFAULT false,-- rows are visible by space (lamin.space_access)
    moved_privileges  aclitem[] NOT NULL DEFAULT '{}', -- DELETE/TRUNCATE taken from the table
    enabled_by        name NOT NULL DEFAULT CURRENT_USER,
    enabled_at        timestamptz NOT NULL DEFAULT pg_catalog.statement_timestamp(),
    CONSTRAINT enabled_table_mode CHECK (mode IN ('rename', 'views', 'extension'))
);
COMMENT ON TABLE lamin.enabled_table IS 'branch-enabled tables and what lamin.enable() did to each';
SELECT pg_catalog.pg_extension_config_dump('lamin.enabled_table', $$WHERE mode <> 'extension'$$);

-- Everyone reads the registry; a row is written only by a role that owns its table.
ALTER TABLE lamin.enabled_table ENABLE ROW LEVEL SECURITY;
CREATE POLICY enabled_table_read ON lamin.enabled_table FOR SELECT USING (true);
CREATE POLICY enabled_table_owner ON lamin.enabled_table FOR ALL
    USING (pg_catalog.pg_has_role(CURRENT_USER,
           (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relation), 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER,
           (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relation), 'USAGE'));
GRANT SELECT, INSERT, UPDATE, DELETE ON lamin.enabled_table TO PUBLIC;

--------------------------------------------------------------------------------------------------
-- Spaces: who may read or write the rows of which space
--------------------------------------------------------------------------------------------------

CREATE TABLE lamin.space_access (
    space_id smallint NOT NULL REFERENCES lamin.space (id) ON DELETE CASCADE,
    role     regrole NOT NULL,
    access   text NOT NULL,
    PRIMARY KEY (space_id, role),
    CONSTRAINT space_access_level CHECK (access IN ('read', 'write', 'admin'))
);
COMMENT ON TABLE lamin.space_access IS
    'roles and their access to a space: read, write (includes read) or admin (includes write); space 1 "all" is open to every role';
SELECT pg_catalog.pg_extension_config_dump('lamin.space_access', '');

-- Spaces a role may read (or write): space 1 and those granted to it or to a role it belongs to.
CREATE FUNCTION lamin.readable_spaces(r regrole DEFAULT CURRENT_USER::regrole)
RETURNS smallint[]
LANGUAGE sql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT array_agg(DISTINCT s) FROM (
        SELECT 1::smallint AS s
        UNION ALL
        SELECT a.space_id FROM lamin.space_access a WHERE pg_has_role(r, a.role, 'MEMBER')) x
$$;
CREATE FUNCTION lamin.writable_spaces(r regrole DEFAULT CURRENT_USER::regrole)
RETURNS smallint[]
LANGUAGE sql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT array_agg(DISTINCT s) FROM (
        SELECT 1::smallint AS s
        UNION ALL
        SELECT a.space_id FROM lamin.space_access a
         WHERE a.access IN ('write', 'admin') AND pg_has_role(r, a.role, 'MEMBER')) x
$$;

-- Is role r an admin of the space? Reads the access list past its own policies (which call it).
CREATE FUNCTION lamin._space_admin(space smallint, r name)
RETURNS boolean
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT 1 FROM lamin.space_access a
                    WHERE a.space_id = space AND a.access = 'admin' AND pg_has_role(r, a.role, 'MEMBER'))
$$;

-- Every role reads the access list; space admins (and the extension's owner) change it.
ALTER TABLE lamin.space_access ENABLE ROW LEVEL SECURITY;
CREATE POLICY space_access_read ON lamin.space_access FOR SELECT USING (true);
CREATE POLICY space_access_insert ON lamin.space_access FOR INSERT
    WITH CHECK (lamin._space_admin(space_id, CURRENT_USER));
CREATE POLICY space_access_update ON lamin.space_access FOR UPDATE
    USING (lamin._space_admin(space_id, CURRENT_USER)) WITH CHECK (lamin._space_admin(space_id, CURRENT_USER));
CREATE POLICY space_access_delete ON lamin.space_access FOR DELETE
    USING (lamin._space_admin(space_id, CURRENT_USER));
GRANT SELECT, INSERT, UPDATE, DELETE ON lamin.space_access TO PUBLIC;

-- Artifacts are the first branch-enabled table.
INSERT INTO lamin.enabled_table (relation, mode, main_view, archive_view, trash_view, original_name,
                                 views_schema, branch_table, family_index, enabled_rls)
VALUES ('lamin.artifact_all', 'extension', 'lamin.artifact', 'lamin.artifact_archive',
        'lamin.artifact_trash', 'artifact_all', 'lamin', 'lamin.branch', 'lamin.artifact_family_idx', true);

--------------------------------------------------------------------------------------------------
-- Generic moves, one key at a time (C)
--------------------------------------------------------------------------------------------------

CREATE TYPE lamin.row_change AS (
    relation     regclass, -- the base table
    key          text,     -- the row's primary key, as text; (a,b) for several columns
    uid          text,
    action       text,     -- trashed, archived, restored, moved, deleted, unchanged
    from_branch  integer,
    to_branch    integer,  -- NULL when deleted for good
    promoted_uid text
);

CREATE FUNCTION lamin.delete(tbl regclass, key anyelement, permanent boolean DEFAULT NULL)
RETURNS lamin.row_change
AS 'MODULE_PATHNAME', 'lamin_delete'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION lamin.delete(regclass, anyelement, boolean) IS
    'move a row to trash; from trash (or with permanent => true) delete it for good';

CREATE FUNCTION lamin.restore(tbl regclass, key anyelement)
RETURNS lamin.row_change
AS 'MODULE_PATHNAME', 'lamin_restore'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION lamin.restore(regclass, anyelement) IS 'move a row to main from any branch';

CREATE FUNCTION lamin.archive(tbl regclass, key anyelement)
RETURNS lamin.row_change
AS 'MODULE_PATHNAME', 'lamin_archive'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION lamin.archive(regclass, anyelement) IS 'move a row to archive (not from trash)';

CREATE FUNCTION lamin.move(tbl regclass, key anyelement, branch integer)
RETURNS lamin.row_change
AS 'MODULE_PATHNAME', 'lamin_move'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION lamin.move(regclass, anyelement, integer) IS 'move a row to a branch by id';

-- A branch by name, from the branch catalog of the table (lamin.branch, or the table's own).
-- Reads the catalog with the extension owner's rights: callers need no grant on a table's own
-- branch catalog to name its branches.
CREATE FUNCTION lamin._branch_of(tbl regclass, branch text)
RETURNS integer
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cat regclass := coalesce((lamin._registry(tbl)).branch_table, 'lamin.branch'::regclass);
    id  integer;
BEGIN
    EXECUTE format('SELECT id FROM %s WHERE lower(name) OPERATOR(pg_catalog.=) lower($1)', cat) INTO id USING branch;
    IF id IS NULL THEN
        RAISE EXCEPTION 'branch "%" does not exist', branch
              USING ERRCODE = 'undefined_object',
                    HINT = format('The branches are listed by: SELECT id, name FROM %s;', cat);
    END IF;
    RETURN id;
END
$$;

CREATE FUNCTION lamin.move(tbl regclass, key anyelement, branch text)
RETURNS lamin.row_change
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT lamin.move(tbl, key, lamin._branch_of(tbl, branch)) $$;
COMMENT ON FUNCTION lamin.move(regclass, anyelement, text) IS 'move a row to a branch by name';

--------------------------------------------------------------------------------------------------
-- Generic moves, many keys at once: one statement, rows locked in key order
--------------------------------------------------------------------------------------------------

-- Keys: an array of key values, or for a key of several columns a two-dimensional array, one
-- row per key. They return the rows they moved; rows already where they were asked to go stay.
-- locking: 'wait' for rows other transactions hold, fail at once ('nowait', SQLSTATE 55P03),
-- or leave them where they are ('skip locked').
CREATE FUNCTION lamin.delete_many(tbl regclass, keys anyarray, permanent boolean DEFAULT NULL,
                                  locking text DEFAULT 'wait')
RETURNS SETOF lamin.row_change
AS 'MODULE_PATHNAME', 'lamin_delete_many'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION lamin.delete_many(regclass, anyarray, boolean, text) IS
    'move many rows to trash in one statement (rows already there stay); permanent => true deletes them for good';

CREATE FUNCTION lamin.restore_many(tbl regclass, keys anyarray, locking text DEFAULT 'wait')
RETURNS SETOF lamin.row_change
AS 'MODULE_PATHNAME', 'lamin_restore_many'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION lamin.restore_many(regclass, anyarray, text) IS 'move many rows to main in one statement';

CREATE FUNCTION lamin.archive_many(tbl regclass, keys anyarray, locking text DEFAULT 'wait')
RETURNS SETOF lamin.row_change
AS 'MODULE_PATHNAME', 'lamin_archive_many'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION lamin.archive_many(regclass, anyarray, text) IS 'move many rows to archive in one statement';

CREATE FUNCTION lamin.move_many(tbl regclass, keys anyarray, branch integer, locking text DEFAULT 'wait')
RETURNS SETOF lamin.row_change
AS 'MODULE_PATHNAME', 'lamin_move_many'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION lamin.move_many(regclass, anyarray, integer, text) IS 'move many rows to a branch in one statement';

REVOKE ALL ON FUNCTION lamin.delete_many(regclass, anyarray, boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION lamin.restore_many(regclass, anyarray, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION lamin.archive_many(regclass, anyarray, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION lamin.move_many(regclass, anyarray, integer, text) FROM PUBLIC;

REVOKE ALL ON FUNCTION lamin.delete(regclass, anyelement, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION lamin.restore(regclass, anyelement) FROM PUBLIC;
REVOKE ALL ON FUNCTION lamin.archive(regclass, anyelement) FROM PUBLIC;
REVOKE ALL ON FUNCTION lamin.move(regclass, anyelement, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION lamin.move(regclass, anyelement, text) FROM PUBLIC;

--------------------------------------------------------------------------------------------------
-- Helpers for enable/disable
--------------------------------------------------------------------------------------------------

-- name || suffix, the name cut (at a character boundary) so the result fits in 63 bytes,
-- as Postgres itself names indexes and constraints.
CREATE FUNCTION lamin._object_name(base name, suffix text)
RETURNS name
LANGUAGE plpgsql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b text := base;
BEGIN
    WHILE octet_length(b || suffix) > 63 LOOP
        b := left(b, -1);
    END LOOP;
    RETURN (b || suffix)::name;
END
$$;

-- The registry row of a table, given the table or one of its views.
CREATE FUNCTION lamin._registry(tbl regclass)
RETURNS lamin.enabled_table
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT e.* FROM lamin.enabled_table e
     WHERE tbl OPERATOR(pg_catalog.=) ANY (ARRAY[e.relation, e.main_view, e.archive_view, e.trash_view])
$$;

-- The column list of a table, quoted, in column order: what its views select.
CREATE FUNCTION lamin._columns(tbl regclass)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum)
      FROM pg_attribute
     WHERE attrelid OPERATOR(pg_catalog.=) tbl AND attnum OPERATOR(pg_catalog.>) 0 AND NOT attisdropped
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
        -- archive and trash run with the owner's rights, past row-level security: they filter
        -- spaces themselves, for the role that queries them
        EXECUTE format('CREATE VIEW %I.%I WITH (%s) AS SELECT %s FROM %s WHERE branch_id OPERATOR(pg_catalog.=) %s%s',
                       vnsp, v.name,
                       CASE WHEN v.branch = 1 THEN 'security_invoker = true' ELSE 'security_barrier = true' END,
                       cols, e.relation, v.branch,
                       CASE WHEN e.spaces AND v.branch <> 1
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
-- lamin.enable / lamin.disable
--------------------------------------------------------------------------------------------------

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

    -- privileges: DELETE and TRUNCATE on the table are the way around the trash
    e.moved_privileges := '{}';
    IF views_schema IS NULL THEN
        FOR a IN SELECT * FROM aclexplode(c.relacl) x
                  WHERE x.grantee <> c.relowner AND x.privilege_type IN ('DELETE', 'TRUNCATE') LOOP
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
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = e.relation AND tgname = 'lamin_branch_heads') THEN
        EXECUTE format('DROP TRIGGER lamin_branch_heads ON %s', e.relation);
    END IF;
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
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', e.relation,
                           lamin._object_name(e.original_name, '_' || col || '_fkey'));
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

-- Re-create the views of a table after its columns changed, keeping their grants.
CREATE FUNCTION lamin.refresh_views(tbl regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e      lamin.enabled_table := lamin._registry(tbl);
    vnsp   name;
    mainv  name;
    grants text[];
    g      text;
    v      regclass;
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
    PERFORM lamin._create_views_named(e, vnsp, mainv);
    FOREACH g IN ARRAY grants LOOP
        EXECUTE g;
    END LOOP;
    UPDATE lamin.enabled_table
       SET main_view = format('%I.%I', vnsp, mainv)::regclass,
           archive_view = format('%I.%I', vnsp, lamin._object_name(e.original_name, '_archive'))::regclass,
           trash_view = format('%I.%I', vnsp, lamin._object_name(e.original_name, '_trash'))::regclass
     WHERE relation = e.relation;
END
$$;
COMMENT ON FUNCTION lamin.refresh_views(regclass) IS
    're-create the views of a branch-enabled table after its columns changed, keeping grants';

--------------------------------------------------------------------------------------------------
-- Keeping the registry and the views true as tables change
--------------------------------------------------------------------------------------------------

-- After ALTER TABLE on a branch-enabled table, its views show its new columns. A change the
-- views cannot follow (a dependent view of the user's blocks re-creating them) is reported as a
-- warning: the ALTER TABLE itself stands.
CREATE FUNCTION lamin._on_alter_table()
RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT e.relation
               FROM pg_event_trigger_ddl_commands() d
               JOIN lamin.enabled_table e ON e.relation OPERATOR(pg_catalog.=) d.objid
              WHERE d.classid = 'pg_class'::regclass AND e.mode <> 'extension'
                AND lamin._columns(e.relation) IS DISTINCT FROM
                    (SELECT lamin._columns(e.main_view))
    LOOP
        BEGIN
            PERFORM lamin.refresh_views(r.relation);
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'views of % not refreshed: %', r.relation, SQLERRM
                  USING HINT = format('Run SELECT lamin.refresh_views(%L); once the cause is fixed.', r.relation::text);
        END;
    END LOOP;
END
$$;
CREATE EVENT TRIGGER lamin_branch_alter_table ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION lamin._on_alter_table();

-- A dropped table leaves the registry.
CREATE FUNCTION lamin._on_drop()
RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM lamin.enabled_table e
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND e.relation::oid OPERATOR(pg_catalog.=) d.objid AND e.mode <> 'extension';
END
$$;
CREATE EVENT TRIGGER lamin_branch_drop ON sql_drop
    WHEN TAG IN ('DROP TABLE', 'DROP SCHEMA', 'DROP OWNED')
    EXECUTE FUNCTION lamin._on_drop();

--------------------------------------------------------------------------------------------------
-- Bulk work in batches: each batch commits, so a long job holds locks briefly, can be stopped
-- (cancel, lock_timeout, statement_timeout) and re-run to finish: a row already moved no longer
-- matches, so no row moves twice. They run with the caller's rights and call the _many
-- functions, whose rights apply. CALL them outside a transaction block.
--------------------------------------------------------------------------------------------------

-- The primary key of a table as an expression of alias t, for array_agg: text, or text[] for a
-- key of several columns (array_agg then builds the two-dimensional array _many takes).
CREATE FUNCTION lamin._key_expr(tbl regclass)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN count(*) = 1 THEN min(format('t.%I::pg_catalog.text', a.attname))
                ELSE 'ARRAY[' || string_agg(format('t.%I::pg_catalog.text', a.attname), ', ' ORDER BY k.i) || ']' END
      FROM pg_index x, unnest(x.indkey) WITH ORDINALITY k(attnum, i), pg_attribute a
     WHERE x.indrelid = tbl AND x.indisprimary AND a.attrelid = tbl AND a.attnum = k.attnum
$$;

CREATE FUNCTION lamin._key_order(tbl regclass)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT string_agg(format('t.%I', a.attname), ', ' ORDER BY k.i)
      FROM pg_index x, unnest(x.indkey) WITH ORDINALITY k(attnum, i), pg_attribute a
     WHERE x.indrelid = tbl AND x.indisprimary AND a.attrelid = tbl AND a.attnum = k.attnum
$$;

-- action: trash (from every branch but trash), restore or purge (from trash)
CREATE PROCEDURE lamin._batched(tbl regclass, action text, condition text, batch_size integer,
                                INOUT moved bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    e      lamin.enabled_table := lamin._registry(tbl);
    source text;
    keys   text[];
    n      bigint;
BEGIN
    IF e.relation IS NULL THEN
        RAISE EXCEPTION 'table % is not branch-enabled', tbl USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be at least 1, not %', batch_size USING ERRCODE = 'invalid_parameter_value';
    END IF;
    source := CASE WHEN action = 'trash'
                   THEN format('%s t WHERE t.branch_id OPERATOR(pg_catalog.<>) -1', e.relation)
                   ELSE format('%s t WHERE true', e.trash_view) END;
    moved := 0;
    LOOP
        EXECUTE format('SELECT pg_catalog.array_agg(k) FROM (SELECT %s AS k FROM %s AND (%s) ORDER BY %s LIMIT %s) x',
                       lamin._key_expr(e.relation), source, coalesce(condition, 'true'),
                       lamin._key_order(e.relation), batch_size)
           INTO keys;
        EXIT WHEN keys IS NULL;
        IF action = 'trash' THEN
            SELECT count(*) INTO n FROM lamin.delete_many(e.relation, keys);
        ELSIF action = 'restore' THEN
            SELECT count(*) INTO n FROM lamin.restore_many(e.relation, keys);
        ELSE
            SELECT count(*) INTO n FROM lamin.delete_many(e.relation, keys, permanent => true);
        END IF;
        moved := moved + n;
        COMMIT;
        RAISE NOTICE '% rows of %: % so far', CASE action WHEN 'trash' THEN 'trashed' WHEN 'restore' THEN 'restored'
                                                ELSE 'deleted' END, e.relation, moved;
        EXIT WHEN n = 0;   -- rows that matched but did not move (changed meanwhile): stop, do not spin
    END LOOP;
END
$$;

CREATE PROCEDURE lamin.trash_batched(tbl regclass, condition text DEFAULT 'true', batch_size integer DEFAULT 10000,
                                     INOUT moved bigint DEFAULT NULL)
LANGUAGE plpgsql
AS $$ BEGIN CALL lamin._batched(tbl, 'trash', condition, batch_size, moved); END $$;
COMMENT ON PROCEDURE lamin.trash_batched(regclass, text, integer, bigint) IS
    'move the rows matching a condition to trash, committing every batch_size rows; re-run to finish an interrupted job';

CREATE PROCEDURE lamin.restore_batched(tbl regclass, condition text DEFAULT 'true', batch_size integer DEFAULT 10000,
                                       INOUT moved bigint DEFAULT NULL)
LANGUAGE plpgsql
AS $$ BEGIN CALL lamin._batched(tbl, 'restore', condition, batch_size, moved); END $$;
COMMENT ON PROCEDURE lamin.restore_batched(regclass, text, integer, bigint) IS
    'restore the trashed rows matching a condition, committing every batch_size rows';

CREATE PROCEDURE lamin.purge_batched(tbl regclass, condition text DEFAULT 'true', batch_size integer DEFAULT 10000,
                                     INOUT moved bigint DEFAULT NULL)
LANGUAGE plpgsql
AS $$ BEGIN CALL lamin._batched(tbl, 'purge', condition, batch_size, moved); END $$;
COMMENT ON PROCEDURE lamin.purge_batched(regclass, text, integer, bigint) IS
    'delete for good the trashed rows matching a condition, committing every batch_size rows';
