-- The current branch: lamin_branch.current_branch (name or uid; unset is main), lamin.switch()
-- and lamin.current_branch(). Main views show main and the current branch; rows inserted
-- through them land on it; DELETE through them trashes as before; plans made before a switch
-- show the branch current when they run; an unknown branch is an error naming it; the archive
-- or the trash is current only for a role that may read that view.
\set SHOW_CONTEXT never
CREATE TABLE sw (id int PRIMARY KEY, body text);
SELECT relation FROM lamin.enable('sw');
SELECT setval('lamin.branch_id_seq', 100, false) IS NOT NULL AS ids_from_100;
INSERT INTO sw VALUES (1, 'main one'), (2, 'main two');
SELECT lamin.create_branch('feat') AS feat \gset
SELECT lamin.create_branch('other') AS other \gset
INSERT INTO sw_all (id, body, branch_id, created_on_id) VALUES (10, 'on feat', :feat, :feat), (20, 'on other', :other, :other);
SELECT lamin.current_branch(), current_setting('lamin_branch.current_branch') = '' AS unset;
SELECT id, body FROM sw ORDER BY id;
-- plans made now, while main is current: a prepared statement (generic plan) and a function
SET plan_cache_mode = force_generic_plan;
PREPARE sw_read AS SELECT array_agg(id ORDER BY id) FROM sw;
EXECUTE sw_read;
CREATE FUNCTION sw_ids() RETURNS int[] LANGUAGE plpgsql AS $$
BEGIN RETURN (SELECT array_agg(id ORDER BY id) FROM sw); END $$;
SELECT sw_ids();

-- switch: the main view shows main and feat, and the plans made before show it too
SELECT lamin.switch('Feat');
SELECT lamin.current_branch() = :feat AS on_feat, current_setting('lamin_branch.current_branch');
SELECT id, body, branch_id FROM sw ORDER BY id;
EXECUTE sw_read;
SELECT sw_ids();
-- inserted through the main view: on feat, created on feat
INSERT INTO sw (id, body) VALUES (11, 'new on feat');
SELECT id, branch_id = :feat AS on_feat, created_on_id = :feat AS created_on_feat FROM sw_all WHERE id = 11;
-- an explicit branch still wins
INSERT INTO sw (id, body, branch_id, created_on_id) VALUES (3, 'explicitly main', 1, 1);
-- DELETE through the main view trashes rows of either branch, as before
DELETE FROM sw WHERE id IN (2, 10);
SELECT id, branch_id FROM sw_all WHERE id IN (2, 10) ORDER BY id;
SELECT id, branch_id FROM sw ORDER BY id;
-- the archive and trash views are as they were
SELECT id FROM sw_trash ORDER BY id;

-- by uid, and with SET; SET LOCAL ends with the transaction
SELECT uid AS other_uid FROM lamin.branch WHERE name = 'other' \gset
SET lamin_branch.current_branch = :'other_uid';
SELECT lamin.current_branch() = :other AS on_other;
EXECUTE sw_read;
BEGIN;
SET LOCAL lamin_branch.current_branch = 'main';
EXECUTE sw_read;
COMMIT;
EXECUTE sw_read;
SELECT lamin.switch('main');
SELECT lamin.current_branch(), current_setting('lamin_branch.current_branch') = '' AS unset;
EXECUTE sw_read;
SELECT sw_ids();

