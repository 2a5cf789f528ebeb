-- lamin_branch 0.3.1 -> 0.4.0
\echo Use "ALTER EXTENSION lamin_branch UPDATE TO '0.4.0'" to load this file. \quit

-- The registry is cached in every backend; a change to it makes them all read it again.
CREATE FUNCTION lamin._registry_changed() RETURNS trigger
LANGUAGE C AS 'MODULE_PATHNAME', 'lamin_registry_changed';
REVOKE ALL ON FUNCTION lamin._registry_changed() FROM PUBLIC;
CREATE TRIGGER lamin_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON lamin.enabled_table
    FOR EACH STATEMENT EXECUTE FUNCTION lamin._registry_changed();
