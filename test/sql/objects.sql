-- The branch domain, the branch and space catalogs, and the artifact table's shape.
SELECT 1::lamin.branch_id, (-1)::lamin.branch_id;
SELECT (-2)::lamin.branch_id;
SELECT id, uid, name, description, _status_code FROM lamin.branch ORDER BY id;
SELECT id, uid, name, description FROM lamin.space ORDER BY id;
-- names are unique case-insensitively; ids of new branches start at 2
INSERT INTO lamin.branch (name) VALUES ('Trash');
INSERT INTO lamin.branch (name, description) VALUES ('feature-x', 'a user branch') RETURNING id, name, length(uid);
INSERT INTO lamin.branch (name) VALUES ('FEATURE-X');
\set VERBOSITY terse
INSERT INTO lamin.branch (name, _status_code) VALUES ('bad', 7);
\set VERBOSITY default
SELECT lamin.find_branch('MAIN'), lamin.find_branch('archive'), lamin.find_branch('Feature-X');
-- rows users add are dumped by pg_dump, the seeded ones come with the extension
SELECT extconfig::regclass[], extcondition FROM pg_extension WHERE extname = 'lamin_branch';
-- the artifact columns, in the order LaminDB's table shows them
SELECT attnum, attname, format_type(atttypid, atttypmod), attnotnull
  FROM pg_attribute
 WHERE attrelid = 'lamin.artifact_all'::regclass AND attnum > 0 AND NOT attisdropped
 ORDER BY attnum;
-- (NOT NULL constraints, catalogued from PostgreSQL 18 on, are the columns' NOT NULL above)
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'lamin.artifact_all'::regclass AND contype <> 'n' ORDER BY conname;
SELECT indexrelid::regclass, pg_get_indexdef(indexrelid) FROM pg_index
 WHERE indrelid = 'lamin.artifact_all'::regclass ORDER BY 1;
DELETE FROM lamin.branch WHERE id > 1;