-- an unknown branch: 42704, naming it, at the switch and wherever the setting is read
SELECT lamin.switch('nope');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.switch(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET lamin_branch.current_branch = 'nope';
SELECT id FROM sw;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
EXECUTE sw_read;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.current_branch();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO sw (id, body) VALUES (12, 'nowhere');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a renamed branch: the session looks the name up again (its cached plans too)
RESET lamin_branch.current_branch;
SELECT lamin.switch('other');
EXECUTE sw_read;
SELECT lamin.rename_branch('other', 'other2');
EXECUTE sw_read;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.switch('other2');
EXECUTE sw_read;
SELECT lamin.switch('main');

-- another role: it sees a user branch through the views it is granted, inserts there with
-- INSERT alone, and makes the archive or the trash current only where it may read that view
CREATE ROLE sw_reader;
GRANT SELECT, INSERT ON sw TO sw_reader;
SET ROLE sw_reader;
SELECT lamin.switch('feat');
SELECT array_agg(id ORDER BY id) FROM sw;
INSERT INTO sw (id, body) VALUES (13, 'by the reader');
SELECT lamin.switch('trash');
SELECT id FROM sw;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.switch('archive');
SELECT id FROM sw;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT SELECT ON sw_trash TO sw_reader;
SET ROLE sw_reader;
SELECT lamin.switch('trash');
SELECT array_agg(id ORDER BY id) FROM sw;
-- the owner's plan made with the trash current is checked again for whoever runs it
RESET ROLE;
PREPARE sw_trash_read AS SELECT array_agg(id ORDER BY id) FROM sw;
EXECUTE sw_trash_read;
REVOKE SELECT ON sw_trash FROM sw_reader;
SET ROLE sw_reader;
EXECUTE sw_trash_read;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lamin.switch('main');
RESET ROLE;
SELECT id, branch_id = :feat AS on_feat FROM sw_all WHERE id = 13;

-- a table with row-level security of its own has a main view with the caller's rights: the
-- branch policy lets the current branch through for the caller too, the table's policy still
-- applies
CREATE TABLE swr (id int PRIMARY KEY, owner_role name NOT NULL DEFAULT current_user);
ALTER TABLE swr ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON swr USING (owner_role = current_user);
GRANT SELECT, INSERT ON swr TO sw_reader;
SELECT relation FROM lamin.enable('swr');
INSERT INTO swr_all (id, owner_role) VALUES (1, 'sw_reader'), (2, 'postgres');
INSERT INTO swr_all (id, owner_role, branch_id, created_on_id) VALUES (3, 'sw_reader', :feat, :feat), (4, 'postgres', :feat, :feat);
SET ROLE sw_reader;
SELECT array_agg(id ORDER BY id) FROM swr;
SELECT lamin.switch('feat');
SELECT array_agg(id ORDER BY id) FROM swr;
INSERT INTO swr (id) VALUES (5);
SELECT array_agg(id ORDER BY id) FROM swr;
SELECT lamin.switch('main');
SELECT array_agg(id ORDER BY id) FROM swr;
RESET ROLE;
SELECT id, branch_id = :feat AS on_feat FROM swr_all WHERE id = 5;
SELECT lamin.disable('swr');
DROP TABLE swr;

-- what the plans look like: with main current the hand-written branch_id = 1, with a user
-- branch current the hand-written branch_id IN (1, x); both use the branch index where the
-- hand-written query does. Without the planner hook, the view's function is in the plan.
INSERT INTO sw_all (id, body) SELECT g, 'filler' FROM generate_series(100, 2099) g;
INSERT INTO sw_all (id, body, branch_id, created_on_id) SELECT g, 'filler', -1, 1 FROM generate_series(3000, 9999) g;
CREATE INDEX sw_branch ON sw_all (branch_id);
ANALYZE sw_all;
SET plan_cache_mode = auto;
EXPLAIN (COSTS OFF) SELECT count(*) FROM sw WHERE body = 'x';
EXPLAIN (COSTS OFF) SELECT count(*) FROM sw_all WHERE branch_id = 1 AND body = 'x';
EXPLAIN (COSTS OFF) SELECT body FROM sw WHERE id = 5;
EXPLAIN (COSTS OFF) SELECT body FROM sw_all WHERE branch_id = 1 AND id = 5;
SELECT lamin.switch('feat');
SELECT format('EXPLAIN (COSTS OFF) SELECT count(*) FROM sw_all WHERE branch_id IN (1, %s) AND body = ''x''', :feat) AS hand \gset
EXPLAIN (COSTS OFF) SELECT count(*) FROM sw WHERE body = 'x';
:hand;
SET lamin_branch.flatten_views = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM sw WHERE body = 'x';
SELECT count(*) FROM sw;
RESET lamin_branch.flatten_views;
SELECT count(*) FROM sw;
SELECT lamin.switch('main');

DEALLOCATE ALL;
DROP FUNCTION sw_ids();
SELECT lamin.disable('sw');
DROP TABLE sw;
DROP ROLE sw_reader;
DELETE FROM lamin.branch WHERE id >= 100;
