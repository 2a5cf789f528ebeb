-- Spaces: lamin.enable(..., spaces => true) shows each role the rows of the spaces it may read,
-- through every view, and lets it change the rows of the spaces it may write.
\set SHOW_CONTEXT never
CREATE SCHEMA sp;
CREATE TABLE sp.doc (id int PRIMARY KEY, body text, space_id smallint NOT NULL DEFAULT 1 REFERENCES lamin.space (id));
INSERT INTO lamin.space (id, uid, name) OVERRIDING SYSTEM VALUE VALUES (2, 'bbbbbbbbbbbb', 'lab'), (3, 'cccccccccccc', 'secret');
INSERT INTO sp.doc VALUES (1, 'public', 1), (2, 'lab doc', 2), (3, 'secret doc', 3), (4, 'lab 2', 2);
SELECT relation, spaces FROM lamin.enable('sp.doc', spaces => true);
SELECT polname, polpermissive, polcmd FROM pg_policy WHERE polrelid = 'sp.doc_all'::regclass ORDER BY 1;
CREATE ROLE regress_lab_reader NOLOGIN;
CREATE ROLE regress_lab_writer NOLOGIN;
CREATE ROLE regress_lab_admin NOLOGIN;
GRANT USAGE ON SCHEMA sp TO regress_lab_reader, regress_lab_writer, regress_lab_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON sp.doc TO regress_lab_reader, regress_lab_writer;
GRANT SELECT ON sp.doc_trash TO regress_lab_reader, regress_lab_writer;
GRANT EXECUTE ON FUNCTION lamin.delete(regclass, anyelement, boolean) TO regress_lab_reader;
INSERT INTO lamin.space_access VALUES (2, 'regress_lab_reader', 'read'), (2, 'regress_lab_writer', 'write'),
                                      (2, 'regress_lab_admin', 'admin');
SELECT lamin.readable_spaces('regress_lab_reader'), lamin.writable_spaces('regress_lab_reader'),
       lamin.writable_spaces('regress_lab_writer');

SET ROLE regress_lab_reader;
SELECT * FROM sp.doc ORDER BY id;
UPDATE sp.doc SET body = 'x' WHERE id = 2;
DELETE FROM sp.doc WHERE id = 2;
SELECT lamin.delete('sp.doc', 2);
INSERT INTO sp.doc VALUES (9, 'mine', 2);
RESET ROLE;

SET ROLE regress_lab_writer;
SELECT * FROM sp.doc ORDER BY id;
UPDATE sp.doc SET body = 'lab doc, edited' WHERE id = 2;
DELETE FROM sp.doc WHERE id = 4;
INSERT INTO sp.doc VALUES (5, 'into secret', 3);
INSERT INTO sp.doc VALUES (5, 'into lab', 2);
UPDATE sp.doc SET space_id = 3 WHERE id = 5;
RESET ROLE;

-- the trash view, which runs with its owner's rights, filters spaces for whoever queries it
UPDATE sp.doc_all SET branch_id = -1 WHERE id = 3;
SELECT id, branch_id, space_id FROM sp.doc_all ORDER BY id;
SET ROLE regress_lab_reader;
SELECT id, body FROM sp.doc_trash ORDER BY id;
RESET ROLE;

-- space admins manage access to their space, and only theirs
SET ROLE regress_lab_admin;
INSERT INTO lamin.space_access VALUES (2, 'regress_lab_reader', 'write')
    ON CONFLICT (space_id, role) DO UPDATE SET access = excluded.access;
INSERT INTO lamin.space_access VALUES (3, 'regress_lab_admin', 'read');
RESET ROLE;
SELECT space_id, role, access FROM lamin.space_access ORDER BY 1, 2;
SELECT lamin.disable('sp.doc');
SELECT polname FROM pg_policy WHERE polrelid = 'sp.doc'::regclass;
DROP SCHEMA sp CASCADE;
DELETE FROM lamin.space_access;
DELETE FROM lamin.space WHERE id > 1;
REVOKE ALL ON FUNCTION lamin.delete(regclass, anyelement, boolean) FROM regress_lab_reader;
DROP ROLE regress_lab_reader;
DROP ROLE regress_lab_writer;
DROP ROLE regress_lab_admin;
