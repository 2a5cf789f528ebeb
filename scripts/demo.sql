-- The LaminDB FAQ "How do I trash or archive records?", in SQL, for any client.
\set ECHO queries
\pset footer off
\echo
\echo '== An artifact is created on the main branch and is visible by default.'
INSERT INTO lamin.artifact (uid, key, suffix, kind, otype, size, hash, n_observations)
VALUES ('zpLVOyH9ACO9t7MM0000', 'dataset.parquet', '.parquet', 'dataset', 'DataFrame', 2114,
        '2VmqQBSmMtsP5DmA2rhT2w', 2)
RETURNING id, uid, key, branch_id, is_latest;
SELECT a.uid, b.name AS branch FROM lamin.artifact_all a JOIN lamin.branch b ON b.id = a.branch_id;
\echo
\echo '== Deleting it moves it to the trash.'
SELECT * FROM lamin.artifact_delete(1);
\echo
\echo '== A default query no longer sees it ...'
SELECT uid, id, key, suffix, kind, otype, size, hash, n_observations, is_latest, branch_id
  FROM lamin.artifact WHERE key = 'dataset.parquet';
\echo '== ... the trash does.'
SELECT uid, id, key, suffix, kind, otype, size, hash, n_observations, is_latest, branch_id
  FROM lamin.artifact_trash WHERE key = 'dataset.parquet';
\echo
\echo '== Restoring brings it back to main.'
SELECT * FROM lamin.artifact_restore(1);
SELECT uid, id, key, suffix, kind, otype, size, hash, n_observations, is_latest, branch_id
  FROM lamin.artifact WHERE key = 'dataset.parquet';
\echo
\echo '== Every client gets the same rules: a plain DELETE through the view moves to trash.'
DELETE FROM lamin.artifact WHERE key = 'dataset.parquet';
SELECT id, uid, branch_id FROM lamin.artifact_all;
\echo
\echo '== Deleting from the trash is for good; the function asks for permanent => true.'
\set ON_ERROR_STOP off
SELECT * FROM lamin.artifact_delete(1);
\set ON_ERROR_STOP on
SELECT * FROM lamin.artifact_restore(1);
\echo
\echo '== Versions: a new version becomes the head; trashing the head promotes the previous one.'
INSERT INTO lamin.artifact (uid, key, suffix, size, hash)
VALUES ('zpLVOyH9ACO9t7MM0001', 'dataset.parquet', '.parquet', 2300, 'Xb2q7y9Qb5ZlCk6bWcIMwg');
SELECT uid, version, is_latest, branch_id FROM lamin.artifact_all ORDER BY uid;
SELECT * FROM lamin.artifact_delete(2);
SELECT uid, is_latest, branch_id FROM lamin.artifact_all ORDER BY uid;
\echo '== Restoring the newer version makes it head again.'
SELECT * FROM lamin.artifact_restore(2);
SELECT uid, is_latest, branch_id FROM lamin.artifact_all ORDER BY uid;
\echo
\echo '== The archive: hidden from default queries, separate from the trash.'
SELECT * FROM lamin.artifact_archive(1);
SELECT 'main' AS view, count(*) FROM lamin.artifact
UNION ALL SELECT 'archive', count(*) FROM lamin.artifact_archive
UNION ALL SELECT 'trash', count(*) FROM lamin.artifact_trash;
\echo
\echo '== Branches'
SELECT id, uid, name, description FROM lamin.branch ORDER BY id;
\echo
\echo '== Any existing table gets the same rules with lamin.enable(); its SQL keeps working.'
CREATE TABLE public.task (id int PRIMARY KEY, title text NOT NULL);
INSERT INTO task VALUES (1, 'write the report'), (2, 'review the data');
SELECT relation, mode, main_view, trash_view FROM lamin.enable('task');
DELETE FROM task WHERE id = 1;
SELECT * FROM task;
SELECT id, title, branch_id FROM task_trash;
SELECT relation, key, action FROM lamin.restore('task', 1);
SELECT * FROM task ORDER BY id;
