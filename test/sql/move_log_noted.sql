-- lamin.move_log of UPDATEs: the row trigger notes each row a statement moves, and the
-- statement's lamin_move_log_update trigger (without transition tables) writes what was noted.
-- Rows another trigger skips or changes after it, subtransactions that fail, a disabled log
-- trigger and statements nested in others log exactly the moves that happened.
\set SHOW_CONTEXT never
CREATE SCHEMA mn;
CREATE TABLE mn.item (id bigint PRIMARY KEY, body text NOT NULL);
CREATE TABLE mn.other (id bigint PRIMARY KEY, body text NOT NULL);
INSERT INTO mn.item SELECT i, 'item ' || i FROM generate_series(1, 40) i;
INSERT INTO mn.other SELECT i, 'other ' || i FROM generate_series(1, 10) i;
SELECT relation FROM lamin.enable('mn.item');
SELECT relation FROM lamin.enable('mn.other');
TRUNCATE lamin.move_record;
CREATE VIEW mn.log AS
    SELECT dense_rank() OVER (ORDER BY operation) AS op, relation::regclass AS relation,
           key, from_branch, to_branch
      FROM lamin.move_log;
-- the update trigger has no transition tables; the delete trigger keeps its old rows
SELECT tgname, pg_get_triggerdef(oid) ~ 'REFERENCING' AS transition_tables
  FROM pg_trigger WHERE tgrelid = 'mn.item_all'::regclass AND tgname LIKE 'lamin_move_log%' ORDER BY 1;

-- an UPDATE by hand and a DELETE through the view: one operation each, only rows that moved
UPDATE mn.item_all SET branch_id = -1, body = body || '!' WHERE id BETWEEN 1 AND 3;
UPDATE mn.item_all SET body = body || '?' WHERE id BETWEEN 1 AND 6;
DELETE FROM mn.item WHERE id IN (4, 5);
SELECT op, relation, key, from_branch, to_branch FROM mn.log ORDER BY op, key::int;
TRUNCATE lamin.move_record;

-- a trigger that fires after lamin_branch_row (names sort after it) skips one row and sends
-- another back: the log holds the branch each row really has after the statement
CREATE FUNCTION mn.meddle() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id = 11 THEN
        RETURN NULL;                       -- not updated at all
    ELSIF NEW.id = 12 THEN
        NEW.branch_id := OLD.branch_id;    -- stays where it was
    ELSIF NEW.id = 13 THEN
        NEW.branch_id := 0;                -- archived instead of trashed
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER zz_meddle BEFORE UPDATE ON mn.item_all FOR EACH ROW EXECUTE FUNCTION mn.meddle();
UPDATE mn.item_all SET branch_id = -1 WHERE id BETWEEN 10 AND 14;
SELECT id, branch_id FROM mn.item_all WHERE id BETWEEN 10 AND 14 ORDER BY id;
SELECT op, relation, key, from_branch, to_branch FROM mn.log ORDER BY op, key::int;
-- a trigger named before lamin_branch_row fires before it: what it does is what is noted
ALTER TRIGGER zz_meddle ON mn.item_all RENAME TO aa_meddle;
TRUNCATE lamin.move_record;
UPDATE mn.item_all SET branch_id = -1 WHERE id BETWEEN 11 AND 17;
SELECT op, relation, key, from_branch, to_branch FROM mn.log ORDER BY op, key::int;
DROP TRIGGER aa_meddle ON mn.item_all;
TRUNCATE lamin.move_record;

-- a statement that fails after rows were noted: nothing of it is logged, in a savepoint or not
CREATE FUNCTION mn.fail_on_20() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id = 20 THEN
        RAISE EXCEPTION 'row 20 refused';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER zz_fail AFTER UPDATE ON mn.item_all FOR EACH ROW EXECUTE FUNCTION mn.fail_on_20();
BEGIN;
SAVEPOINT s;
UPDATE mn.item_all SET branch_id = -1 WHERE id BETWEEN 18 AND 21;
ROLLBACK TO SAVEPOINT s;
UPDATE mn.item_all SET branch_id = -1 WHERE id = 22;
COMMIT;
UPDATE mn.item_all SET branch_id = -1 WHERE id BETWEEN 18 AND 21;
UPDATE mn.item_all SET branch_id = -1 WHERE id = 23;
-- the same in a PL/pgSQL exception block, inside a statement that goes on moving rows
DO $$
BEGIN
    UPDATE mn.item_all SET branch_id = -1 WHERE id = 24;
    BEGIN
        UPDATE mn.item_all SET branch_id = -1 WHERE id BETWEEN 19 AND 20;
    EXCEPTION WHEN raise_exception THEN
        RAISE NOTICE 'caught: %', SQLERRM;
    END;
    UPDATE mn.item_all SET branch_id = -1 WHERE id = 25;
