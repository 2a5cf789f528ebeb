-- Keys of any shape (several columns, text, uuid), partitioned tables, and tables that already
-- have triggers and row-level security policies.
\set SHOW_CONTEXT never
CREATE SCHEMA keys;
GRANT USAGE ON SCHEMA keys TO PUBLIC;

-- a primary key of two columns; versions ordered by key (the table has no created_at)
CREATE TABLE keys.multi (
    id integer,
    code text,
    uid varchar(20) NOT NULL,
    is_latest boolean NOT NULL DEFAULT true,
    PRIMARY KEY (id, code)
);
SELECT relation, main_view, family_index FROM lamin.enable('keys.multi');
INSERT INTO keys.multi (id, code, uid) VALUES
    (1, 'a', 'mulAAAAAAAAAAAAA0000'), (1, 'b', 'mulAAAAAAAAAAAAA0001'), (2, 'a', 'mulAAAAAAAAAAAAA0002'),
    (3, 'c', 'mulCCCCCCCCCCCCC0000'), (4, 'd', 'mulDDDDDDDDDDDDD0000');
-- the newest version (highest key) is head
SELECT id, code, uid, is_latest, branch_id FROM keys.multi_all ORDER BY id, code;
-- a key as an array of text, or as a row
SELECT * FROM lamin.delete('keys.multi', ARRAY['2', 'a']);
SELECT * FROM lamin.restore('keys.multi', ROW(2, 'a'));
SELECT * FROM lamin.archive('keys.multi_trash', ROW(1, 'b'));
SELECT * FROM lamin.move('keys.multi', ARRAY['1', 'b'], 'main');
SELECT * FROM lamin.delete('keys.multi_all', ROW(1::bigint, 'a'::varchar), permanent => false);
SELECT id, code, is_latest, branch_id FROM keys.multi_all ORDER BY id, code;
-- many keys: a two-dimensional array, one row per key
SELECT * FROM lamin.delete_many('keys.multi', ARRAY[['2', 'a'], ['1', 'b'], ['3', 'c']]) ORDER BY key;
SELECT * FROM lamin.restore_many('keys.multi', ARRAY[['1', 'a'], ['1', 'b'], ['2', 'a']]) ORDER BY key;
SELECT * FROM lamin.archive_many('keys.multi', ARRAY[['4', 'd'], ['1', 'b']]) ORDER BY key;
SELECT * FROM lamin.delete_many('keys.multi', ARRAY[['3', 'c']], permanent => true);
SELECT id, code, is_latest, branch_id FROM keys.multi_all ORDER BY id, code;
-- DELETE through the main view moves the rows it matches on main, and counts them
DELETE FROM keys.multi WHERE id IN (1, 4) RETURNING id, code;
SELECT id, code, is_latest, branch_id FROM keys.multi_all ORDER BY id, code;
-- keys of the wrong shape
SELECT lamin.delete('keys.multi', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.delete('keys.multi', ARRAY['1']);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.delete('keys.multi', ARRAY['1', NULL]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.delete('keys.multi', ROW(1, 'a', 'x'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.delete('keys.multi', ROW(1, NULL::text));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.delete('keys.multi', ROW('one', 'a'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.delete('keys.multi', ROW(9, 'z'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.delete_many('keys.multi', ARRAY['1', 'a']);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.delete_many('keys.multi', ARRAY[['1', 'a', 'x']]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.delete_many('keys.multi', ARRAY[['1', 'a'], ['9', 'z']]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT id, code, is_latest, branch_id FROM keys.multi_all ORDER BY id, code;
SELECT lamin.disable('keys.multi', drop_columns => true);

-- a text key: values that need quoting, and case matters
CREATE TABLE keys.words (word text PRIMARY KEY, note text);
INSERT INTO keys.words VALUES ('alpha', 'a'), ('Alpha', 'A'), ('it''s; "x"', 'q'), ('gamma', 'g');
SELECT relation, main_view FROM lamin.enable('keys.words');
SELECT * FROM lamin.delete('keys.words', 'alpha'::text);
SELECT * FROM lamin.delete('keys.words', 'it''s; "x"'::text);
-- (a bare literal has no type to convert from)
SELECT * FROM lamin.delete('keys.words', 'gamma');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM lamin.archive('keys.words', 'Alpha'::varchar);
SELECT * FROM lamin.delete('keys.words', 'ALPHA'::text);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM lamin.restore_many('keys.words', ARRAY['alpha', 'it''s; "x"', 'Alpha']) ORDER BY key;
SELECT * FROM lamin.delete_many('keys.words', ARRAY['gamma', 'gamma', 'alpha']) ORDER BY key;
SELECT word, branch_id FROM keys.words_all ORDER BY word COLLATE "C";
SELECT lamin.disable('keys.words', drop_columns => true);

-- a uuid key, with version families ordered by created_at
CREATE TABLE keys.things (
    id uuid PRIMARY KEY,
    uid varchar(20) NOT NULL,
    is_latest boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL
);
SELECT relation, main_view FROM lamin.enable('keys.things');
INSERT INTO keys.things (id, uid, created_at) VALUES
    ('00000000-0000-4000-8000-000000000002', 'uuiAAAAAAAAAAAAA0000', '2024-01-01 00:00+00'),
    ('00000000-0000-4000-8000-000000000001', 'uuiAAAAAAAAAAAAA0001', '2024-01-02 00:00+00'),
    ('00000000-0000-4000-8000-000000000003', 'uuiBBBBBBBBBBBBB0000', '2024-01-01 00:00+00');
SELECT id, uid, is_latest FROM keys.things ORDER BY uid;
SELECT * FROM lamin.delete('keys.things', '00000000-0000-4000-8000-000000000001'::uuid);
SELECT * FROM lamin.restore('keys.things', '00000000-0000-4000-8000-000000000001'::text);
SELECT * FROM lamin.archive('keys.things', '00000000-0000-4000-8000-000000000003'::uuid);
SELECT lamin.delete('keys.things', 'not-a-uuid'::text);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- two versions of a family at once, the head (the newest) first in key order: both move, and
-- the remaining version is head (which versions are promoted on the way depends on the order in
-- which the rows are moved, so the notices are not shown)
-- (in the trash a row keeps the is_latest it had, which also depends on that order: not shown)
SET client_min_messages = warning;
SELECT relation, key, uid, action, from_branch, to_branch FROM lamin.delete_many('keys.things',
    ARRAY['00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001']::uuid[]) ORDER BY key;
RESET client_min_messages;
SELECT id, uid, CASE WHEN branch_id <> -1 THEN is_latest END AS is_latest, branch_id FROM keys.things_all ORDER BY uid;
SELECT * FROM lamin.restore_many('keys.things', ARRAY['00000000-0000-4000-8000-000000000001']);
SELECT lamin.delete_many('keys.things', ARRAY['not-a-uuid']);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT id, uid, CASE WHEN branch_id <> -1 THEN is_latest END AS is_latest, branch_id FROM keys.things_all ORDER BY uid;
SELECT lamin.disable('keys.things', drop_columns => true);

-- partitioned by range of the key: a version family spans both partitions, so the heads are
-- computed over the partitioned table, whichever partition a row is in
INSERT INTO lamin.branch (id, uid, name) OVERRIDING SYSTEM VALUE VALUES (4242, 'keysdevbrnch', 'keys-dev');
CREATE TABLE keys.ranged (
    id integer PRIMARY KEY,
    uid varchar(20) NOT NULL,
    is_latest boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL
) PARTITION BY RANGE (id);
CREATE TABLE keys.ranged_low PARTITION OF keys.ranged FOR VALUES FROM (0) TO (100);
CREATE TABLE keys.ranged_high PARTITION OF keys.ranged FOR VALUES FROM (100) TO (200);
SELECT relation, main_view, family_index FROM lamin.enable('keys.ranged');
-- the trigger and the family index reach every partition, and partitions made later
CREATE TABLE keys.ranged_top PARTITION OF keys.ranged_all FOR VALUES FROM (200) TO (300);
SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'keys'::regnamespace AND NOT t.tgisinternal ORDER BY 1, 2;
SELECT indexrelid::regclass AS index, indrelid::regclass AS "table" FROM pg_index
 WHERE indrelid IN ('keys.ranged_all'::regclass, 'keys.ranged_low'::regclass, 'keys.ranged_high'::regclass,
                    'keys.ranged_top'::regclass) AND NOT indisprimary ORDER BY 2;
INSERT INTO keys.ranged (id, uid, created_at) VALUES (1, 'ranAAAAAAAAAAAAA0000', '2024-01-01 00:00+00');
INSERT INTO keys.ranged (id, uid, created_at) VALUES (101, 'ranAAAAAAAAAAAAA0001', '2024-01-02 00:00+00');
INSERT INTO keys.ranged (id, uid, created_at) VALUES (201, 'ranAAAAAAAAAAAAA0002', '2023-12-31 00:00+00');
SELECT tableoid::regclass AS part, id, uid, is_latest, branch_id FROM keys.ranged_all ORDER BY id;
SELECT * FROM lamin.delete('keys.ranged', 101);
SELECT tableoid::regclass AS part, id, is_latest, branch_id FROM keys.ranged_all ORDER BY id;
SELECT * FROM lamin.move('keys.ranged', 101, 'keys-dev');
SELECT * FROM lamin.move('keys.ranged', 1, 4242);
SELECT tableoid::regclass AS part, id, is_latest, branch_id FROM keys.ranged_all ORDER BY id;
SELECT * FROM lamin.restore_many('keys.ranged', ARRAY[1, 101]) ORDER BY key;
SELECT tableoid::regclass AS part, id, is_latest, branch_id FROM keys.ranged_all ORDER BY id;
DELETE FROM keys.ranged WHERE id = 201;
SELECT tableoid::regclass AS part, id, is_latest, branch_id FROM keys.ranged_all ORDER BY id;
-- the archive and trash views and direct statements on a partition keep the same rules
SELECT * FROM lamin.archive('keys.ranged', 1);
DELETE FROM keys.ranged_archive WHERE id = 1;
UPDATE keys.ranged_low SET branch_id = 1 WHERE id = 1;
SELECT tableoid::regclass AS part, id, is_latest, branch_id FROM keys.ranged_all ORDER BY id;
-- an ORM archives the whole family with one UPDATE of the main view (notices not shown: they
-- depend on the order in which the rows are updated)
SET client_min_messages = warning;
UPDATE keys.ranged SET branch_id = 0 WHERE uid LIKE 'ranAAAAAAAAAAAAA%';
RESET client_min_messages;
SELECT tableoid::regclass AS part, id, is_latest, branch_id FROM keys.ranged_all ORDER BY id;
-- the same for a family whose head is in the first partition scanned
INSERT INTO keys.ranged (id, uid, created_at) VALUES
    (2, 'ranBBBBBBBBBBBBB0002', '2024-02-03 00:00+00'), (102, 'ranBBBBBBBBBBBBB0001', '2024-02-02 00:00+00'),
    (202, 'ranBBBBBBBBBBBBB0000', '2024-02-01 00:00+00');
SET client_min_messages = warning;
UPDATE keys.ranged SET branch_id = 0 WHERE uid LIKE 'ranBBBBBBBBBBBBB%';
RESET client_min_messages;
SELECT tableoid::regclass AS part, id, uid, is_latest, branch_id FROM keys.ranged_all
 WHERE uid LIKE 'ranBBBBBBBBBBBBB%' ORDER BY id;
SELECT lamin.disable('keys.ranged');
SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'keys'::regnamespace AND NOT t.tgisinternal ORDER BY 1, 2;
SELECT count(*) AS other_indexes FROM pg_index
 WHERE indrelid IN ('keys.ranged'::regclass, 'keys.ranged_low'::regclass, 'keys.ranged_high'::regclass,
                    'keys.ranged_top'::regclass) AND NOT indisprimary;
SELECT tableoid::regclass AS part, id, is_latest, branch_id FROM keys.ranged ORDER BY id;
DROP TABLE keys.ranged;

-- partitioned by list of branch_id: every move takes the row to another partition (the key
-- includes branch_id, as a partitioned table's key must include its partition key)
CREATE TABLE keys.listed (
    id integer,
    branch_id integer NOT NULL DEFAULT 1 REFERENCES lamin.branch (id),
    uid varchar(20) NOT NULL,
    is_latest boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (id, branch_id)
) PARTITION BY LIST (branch_id);
CREATE TABLE keys.listed_main PARTITION OF keys.listed FOR VALUES IN (1);
CREATE TABLE keys.listed_other PARTITION OF keys.listed DEFAULT;
SELECT relation, main_view, branch_table, added_columns FROM lamin.enable('keys.listed');
INSERT INTO keys.listed (id, uid, created_at) VALUES
    (1, 'lisAAAAAAAAAAAAA0000', '2024-01-01 00:00+00'), (2, 'lisAAAAAAAAAAAAA0001', '2024-01-02 00:00+00');
SELECT tableoid::regclass AS part, id, is_latest, branch_id FROM keys.listed_all ORDER BY id, branch_id;
DELETE FROM keys.listed WHERE id = 2;
SELECT tableoid::regclass AS part, id, is_latest, branch_id FROM keys.listed_all ORDER BY id, branch_id;
SELECT * FROM lamin.restore('keys.listed', ROW(2, -1));
SELECT tableoid::regclass AS part, id, is_latest, branch_id FROM keys.listed_all ORDER BY id, branch_id;
SELECT * FROM lamin.archive('keys.listed', ARRAY[2, 1]);
SELECT tableoid::regclass AS part, id, is_latest, branch_id FROM keys.listed_all ORDER BY id, branch_id;
SELECT * FROM lamin.restore_many('keys.listed', ARRAY[[2, 0]]);
SELECT tableoid::regclass AS part, id, is_latest, branch_id FROM keys.listed_all ORDER BY id, branch_id;
SELECT lamin.disable('keys.listed', drop_columns => true);
DROP TABLE keys.listed;
DELETE FROM lamin.branch WHERE id = 4242;

-- a table with triggers of its own: they still fire, on every path
CREATE TABLE keys.audited (id integer PRIMARY KEY, body text NOT NULL);
CREATE TABLE keys.audit_log (n serial, op text, id integer, branch text);
CREATE FUNCTION keys.audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO keys.audit_log (op, id, branch)
    VALUES (TG_OP, coalesce(NEW.id, OLD.id), to_jsonb(coalesce(NEW, OLD)) ->> 'branch_id');
    RETURN NULL;
END $$;
CREATE FUNCTION keys.shout() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.body := upper(NEW.body); RETURN NEW; END $$;
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON keys.audited FOR EACH ROW EXECUTE FUNCTION keys.audit();
CREATE TRIGGER shout BEFORE INSERT OR UPDATE ON keys.audited FOR EACH ROW EXECUTE FUNCTION keys.shout();
INSERT INTO keys.audited VALUES (1, 'before');
SELECT relation, main_view FROM lamin.enable('keys.audited');
INSERT INTO keys.audited VALUES (2, 'through the view');
UPDATE keys.audited SET body = 'changed' WHERE id = 1;
DELETE FROM keys.audited WHERE id = 1;
SELECT * FROM lamin.restore('keys.audited', 1);
SELECT * FROM lamin.archive('keys.audited', 1);
SELECT * FROM lamin.archive_many('keys.audited', ARRAY[2]);
DELETE FROM keys.audited_archive WHERE id = 2;
DELETE FROM keys.audited_trash WHERE id = 2;
SELECT id, body, branch_id FROM keys.audited_all ORDER BY id;
SELECT op, id, branch FROM keys.audit_log ORDER BY n;
SELECT lamin.disable('keys.audited');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'keys.audited'::regclass AND NOT tgisinternal ORDER BY 1;
DROP TABLE keys.audited, keys.audit_log;
DROP FUNCTION keys.audit(), keys.shout();

-- a table with row-level security policies of its own: each role sees its own rows, and never
-- the secret ones. The branch policy is restrictive: it narrows them, it does not widen them.
CREATE ROLE regress_lamin_alice NOLOGIN;
CREATE ROLE regress_lamin_bob NOLOGIN;
CREATE TABLE keys.notes (id integer PRIMARY KEY, author name NOT NULL DEFAULT current_user, body text);
ALTER TABLE keys.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON keys.notes USING (author = current_user);
CREATE POLICY no_secrets ON keys.notes AS RESTRICTIVE FOR SELECT USING (body IS DISTINCT FROM 'secret');
CREATE POLICY bob_reads_all ON keys.notes FOR SELECT TO regress_lamin_bob USING (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON keys.notes TO regress_lamin_alice, regress_lamin_bob;
INSERT INTO keys.notes VALUES (1, 'regress_lamin_alice', 'a1'), (2, 'regress_lamin_alice', 'a2'),
    (3, 'regress_lamin_bob', 'b3'), (4, 'regress_lamin_alice', 'secret'), (5, 'regress_lamin_alice', 'a5');
CREATE TEMP TABLE policies_before AS
SELECT polname, polpermissive, polroles::regrole[]::text AS roles, polcmd,
       pg_get_expr(polqual, polrelid) AS qual, pg_get_expr(polwithcheck, polrelid) AS with_check
  FROM pg_policy WHERE polrelid = 'keys.notes'::regclass;
SET ROLE regress_lamin_alice;
SELECT id, author, body FROM keys.notes ORDER BY id;
RESET ROLE;
SELECT relation, main_view, enabled_rls, moved_privileges FROM lamin.enable('keys.notes');
SELECT polname, polpermissive, polroles::regrole[], polcmd, pg_get_expr(polqual, polrelid) AS qual
  FROM pg_policy WHERE polrelid = 'keys.notes_all'::regclass ORDER BY 1;
SELECT * FROM lamin.archive('keys.notes', 5);
SET ROLE regress_lamin_alice;
-- her own main rows, not the secret one, not bob's
SELECT id, author, body, branch_id FROM keys.notes ORDER BY id;
SELECT id, author, body, branch_id FROM keys.notes_all ORDER BY id;
-- she moves her own rows to trash, and cannot touch bob's
DELETE FROM keys.notes WHERE id IN (2, 3);
UPDATE keys.notes SET body = 'mine now' WHERE id = 3;
SELECT id, author, body, branch_id FROM keys.notes ORDER BY id;
INSERT INTO keys.notes (id, body) VALUES (6, 'a6');
INSERT INTO keys.notes (id, body, author) VALUES (7, 'b7', 'regress_lamin_bob');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO keys.notes (id, body, branch_id) VALUES (8, 'a8', 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
-- bob reads every main row but the secret one
SET ROLE regress_lamin_bob;
SELECT id, author, body, branch_id FROM keys.notes ORDER BY id;
RESET ROLE;
SELECT id, author, body, branch_id FROM keys.notes_all ORDER BY id;
-- disable() gives back the policies exactly as they were
SELECT lamin.disable('keys.notes');
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'keys.notes'::regclass;
SELECT polname, polpermissive, polroles::regrole[]::text AS roles, polcmd,
       pg_get_expr(polqual, polrelid) AS qual, pg_get_expr(polwithcheck, polrelid) AS with_check
  FROM pg_policy WHERE polrelid = 'keys.notes'::regclass
EXCEPT SELECT * FROM policies_before;
SELECT * FROM policies_before
EXCEPT SELECT polname, polpermissive, polroles::regrole[]::text AS roles, polcmd,
       pg_get_expr(polqual, polrelid) AS qual, pg_get_expr(polwithcheck, polrelid) AS with_check
  FROM pg_policy WHERE polrelid = 'keys.notes'::regclass;
SET ROLE regress_lamin_alice;
SELECT id, author, body, branch_id FROM keys.notes ORDER BY id;
RESET ROLE;

-- key columns whose names hold '.', ',' or 't.': enable() makes the heads of the existing
-- version families right with each column quoted on its own, and the batched procedures list
-- the keys and order by them the same way
CREATE TABLE keys.dotted ("last.id" integer PRIMARY KEY, uid varchar(20) NOT NULL, is_latest boolean NOT NULL);
INSERT INTO keys.dotted VALUES (1, 'dotAAAAAAAAAAAAA0000', true), (2, 'dotAAAAAAAAAAAAA0001', false),
                               (3, 'dotBBBBBBBBBBBBB0000', false);
SELECT relation, main_view, family_index FROM lamin.enable('keys.dotted');
SELECT "last.id", uid, is_latest, branch_id FROM keys.dotted_all ORDER BY 1;
CREATE TABLE keys.commas (
    "a,b" integer,
    "t.x, y" text,
    uid varchar(20) NOT NULL,
    is_latest boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    PRIMARY KEY ("a,b", "t.x, y")
);
-- versions by created_at, then by key where it ties: the second column decides between 2 and 3
INSERT INTO keys.commas VALUES
    (1, 'b', 'comAAAAAAAAAAAAA0000', true, '2024-01-02 00:00+00'), (2, 'a', 'comAAAAAAAAAAAAA0001', false, '2024-01-01 00:00+00'),
    (2, 'c', 'comCCCCCCCCCCCCC0000', false, '2024-01-01 00:00+00'), (2, 'b', 'comCCCCCCCCCCCCC0001', true, '2024-01-01 00:00+00');
SELECT relation, main_view, family_index FROM lamin.enable('keys.commas');
SELECT "a,b", "t.x, y", uid, is_latest, branch_id FROM keys.commas_all ORDER BY 1, 2;
SET client_min_messages = warning;
CALL lamin.trash_batched('keys.commas', '"a,b" = 2', 2);
SELECT "a,b", "t.x, y", branch_id FROM keys.commas_all ORDER BY 1, 2;
CALL lamin.restore_batched('keys.commas', '"t.x, y" <> ''a''', 1);
CALL lamin.purge_batched('keys.commas', batch_size => 5);
CALL lamin.trash_batched('keys.dotted', '"last.id" > 1', 1);
CALL lamin.purge_batched('keys.dotted', '"last.id" = 3');
RESET client_min_messages;
SELECT "a,b", "t.x, y", uid, is_latest, branch_id FROM keys.commas_all ORDER BY 1, 2;
SELECT "last.id", uid, is_latest, branch_id FROM keys.dotted_all ORDER BY 1;
SELECT lamin.disable('keys.commas', drop_columns => true);
SELECT lamin.disable('keys.dotted', drop_columns => true);
DROP TABLE keys.commas, keys.dotted;

DROP SCHEMA keys CASCADE;
DROP ROLE regress_lamin_alice, regress_lamin_bob;
