-- DELETE through the views: main and archive move rows to trash, trash removes them for good.
INSERT INTO lamin.artifact_all (id, uid, key, branch_id) OVERRIDING SYSTEM VALUE
SELECT i, 'delv' || lpad(i::text, 12, '0') || '0000', 'k' || i, CASE WHEN i <= 6 THEN 1 ELSE 0 END
  FROM generate_series(1, 8) i;
-- DELETE n counts the rows moved (ORMs check it)
DELETE FROM lamin.artifact WHERE id <= 3;
SELECT id, branch_id FROM lamin.artifact_all ORDER BY id;
-- RETURNING works
DELETE FROM lamin.artifact WHERE id = 4 RETURNING id, key;
-- rows not on main are not deleted through it
DELETE FROM lamin.artifact WHERE id IN (1, 7);
-- archive to trash
DELETE FROM lamin.artifact_archive WHERE id = 7;
SELECT id, branch_id FROM lamin.artifact_all ORDER BY id;
-- a delete that fails part-way leaves nothing moved
\set SHOW_CONTEXT never
BEGIN;
DELETE FROM lamin.artifact WHERE id = 5;
UPDATE lamin.artifact SET is_locked = true WHERE id = 6;
DELETE FROM lamin.artifact WHERE id >= 5;
ROLLBACK;
\set SHOW_CONTEXT errors
SELECT id, branch_id, is_locked FROM lamin.artifact_all WHERE id IN (5, 6) ORDER BY id;
-- from the trash, DELETE removes for good
DELETE FROM lamin.artifact_trash WHERE id IN (1, 2);
SELECT id, branch_id FROM lamin.artifact_all ORDER BY id;
DELETE FROM lamin.artifact_trash;
SELECT id, branch_id FROM lamin.artifact_all ORDER BY id;
-- the view triggers
SELECT tgrelid::regclass, tgname, tgtype, tgnargs FROM pg_trigger
 WHERE tgrelid IN ('lamin.artifact'::regclass, 'lamin.artifact_archive'::regclass,
                   'lamin.artifact_trash'::regclass, 'lamin.artifact_all'::regclass)
   AND NOT tgisinternal
 ORDER BY 1, 2;
-- every move stamps updated_at with its statement's time: the DELETE, planned as an UPDATE of
-- the table, and the move functions set it themselves, the row trigger stamps the rest
TRUNCATE lamin.artifact_all;
INSERT INTO lamin.artifact_all (id, uid, key, updated_at) OVERRIDING SYSTEM VALUE
SELECT i, 'stmp' || lpad(i::text, 12, '0') || '0000', 'k' || i, '2000-01-01' FROM generate_series(1, 8) i;
EXPLAIN (VERBOSE, COSTS OFF) DELETE FROM lamin.artifact WHERE id <= 2;
CREATE FUNCTION pg_temp.stamped(ids bigint[], sql text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN (SELECT bool_and(updated_at = statement_timestamp()) FROM lamin.artifact_all WHERE id = ANY (ids));
END $$;
SELECT pg_temp.stamped('{1,2}', 'DELETE FROM lamin.artifact WHERE id <= 2') AS view_delete;
-- the same DELETE left to the view's trigger (one UPDATE per row)
SET lamin_branch.flatten_views = off;
SELECT pg_temp.stamped('{1,2}', 'SELECT lamin.restore(''lamin.artifact'', 1::bigint), lamin.restore(''lamin.artifact'', 2::bigint)') AS restore;
SELECT pg_temp.stamped('{1,2}', 'DELETE FROM lamin.artifact WHERE id <= 2') AS view_delete_by_trigger;
RESET lamin_branch.flatten_views;
SELECT pg_temp.stamped('{3}', 'SELECT lamin.artifact_delete(3)') AS artifact_delete;
SELECT pg_temp.stamped('{4,5}', 'SELECT count(*) FROM lamin.delete_many(''lamin.artifact'', ARRAY[4, 5])') AS delete_many;
SELECT pg_temp.stamped('{1,2,4,5}', 'SELECT count(*) FROM lamin.restore_many(''lamin.artifact'', ARRAY[1, 2, 4, 5])') AS restore_many;
SELECT pg_temp.stamped('{6}', 'SELECT lamin.archive(''lamin.artifact'', 6::bigint)') AS archive;
SELECT pg_temp.stamped('{7}', 'UPDATE lamin.artifact_all SET branch_id = 0 WHERE id = 7') AS raw_update;
SELECT pg_temp.stamped('{8}', 'UPDATE lamin.artifact_all SET branch_id = 0, updated_at = ''2001-01-01'' WHERE id = 8') AS raw_update_given;
-- an updated_at the table computes itself (a generated column) is left to it
CREATE TABLE public.gen_stamp (id int PRIMARY KEY, updated_at timestamptz GENERATED ALWAYS AS (to_timestamp(id::float8)) STORED);
INSERT INTO public.gen_stamp (id) VALUES (1), (2), (3);
SELECT relation FROM lamin.enable('public.gen_stamp');
DELETE FROM public.gen_stamp WHERE id = 1;
SELECT count(*) FROM lamin.delete_many('public.gen_stamp', ARRAY[2]);
SELECT action FROM lamin.delete('public.gen_stamp', 3);
SELECT count(*) FROM lamin.restore_many('public.gen_stamp', ARRAY[1, 2, 3]);
SELECT id, branch_id, updated_at = to_timestamp(id::float8) AS generated FROM public.gen_stamp_all ORDER BY id;
SELECT lamin.disable('public.gen_stamp');
DROP TABLE public.gen_stamp;
TRUNCATE lamin.artifact_all;
