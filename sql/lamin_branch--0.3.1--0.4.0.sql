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

-- Branch columns of lamin.branch are checked by the row trigger instead of foreign keys: main,
-- archive and trash cost no query per row; a user branch is looked up and locked FOR KEY SHARE.
-- lamin.branch keeps its rows while a table refers to them.
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

-- the foreign keys lamin_branch made to lamin.branch go
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
                AND (e.mode = 'extension' OR a.attname = ANY (e.added_columns)) LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', c.tbl, c.conname);
    END LOOP;
END
$$;
