-- Names that need quoting: lamin.enable(), the views, triggers, move functions and
-- lamin.disable() quote every name they build, and cut names that would not fit in 63 bytes.
\set SHOW_CONTEXT never
-- Run DML through the views of a table: insert, update, delete to trash, restore, archive,
-- delete from archive, purge from trash. Reports what each branch holds afterwards.
CREATE FUNCTION pg_temp.exercise(tbl regclass) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    e lamin.enabled_table;
    n bigint;
    r record;
BEGIN
    SELECT * INTO STRICT e FROM lamin.enabled_table WHERE tbl IN (relation, main_view);
    EXECUTE format('INSERT INTO %s (id) VALUES (101), (102), (103), (104)', e.main_view);
    EXECUTE format('UPDATE %s SET id = 105 WHERE id = 104', e.main_view);
    EXECUTE format('DELETE FROM %s WHERE id IN (101, 102)', e.main_view);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN NEXT format('DELETE %s from %s', n, e.main_view);
    RETURN NEXT (SELECT format('%s %s %s -> %s', action, key, from_branch, to_branch) FROM lamin.restore(e.trash_view, 101));
    RETURN NEXT (SELECT format('%s %s %s -> %s', action, key, from_branch, to_branch) FROM lamin.archive(e.main_view, 103));
    EXECUTE format('DELETE FROM %s WHERE id = 103', e.archive_view);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN NEXT format('DELETE %s from %s', n, e.archive_view);
    EXECUTE format('DELETE FROM %s WHERE id = 102', e.trash_view);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN NEXT format('DELETE %s from %s', n, e.trash_view);
    RETURN QUERY SELECT format('%s %s -> %s', action, key, to_branch) FROM lamin.delete_many(e.relation, ARRAY[101, 105]) ORDER BY key;
    FOR r IN EXECUTE format('SELECT ''main'' AS v, array_agg(id ORDER BY id) AS ids FROM %s UNION ALL '
                            'SELECT ''archive'', array_agg(id ORDER BY id) FROM %s UNION ALL '
                            'SELECT ''trash'', array_agg(id ORDER BY id) FROM %s',
                            e.main_view, e.archive_view, e.trash_view) LOOP
        RETURN NEXT format('%s: %s', r.v, r.ids);
    END LOOP;
    EXECUTE format('DELETE FROM %s WHERE id > 100', e.relation);
END
$$;

-- spaces, double quotes, upper case, semicolons, comment marks: schema, table, column and role
CREATE SCHEMA "Odd Schema; ""x"" --";
CREATE ROLE "regress_lamin Odd ""Role""; --" NOLOGIN;
CREATE TABLE "Odd Schema; ""x"" --"."My ""Quoted"" Table; DROP TABLE x; --" (
    id integer PRIMARY KEY,
    "Note; ""n"" --" text NOT NULL DEFAULT 'note',
    uid varchar(20),
    is_latest boolean NOT NULL DEFAULT true
);
ALTER TABLE "Odd Schema; ""x"" --"."My ""Quoted"" Table; DROP TABLE x; --"
    OWNER TO "regress_lamin Odd ""Role""; --";
GRANT USAGE ON SCHEMA "Odd Schema; ""x"" --" TO "regress_lamin Odd ""Role""; --";
GRANT EXECUTE ON FUNCTION lamin.delete, lamin.restore(regclass, anyelement), lamin.archive, lamin.delete_many,
    lamin.move(regclass, anyelement, integer), lamin.move(regclass, anyelement, text)
    TO "regress_lamin Odd ""Role""; --";
CREATE ROLE "regress_lamin Reader ""r""" NOLOGIN;
GRANT USAGE ON SCHEMA "Odd Schema; ""x"" --" TO "regress_lamin Reader ""r""";
GRANT SELECT, DELETE ON "Odd Schema; ""x"" --"."My ""Quoted"" Table; DROP TABLE x; --"
    TO "regress_lamin Reader ""r""";
