-- lamin_branch 0.3.1 -> 0.4.0
--
-- A fresh install of 0.4.0 runs lamin_branch--0.4.0.sql alone; this script brings an installed
-- 0.3.1 to the same objects.
--   - Spaces tables that still have their 0.2.0 main view are named in a warning.
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
