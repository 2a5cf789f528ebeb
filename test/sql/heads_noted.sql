-- Version heads of UPDATEs: the row trigger notes each row a statement moves to another branch
-- or uid stem, and the statement's lamin_branch_heads_update trigger (without transition
-- tables) makes the newest version of each family it noted the head. Rows another trigger skips
-- or changes after it, subtransactions that fail, a disabled heads trigger and statements nested
-- in others leave every family with the head it should have.
\set SHOW_CONTEXT never
CREATE SCHEMA hn;
CREATE TABLE hn.doc (
    id         bigint PRIMARY KEY,
    uid        text NOT NULL,
    is_latest  boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL,
    body       text NOT NULL DEFAULT ''
);
-- families A to F, three versions each (0000 oldest); G has one
INSERT INTO hn.doc (id, uid, created_at)
SELECT f * 10 + v, 'fam' || chr(64 + f) || 'AAAAAAAAAAAA' || lpad(v::text, 4, '0'),
       timestamptz '2024-01-01' + (f * 10 + v) * interval '1 day'
  FROM generate_series(1, 6) f, generate_series(0, 2) v;
INSERT INTO hn.doc (id, uid, created_at) VALUES (70, 'famGAAAAAAAAAAAA0000', '2024-06-01');
SELECT relation FROM lamin.enable('hn.doc');
CREATE TABLE hn.other (id bigint PRIMARY KEY, uid text NOT NULL, is_latest boolean NOT NULL DEFAULT true,
                       created_at timestamptz NOT NULL);
INSERT INTO hn.other SELECT id, uid, is_latest, created_at FROM hn.doc_all WHERE id < 20;
SELECT relation FROM lamin.enable('hn.other');
-- the update trigger has no transition tables; those of insert and delete keep theirs
SELECT tgname, pg_get_triggerdef(oid) ~ 'REFERENCING' AS transition_tables
  FROM pg_trigger WHERE tgrelid = 'hn.doc_all'::regclass AND tgname LIKE 'lamin_branch_heads%' ORDER BY 1;

-- every version whose flag is not what its family on its branch says (trash keeps its flags):
-- empty whenever the heads are right
CREATE VIEW hn.wrong AS
    SELECT relname, id, uid, branch_id, is_latest
      FROM (SELECT 'doc' AS relname, id, uid, branch_id, is_latest,
                   row_number() OVER (PARTITION BY substr(uid, 1, 16), branch_id
                                      ORDER BY created_at DESC, id DESC) = 1 AS head
              FROM hn.doc_all
            UNION ALL
            SELECT 'other', id, uid, branch_id, is_latest,
                   row_number() OVER (PARTITION BY substr(uid, 1, 16), branch_id
                                      ORDER BY created_at DESC, id DESC) = 1
              FROM hn.other_all) x
     WHERE branch_id <> -1 AND is_latest IS DISTINCT FROM head;
CREATE VIEW hn.heads AS
    SELECT substr(uid, 1, 4) AS family, branch_id, id FROM hn.doc_all WHERE is_latest AND branch_id <> -1;
SELECT * FROM hn.wrong;

-- an UPDATE by hand that trashes two heads and an older version: the next newest takes over;
-- an UPDATE that moves nothing leaves the heads alone
UPDATE hn.doc_all SET branch_id = -1 WHERE id IN (12, 22, 20);
UPDATE hn.doc_all SET body = 'edited' WHERE id BETWEEN 10 AND 22;
SELECT * FROM hn.wrong;
SELECT family, id FROM hn.heads WHERE family IN ('famA', 'famB') ORDER BY 1, 2;
-- back from the trash: the newest version is head again
UPDATE hn.doc_all SET branch_id = 1 WHERE id IN (12, 22, 20);
SELECT * FROM hn.wrong;
SELECT family, id FROM hn.heads WHERE family IN ('famA', 'famB') ORDER BY 1, 2;

-- a new uid stem on the same branch moves a version to another family: both get their head
UPDATE hn.doc_all SET uid = 'famGAAAAAAAAAAAA0001' WHERE id = 32;
SELECT * FROM hn.wrong;
SELECT family, id FROM hn.heads WHERE family IN ('famC', 'famG') ORDER BY 1, 2;

-- a trigger that fires after lamin_branch_row (names sort after it) skips one move, sends
-- another back and archives a third instead of trashing it: heads follow what happened
CREATE FUNCTION hn.meddle() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id = 42 THEN
        RETURN NULL;                       -- not updated at all
    ELSIF NEW.id = 52 THEN
        NEW.branch_id := OLD.branch_id;    -- stays where it was
    ELSIF NEW.id = 62 THEN
        NEW.branch_id := 0;                -- archived instead of trashed
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER zz_meddle BEFORE UPDATE ON hn.doc_all FOR EACH ROW EXECUTE FUNCTION hn.meddle();
UPDATE hn.doc_all SET branch_id = -1 WHERE id IN (42, 52, 62);
SELECT id, branch_id, is_latest FROM hn.doc_all WHERE id IN (40, 41, 42, 50, 51, 52, 60, 61, 62) ORDER BY id;
SELECT * FROM hn.wrong;
-- a trigger named before lamin_branch_row fires before it: what it does is what is noted
ALTER TRIGGER zz_meddle ON hn.doc_all RENAME TO aa_meddle;
UPDATE hn.doc_all SET branch_id = -1 WHERE id IN (42, 52, 61);
SELECT id, branch_id, is_latest FROM hn.doc_all WHERE id IN (40, 41, 42, 50, 51, 52, 60, 61, 62) ORDER BY id;
SELECT * FROM hn.wrong;
DROP TRIGGER aa_meddle ON hn.doc_all;