INSERT INTO "Odd Schema; ""x"" --"."My ""Quoted"" Table; DROP TABLE x; --" (id, uid) VALUES
    (1, 'oddAAAAAAAAAAAAA0000'), (2, 'oddAAAAAAAAAAAAA0001'), (3, 'oddBBBBBBBBBBBBB0000');
SELECT relation, mode, main_view, archive_view, trash_view, original_name, added_columns, family_index,
       moved_privileges
  FROM lamin.enable('"Odd Schema; ""x"" --"."My ""Quoted"" Table; DROP TABLE x; --"');
SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner) AS owner
  FROM pg_class c WHERE c.relnamespace = '"Odd Schema; ""x"" --"'::regnamespace AND c.relkind IN ('r', 'v')
 ORDER BY 1;
-- the table's grants moved: DELETE to the main view only
SELECT c.relname, x.privilege_type
  FROM pg_class c, aclexplode(c.relacl) x
 WHERE c.relnamespace = '"Odd Schema; ""x"" --"'::regnamespace AND x.grantee = '"regress_lamin Reader ""r"""'::regrole
 ORDER BY 1, 2;
-- the owner works through the views
SET ROLE "regress_lamin Odd ""Role""; --";
SELECT id, "Note; ""n"" --", uid, is_latest, branch_id FROM "Odd Schema; ""x"" --"."My ""Quoted"" Table; DROP TABLE x; --" ORDER BY id;
DELETE FROM "Odd Schema; ""x"" --"."My ""Quoted"" Table; DROP TABLE x; --" WHERE id = 2;
SELECT id, is_latest FROM "Odd Schema; ""x"" --"."My ""Quoted"" Table; DROP TABLE x; --_trash";
SELECT * FROM lamin.restore('"Odd Schema; ""x"" --"."My ""Quoted"" Table; DROP TABLE x; --"', 2);
SELECT * FROM lamin.delete('"Odd Schema; ""x"" --"."My ""Quoted"" Table; DROP TABLE x; --_all"', 1);
SELECT * FROM lamin.move('"Odd Schema; ""x"" --"."My ""Quoted"" Table; DROP TABLE x; --"', 3, 'archive');
SELECT id, is_latest, branch_id FROM "Odd Schema; ""x"" --"."My ""Quoted"" Table; DROP TABLE x; --_all" ORDER BY id;
SELECT * FROM pg_temp.exercise('"Odd Schema; ""x"" --"."My ""Quoted"" Table; DROP TABLE x; --"');
RESET ROLE;
-- the reader deletes (to trash) through the main view, and only there
SET ROLE "regress_lamin Reader ""r""";
DELETE FROM "Odd Schema; ""x"" --"."My ""Quoted"" Table; DROP TABLE x; --" WHERE id = 2 RETURNING id, uid;
DELETE FROM "Odd Schema; ""x"" --"."My ""Quoted"" Table; DROP TABLE x; --_all" WHERE id = 2;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
-- a new column with a name that needs quoting shows up in the views
ALTER TABLE "Odd Schema; ""x"" --"."My ""Quoted"" Table; DROP TABLE x; --_all" ADD COLUMN "New ""Col""; --" integer DEFAULT 7;
SELECT id, "New ""Col""; --" FROM "Odd Schema; ""x"" --"."My ""Quoted"" Table; DROP TABLE x; --_trash" ORDER BY id;
SELECT lamin.disable('"Odd Schema; ""x"" --"."My ""Quoted"" Table; DROP TABLE x; --"');
SELECT c.relname, c.relkind FROM pg_class c
 WHERE c.relnamespace = '"Odd Schema; ""x"" --"'::regnamespace AND c.relkind IN ('r', 'v') ORDER BY 1;
SELECT c.relname, x.privilege_type
  FROM pg_class c, aclexplode(c.relacl) x
 WHERE c.relnamespace = '"Odd Schema; ""x"" --"'::regnamespace AND x.grantee = '"regress_lamin Reader ""r"""'::regrole
 ORDER BY 1, 2;
