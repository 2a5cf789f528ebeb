-- lamin_branch 0.3.1 -> 0.4.0
\echo Use "ALTER EXTENSION lamin_branch UPDATE TO '0.4.0'" to load this file. \quit

-- The registry is cached in every backend; a change to it makes them all read it again.
CREATE FUNCTION lamin._registry_changed() RETURNS trigger
LANGUAGE C AS 'MODULE_PATHNAME', 'lamin_registry_changed';
REVOKE ALL ON FUNCTION lamin._registry_changed() FROM PUBLIC;
CREATE TRIGGER lamin_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON lamin.enabled_table
    FOR EACH STATEMENT EXECUTE FUNCTION lamin._registry_changed();

-- Version heads are kept once per statement from its transition tables instead of once per row.
-- Partitioned tables keep the row trigger: a statement trigger on the root does not see a
-- statement that names a partition.
CREATE FUNCTION lamin._heads_per_statement(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = tbl AND tgname = 'lamin_branch_heads' AND NOT tgisinternal)
       OR (SELECT relkind FROM pg_class WHERE oid = tbl) <> 'r' THEN
        RETURN;
    END IF;
    EXECUTE format('DROP TRIGGER lamin_branch_heads ON %s', tbl);
    EXECUTE format('CREATE TRIGGER lamin_branch_heads_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS lamin_new '
                   'FOR EACH STATEMENT EXECUTE FUNCTION lamin.branch_heads_trigger()', tbl);
    EXECUTE format('CREATE TRIGGER lamin_branch_heads_update AFTER UPDATE ON %s '
                   'REFERENCING OLD TABLE AS lamin_old NEW TABLE AS lamin_new '
                   'FOR EACH STATEMENT EXECUTE FUNCTION lamin.branch_heads_trigger()', tbl);
    EXECUTE format('CREATE TRIGGER lamin_branch_heads_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS lamin_old '
                   'FOR EACH STATEMENT EXECUTE FUNCTION lamin.branch_heads_trigger()', tbl);
END
$$;
REVOKE ALL ON FUNCTION lamin._heads_per_statement(regclass) FROM PUBLIC;
SELECT lamin._heads_per_statement(relation) FROM lamin.enabled_table;