-- a statement that fails after rows were noted: its moves are undone and leave no note behind,
-- in a savepoint or not
CREATE FUNCTION hn.fail_on_11() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id = 11 THEN
        RAISE EXCEPTION 'row 11 refused';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER zz_fail AFTER UPDATE ON hn.doc_all FOR EACH ROW EXECUTE FUNCTION hn.fail_on_11();
BEGIN;
SAVEPOINT s;
UPDATE hn.doc_all SET branch_id = -1 WHERE id IN (12, 11);
ROLLBACK TO SAVEPOINT s;
UPDATE hn.doc_all SET branch_id = 0 WHERE id = 22;
COMMIT;
SELECT * FROM hn.wrong;
UPDATE hn.doc_all SET branch_id = -1 WHERE id IN (12, 11);
-- the same in a PL/pgSQL exception block, between statements that go on moving rows
DO $$
BEGIN
    UPDATE hn.doc_all SET branch_id = 1 WHERE id = 22;
    BEGIN
        UPDATE hn.doc_all SET branch_id = -1 WHERE id IN (12, 11);
    EXCEPTION WHEN raise_exception THEN
        RAISE NOTICE 'caught: %', SQLERRM;
    END;
    UPDATE hn.doc_all SET branch_id = -1 WHERE id = 21;
END
$$;
SELECT id, branch_id, is_latest FROM hn.doc_all WHERE id BETWEEN 10 AND 22 ORDER BY id;
SELECT * FROM hn.wrong;
DROP TRIGGER zz_fail ON hn.doc_all;

-- with the heads trigger disabled nothing is noted: its family keeps the head it lost (the
-- owner's choice), and the next statement rewrites only the families it moved
ALTER TABLE hn.doc_all DISABLE TRIGGER lamin_branch_heads_update;
UPDATE hn.doc_all SET branch_id = -1 WHERE id = 70;
UPDATE hn.doc_all SET branch_id = 0 WHERE id = 30;
ALTER TABLE hn.doc_all ENABLE TRIGGER lamin_branch_heads_update;
UPDATE hn.doc_all SET branch_id = 0 WHERE id = 31;
SELECT * FROM hn.wrong ORDER BY id;
UPDATE hn.doc_all SET branch_id = 1 WHERE id IN (30, 31, 70);
SELECT * FROM hn.wrong;

-- a statement nested in a trigger of another table's statement: each table's families get heads
CREATE FUNCTION hn.follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE hn.other_all SET branch_id = NEW.branch_id WHERE id = NEW.id;
    RETURN NEW;
END
$$;
CREATE TRIGGER zz_follow AFTER UPDATE ON hn.doc_all FOR EACH ROW EXECUTE FUNCTION hn.follow();
UPDATE hn.doc_all SET branch_id = 0 WHERE id IN (12, 11);
DROP TRIGGER zz_follow ON hn.doc_all;
SELECT id, branch_id, is_latest FROM hn.other_all WHERE id BETWEEN 10 AND 12 ORDER BY id;
SELECT * FROM hn.wrong;
-- ... and one nested in a trigger of the same table, which also takes what the outer
-- statement noted so far: the families end with the heads they should have
CREATE FUNCTION hn.follow_self() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id = 51 THEN
        UPDATE hn.doc_all SET branch_id = NEW.branch_id WHERE id = 60;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER zz_follow_self AFTER UPDATE ON hn.doc_all FOR EACH ROW EXECUTE FUNCTION hn.follow_self();
UPDATE hn.doc_all SET branch_id = 0 WHERE id IN (50, 51);
DROP TRIGGER zz_follow_self ON hn.doc_all;
SELECT id, branch_id, is_latest FROM hn.doc_all WHERE id BETWEEN 50 AND 62 ORDER BY id;
SELECT * FROM hn.wrong;

-- a row an UPDATE joins twice moves once; an upsert that moves a row keeps the heads
UPDATE hn.doc_all t SET branch_id = 0 FROM (VALUES (10), (10), (20)) v(id) WHERE t.id = v.id;
INSERT INTO hn.doc_all (id, uid, created_at) VALUES (21, 'x', now())
    ON CONFLICT (id) DO UPDATE SET branch_id = 0;
SELECT id, branch_id, is_latest FROM hn.doc_all WHERE id IN (10, 20, 21, 22) ORDER BY id;
SELECT * FROM hn.wrong;

-- a prepared transaction takes the notes' memory with it: later statements note afresh
BEGIN;
UPDATE hn.doc_all SET branch_id = -1 WHERE id IN (62, 52);
PREPARE TRANSACTION 'heads_noted';
COMMIT PREPARED 'heads_noted';
UPDATE hn.doc_all SET branch_id = 1 WHERE id IN (62, 52);
UPDATE hn.doc_all SET branch_id = 0 WHERE id = 51;
SELECT id, branch_id, is_latest FROM hn.doc_all WHERE id BETWEEN 50 AND 62 ORDER BY id;
SELECT * FROM hn.wrong;

-- the trigger function refuses an UPDATE trigger with one transition table but not the other
CREATE TABLE hn.plain (id bigint PRIMARY KEY);
CREATE TRIGGER t AFTER UPDATE ON hn.plain REFERENCING OLD TABLE AS o
    FOR EACH STATEMENT EXECUTE FUNCTION lamin.branch_heads_trigger();
INSERT INTO hn.plain VALUES (1);
UPDATE hn.plain SET id = 2;
DROP TABLE hn.plain;

DROP VIEW hn.wrong, hn.heads;
SELECT lamin.disable('hn.doc');
SELECT lamin.disable('hn.other');
DROP SCHEMA hn CASCADE;
TRUNCATE lamin.move_record;