END
$$;
SELECT op, relation, key, from_branch, to_branch FROM mn.log ORDER BY op, key::int;
SELECT id FROM mn.item_all WHERE id BETWEEN 18 AND 25 AND branch_id = -1 ORDER BY id;
DROP TRIGGER zz_fail ON mn.item_all;
TRUNCATE lamin.move_record;

-- with the log trigger disabled nothing is noted, so its next statement logs only its own rows
ALTER TABLE mn.item_all DISABLE TRIGGER lamin_move_log_update;
UPDATE mn.item_all SET branch_id = -1 WHERE id = 26;
ALTER TABLE mn.item_all ENABLE TRIGGER lamin_move_log_update;
UPDATE mn.item_all SET branch_id = -1 WHERE id = 27;
-- the same for a session that replicates (the log trigger fires on origin only)
SET session_replication_role = replica;
ALTER TABLE mn.item_all ENABLE ALWAYS TRIGGER lamin_branch_row;
UPDATE mn.item_all SET branch_id = -1 WHERE id = 28;
RESET session_replication_role;
ALTER TABLE mn.item_all ENABLE TRIGGER lamin_branch_row;
UPDATE mn.item_all SET branch_id = -1 WHERE id = 29;
SELECT op, relation, key, from_branch, to_branch FROM mn.log ORDER BY op, key::int;
TRUNCATE lamin.move_record;

-- a statement nested in a trigger of another table's statement: each table logs its own rows
CREATE FUNCTION mn.follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE mn.other_all SET branch_id = NEW.branch_id WHERE id = NEW.id - 30;
    RETURN NEW;
END
$$;
CREATE TRIGGER zz_follow AFTER UPDATE ON mn.item_all FOR EACH ROW EXECUTE FUNCTION mn.follow();
UPDATE mn.item_all SET branch_id = -1 WHERE id BETWEEN 31 AND 33;
DROP TRIGGER zz_follow ON mn.item_all;
SELECT relation, key, from_branch, to_branch, count(*) OVER (PARTITION BY op) AS rows_in_op
  FROM mn.log ORDER BY relation::text, key::int;
TRUNCATE lamin.move_record;

-- a row an UPDATE joins twice moves once and is logged once; an upsert that moves a row logs it
UPDATE mn.item_all t SET branch_id = -1 FROM (VALUES (34), (34), (35)) v(id) WHERE t.id = v.id;
INSERT INTO mn.item_all (id, body) VALUES (36, 'again') ON CONFLICT (id) DO UPDATE SET branch_id = 0;
SELECT op, relation, key, from_branch, to_branch FROM mn.log ORDER BY op, key::int;
TRUNCATE lamin.move_record;

-- a prepared transaction takes the notes' memory with it: later statements note afresh
BEGIN;
UPDATE mn.item_all SET branch_id = -1 WHERE id = 37;
PREPARE TRANSACTION 'move_log_noted';
COMMIT PREPARED 'move_log_noted';
UPDATE mn.item_all SET branch_id = -1 WHERE id = 38;
SELECT op, relation, key, from_branch, to_branch FROM mn.log ORDER BY op, key::int;
TRUNCATE lamin.move_record;

-- a table enabled with cascade keeps the transition tables (its cascades need the old rows)
CREATE TABLE mn.parent (id bigint PRIMARY KEY);
SELECT relation FROM lamin.enable('mn.parent', cascade => true);
SELECT tgname, pg_get_triggerdef(oid) ~ 'REFERENCING' AS transition_tables
  FROM pg_trigger WHERE tgrelid = 'mn.parent_all'::regclass AND tgname LIKE 'lamin_move_log%' ORDER BY 1;

-- the trigger function refuses to be fired without transition tables where it needs them
CREATE TABLE mn.plain (id bigint PRIMARY KEY);
CREATE TRIGGER t AFTER DELETE ON mn.plain FOR EACH STATEMENT EXECUTE FUNCTION lamin._move_log_trigger();
INSERT INTO mn.plain VALUES (1);
DELETE FROM mn.plain;
DROP TABLE mn.plain;

SELECT lamin.disable('mn.parent');
SELECT lamin.disable('mn.item');
SELECT lamin.disable('mn.other');
DROP SCHEMA mn CASCADE;
TRUNCATE lamin.move_record;