SELECT id, branch_id FROM "Odd Schema; ""x"" --"."My ""Quoted"" Table; DROP TABLE x; --" ORDER BY id;
DROP SCHEMA "Odd Schema; ""x"" --" CASCADE;
DROP OWNED BY "regress_lamin Odd ""Role""; --", "regress_lamin Reader ""r""";
DROP ROLE "regress_lamin Odd ""Role""; --", "regress_lamin Reader ""r""";

-- upper case only, in views mode: the views go to another schema under the table's name
CREATE SCHEMA names;
CREATE SCHEMA "NAMES";
CREATE TABLE names."UPPER" (id integer PRIMARY KEY);
SELECT relation, mode, main_view, archive_view, trash_view FROM lamin.enable('names."UPPER"', 'NAMES');
SELECT * FROM pg_temp.exercise('"NAMES"."UPPER"');
SELECT lamin.disable('"NAMES"."UPPER"');
SELECT count(*) AS views_left FROM pg_class WHERE relnamespace = '"NAMES"'::regnamespace;

-- a 63-byte table name: the base table, the views and the family index are cut to fit
CREATE TABLE names.a_table_name_of_exactly_sixty_three_bytes_which_is_the_limit_xy (
    id integer PRIMARY KEY, uid varchar(20), is_latest boolean NOT NULL DEFAULT true);
SELECT octet_length('a_table_name_of_exactly_sixty_three_bytes_which_is_the_limit_xy');
INSERT INTO names.a_table_name_of_exactly_sixty_three_bytes_which_is_the_limit_xy VALUES
    (1, 'longAAAAAAAAAAAA0000', true);
SELECT relation, main_view, archive_view, trash_view, original_name, family_index
  FROM lamin.enable('names.a_table_name_of_exactly_sixty_three_bytes_which_is_the_limit_xy');
SELECT relation, mode, main_view, archive_view, trash_view, original_name, added_columns, family_index
  FROM lamin.enabled_table
 WHERE relation = 'names.a_table_name_of_exactly_sixty_three_bytes_which_is_the_limi_all'::regclass \gx
INSERT INTO names.a_table_name_of_exactly_sixty_three_bytes_which_is_the_limit_xy VALUES
    (2, 'longAAAAAAAAAAAA0001', true);
SELECT id, uid, is_latest FROM names.a_table_name_of_exactly_sixty_three_bytes_which_is_the_limi_all ORDER BY id;
DELETE FROM names.a_table_name_of_exactly_sixty_three_bytes_which_is_the_limit_xy WHERE id = 2;
SELECT id, is_latest FROM names.a_table_name_of_exactly_sixty_three_bytes_which_is_the_li_trash;
SELECT id, is_latest FROM names.a_table_name_of_exactly_sixty_three_bytes_which_is_the_limit_xy;
SELECT * FROM lamin.restore('names.a_table_name_of_exactly_sixty_three_bytes_which_is_the_li_trash', 2);
SELECT id, is_latest FROM names.a_table_name_of_exactly_sixty_three_bytes_which_is_the_limit_xy ORDER BY id;
SELECT * FROM pg_temp.exercise('names.a_table_name_of_exactly_sixty_three_bytes_which_is_the_limit_xy');
-- the event trigger and refresh_views find the cut names too
ALTER TABLE names.a_table_name_of_exactly_sixty_three_bytes_which_is_the_limi_all ADD COLUMN extra text;
SELECT id, extra FROM names.a_table_name_of_exactly_sixty_three_bytes_which_is_the__archive;
SELECT lamin.disable('names.a_table_name_of_exactly_sixty_three_bytes_which_is_the_limit_xy', drop_columns => true);
SELECT relname FROM pg_class WHERE relnamespace = 'names'::regnamespace AND relkind IN ('r', 'v', 'i') ORDER BY 1;

