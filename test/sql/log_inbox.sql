-- lamin_branch.log_inbox: moves write their records to lamin.move_inbox (a heap row, no index
-- entries); every reader of the log sees them there until lamin.merge_log() moves them into
-- lamin.move_record, ids and all.
\set SHOW_CONTEXT never
TRUNCATE lamin.move_record;
CREATE SCHEMA lx;
CREATE TABLE lx.project (id int PRIMARY KEY, name text);
CREATE TABLE lx.sample (id int PRIMARY KEY, project_id int REFERENCES lx.project, name text);
INSERT INTO lx.project VALUES (1, 'p1'), (2, 'p2');
INSERT INTO lx.sample SELECT i, CASE WHEN i <= 3 THEN 1 ELSE 2 END, 's' || i FROM generate_series(1, 6) i;
SELECT relation FROM lamin.enable('lx.project', cascade => true);
SELECT relation FROM lamin.enable('lx.sample');
CREATE ROLE regress_lx_app NOLOGIN;
CREATE VIEW lx.where_records AS
    SELECT (SELECT count(*) FROM ONLY lamin.move_record) AS merged,
           (SELECT count(*) FROM lamin.move_inbox) AS inbox;

-- auto (the default) writes the inbox only where the module's merger serves the database; the
-- test server runs without it (lamin_branch.merge_naptime = 0, test/preload.conf; the merger has
-- a test of its own, test/tap/004_merger.pl), so records go straight into the indexed log
SHOW lamin_branch.log_inbox;
SHOW lamin_branch.merge_naptime;
SELECT action FROM lamin.delete('lx.sample', 6);
SELECT * FROM lx.where_records;
-- not a value
SET lamin_branch.log_inbox = sometimes;
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- on: the moving statement writes the inbox only
SET lamin_branch.log_inbox = on;
SELECT action FROM lamin.delete('lx.sample', 5);
DELETE FROM lx.sample WHERE id = 4;
SELECT count(*) FROM lamin.delete_many('lx.sample', ARRAY[1]);
-- a cascade: the project takes samples 2 and 3 along, in its operation
SELECT action FROM lamin.delete('lx.project', 1);
-- a move rolled back leaves no record in either table
BEGIN;
SELECT action FROM lamin.delete('lx.project', 2);
ROLLBACK;
SELECT * FROM lx.where_records;

-- every reader sees the inbox's records as if they were merged: the log, the trash, the look-ups
SELECT regexp_replace(relation::text, '^lx\.(.*)_all$', '\1') AS tbl, key, from_branch, to_branch,
       dense_rank() OVER (ORDER BY operation) AS op
  FROM lamin.move_log ORDER BY id, key;
SELECT regexp_replace(relation::text, '^lx\.(.*)_all$', '\1') AS tbl, key, operation_rows
  FROM lamin.trash ORDER BY 1, 2;
SELECT key, to_branch FROM lamin._moves_of('lx.sample_all', ARRAY['2', '5'], true) ORDER BY key;
SELECT "table", rows, oldest IS NOT NULL AS has_oldest FROM lamin.trash_summary ORDER BY 1;

-- a restore whose operation's records are still in the inbox brings back exactly that operation
SELECT action FROM lamin.restore('lx.project', 1);
SELECT id, branch_id FROM lx.sample_all ORDER BY id;

-- retention reads the inbox's move times: nothing was trashed a day ago; then sample 4's record
-- is three days old (an UPDATE of lamin.move_record reaches the inbox too), and it goes
CALL lamin.empty_trash('1 day', 'lx.sample', dry_run => false);
UPDATE lamin.move_record SET at = at - interval '3 days'
 WHERE relation = 'lx.sample_all'::regclass AND keys = ARRAY['4'];
CALL lamin.empty_trash('1 day', 'lx.sample', dry_run => false);
SELECT id FROM lx.sample_trash ORDER BY id;
SELECT key, to_branch, row_data IS NOT NULL AS has_row FROM lamin.move_log
 WHERE relation = 'lx.sample_all'::regclass AND to_branch IS NULL;

-- merging: the records move, ids unchanged, and the log reads the same
CREATE TEMP TABLE before_merge AS SELECT * FROM lamin.move_log;
SELECT lamin.merge_log() AS merged_now;
SELECT * FROM lx.where_records;
SELECT count(*) AS differ FROM (
    (SELECT * FROM lamin.move_log EXCEPT ALL SELECT * FROM before_merge)
    UNION ALL
    (SELECT * FROM before_merge EXCEPT ALL SELECT * FROM lamin.move_log)) d;
-- nothing left to merge
SELECT lamin.merge_log() AS merged_again;

-- merging is a right the log's owner gives: not PUBLIC's
SET ROLE regress_lx_app;
SELECT lamin.merge_log();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;

-- the default again: straight into the log here
RESET lamin_branch.log_inbox;
SELECT action FROM lamin.restore('lx.sample', 5);
SELECT * FROM lx.where_records;
-- off: straight into the log, merger or not
SET lamin_branch.log_inbox = off;
SELECT action FROM lamin.delete('lx.sample', 5);
SELECT * FROM lx.where_records;
RESET lamin_branch.log_inbox;

DROP VIEW lx.where_records;
SELECT lamin.disable('lx.sample');
SELECT lamin.disable('lx.project');
DROP SCHEMA lx CASCADE;
DROP ROLE regress_lx_app;
TRUNCATE lamin.move_record;
