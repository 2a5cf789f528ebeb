-- Unique keys and the trash: unique_among_visible => true lets a key be used again once its row
-- is in the trash; a restore whose key is taken meanwhile fails naming both rows.
\set SHOW_CONTEXT never
CREATE SCHEMA uq;
CREATE TABLE uq.project (id int PRIMARY KEY, name text NOT NULL CONSTRAINT project_name_key UNIQUE,
                         code text, team text, CONSTRAINT project_code_team_key UNIQUE (code, team));
INSERT INTO uq.project VALUES (1, 'alpha', 'A', 't1'), (2, 'beta', 'B', 't1');
-- without it, a trashed row keeps its key
CREATE TABLE uq.plain (id int PRIMARY KEY, name text UNIQUE);
INSERT INTO uq.plain VALUES (1, 'x');
SELECT relation FROM lamin.enable('uq.plain');
SELECT action FROM lamin.delete('uq.plain', 1);
INSERT INTO uq.plain VALUES (2, 'x');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

SELECT relation FROM lamin.enable('uq.project', unique_among_visible => true);
SELECT relation::text, index::text, constraint_name, definition FROM lamin.visible_unique ORDER BY 2;
SELECT indexrelid::regclass, pg_get_indexdef(indexrelid) FROM pg_index
 WHERE indrelid = 'uq.project_all'::regclass AND NOT indisprimary ORDER BY 1::text;
-- visible rows still may not share a key
INSERT INTO uq.project VALUES (3, 'alpha', 'C', 't1');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- once alpha is in the trash, its name can be used again
SELECT action FROM lamin.delete('uq.project', 1);
INSERT INTO uq.project VALUES (3, 'alpha', 'A', 't1');
-- ... and the trashed alpha cannot come back over it: the error names both rows
SELECT action FROM lamin.restore('uq.project', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM lamin.restore_many('uq.project', ARRAY[1]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE uq.project_all SET branch_id = 1 WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- restored under another key, it comes back
UPDATE uq.project_trash SET name = 'alpha (old)', code = 'Z' WHERE id = 1;
SELECT action FROM lamin.restore('uq.project', 1);
SELECT id, name, code, branch_id FROM uq.project_all ORDER BY id;
-- a trashed row whose key is free comes back as before
SELECT action FROM lamin.delete('uq.project', 2);
SELECT action FROM lamin.restore('uq.project', 2);

-- disable puts the constraints back ...
SELECT lamin.disable('uq.project');
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'uq.project'::regclass AND contype = 'u' ORDER BY 1;
SELECT count(*) FROM lamin.visible_unique;
-- ... unless the trash and the visible rows share a key
SELECT relation FROM lamin.enable('uq.project', unique_among_visible => true);
SELECT action FROM lamin.delete('uq.project', 3);
INSERT INTO uq.project VALUES (4, 'alpha', 'A', 't1');
SELECT lamin.disable('uq.project');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT action FROM lamin.delete('uq.project', 3, permanent => true);
SELECT lamin.disable('uq.project');

-- a unique constraint a foreign key depends on cannot become partial
CREATE TABLE uq.team (id int PRIMARY KEY, slug text UNIQUE);
CREATE TABLE uq.member (id int PRIMARY KEY, team_slug text REFERENCES uq.team (slug));
SELECT relation FROM lamin.enable('uq.team', unique_among_visible => true);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM lamin.enabled_table WHERE relation::text LIKE 'uq.team%';

SELECT lamin.disable('uq.plain');
DROP SCHEMA uq CASCADE;
TRUNCATE lamin.move_record;