-- names that collide with generated names: a table already called *_all, a table called like
-- another table's archive view, schemas named like the tables and views
CREATE TABLE names.names (id integer PRIMARY KEY);
CREATE TABLE names.names_all (id integer PRIMARY KEY);
CREATE TABLE names.names_archive (id integer PRIMARY KEY);
SELECT relation, main_view, archive_view, trash_view FROM lamin.enable('names.names_all');
SELECT relation, main_view, archive_view, trash_view FROM lamin.enable('names.names_archive');
-- names.names: its _all and _archive names are taken; its views go to schema names_trash
CREATE SCHEMA names_trash;
SELECT lamin.enable('names.names');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT relation, main_view, archive_view, trash_view FROM lamin.enable('names.names', 'names_trash');
SELECT relation, main_view, archive_view, trash_view FROM lamin.enabled_table
 WHERE relation::text LIKE 'names%' ORDER BY relation::text;
-- each name reaches its own table
SELECT * FROM pg_temp.exercise('names.names_all');
SELECT * FROM pg_temp.exercise('names.names_archive');
SELECT * FROM pg_temp.exercise('names_trash.names');
INSERT INTO names.names_all VALUES (1);
INSERT INTO names.names_archive VALUES (1);
INSERT INTO names_trash.names VALUES (1);
SELECT (lamin.archive('names.names_archive', 1)).relation;
SELECT (lamin.delete('names.names_all', 1)).relation;
SELECT (lamin.delete('names_trash.names', 1)).relation;
SELECT 'names.names_all_all' AS t, id, branch_id FROM names.names_all_all
UNION ALL SELECT 'names.names_archive_all', id, branch_id FROM names.names_archive_all
UNION ALL SELECT 'names.names', id, branch_id FROM names.names ORDER BY 1;
SELECT lamin.disable('names.names_all');
SELECT lamin.disable('names.names_archive');
SELECT lamin.disable('names_trash.names');
SELECT relname FROM pg_class WHERE relnamespace IN ('names'::regnamespace, 'names_trash'::regnamespace)
   AND relkind IN ('r', 'v') ORDER BY 1;

-- non-ASCII names (shown unaligned: the output is the same in every database encoding)
\pset format unaligned
CREATE TABLE names."Ünïcode täble" (id integer PRIMARY KEY, "naïve ß" text DEFAULT 'ü');
INSERT INTO names."Ünïcode täble" (id) VALUES (1), (2);
SELECT relation, main_view, archive_view, trash_view, original_name FROM lamin.enable('names."Ünïcode täble"');
DELETE FROM names."Ünïcode täble" WHERE id = 1;
SELECT id, "naïve ß" FROM names."Ünïcode täble_trash";
SELECT * FROM lamin.restore('names."Ünïcode täble"', 1);
SELECT * FROM pg_temp.exercise('names."Ünïcode täble"');
SELECT lamin.disable('names."Ünïcode täble"');
SELECT relname FROM pg_class WHERE relnamespace = 'names'::regnamespace AND relkind IN ('r', 'v') ORDER BY 1;
-- 63 bytes of two-byte letters: names are cut at a letter, never inside one
CREATE TABLE names."xäääääääääääääääääääääääääääääää" (id integer PRIMARY KEY);
SELECT relname, octet_length(relname) FROM pg_class WHERE relname LIKE 'xää%' AND relkind = 'r';
SELECT relation, main_view, archive_view, trash_view
  FROM lamin.enable('names."xäääääääääääääääääääääääääääääää"');
SELECT relname, octet_length(relname) FROM pg_class WHERE relname LIKE 'xää%' AND relkind IN ('r', 'v') ORDER BY 1;
SELECT * FROM pg_temp.exercise('names."xäääääääääääääääääääääääääääääää"');
SELECT lamin.disable('names."xäääääääääääääääääääääääääääääää"');
\pset format aligned

DROP SCHEMA names, "NAMES", names_trash CASCADE;
