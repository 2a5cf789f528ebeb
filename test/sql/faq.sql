-- LaminDB's FAQ "How do I trash or archive records?", step by step, in SQL.
-- An artifact is by default created on the main branch and then visible.
INSERT INTO lamin.artifact (uid, key, suffix, kind, otype, size, hash, n_observations,
                            created_at, storage_id, created_by_id)
VALUES ('zpLVOyH9ACO9t7MM0000', 'dataset.parquet', '.parquet', 'dataset', 'DataFrame', 2114,
        '2VmqQBSmMtsP5DmA2rhT2w', 2, '2025-11-14 00:17:42.777+00', 1, 1)
RETURNING id;
-- assert artifact.branch.name == "main"
SELECT b.name FROM lamin.artifact_all a JOIN lamin.branch b ON b.id = a.branch_id
 WHERE a.uid = 'zpLVOyH9ACO9t7MM0000';
-- If you delete an artifact, it gets moved into the trash branch.
SELECT * FROM lamin.artifact_delete(1);
-- assert artifact.branch.name == "trash"
SELECT b.name FROM lamin.artifact_all a JOIN lamin.branch b ON b.id = a.branch_id
 WHERE a.uid = 'zpLVOyH9ACO9t7MM0000';
-- Artifacts in trash won't show via default queries.
SELECT uid, id, key, description, suffix, kind, otype, size, hash, n_files, n_observations,
       version, is_latest, is_locked, created_at, branch_id, space_id, storage_id, run_id,
       schema_id, created_by_id
  FROM lamin.artifact WHERE key = 'dataset.parquet';
-- You can query for them by adding the trash branch to the filter.
SELECT uid, id, key, description, suffix, kind, otype, size, hash, n_files, n_observations,
       version, is_latest, is_locked, created_at, branch_id, space_id, storage_id, run_id,
       schema_id, created_by_id
  FROM lamin.artifact_trash WHERE key = 'dataset.parquet';
-- the same, with the branch named as LaminDB's branch__name filter does
SELECT a.uid, a.branch_id FROM lamin.artifact_all a JOIN lamin.branch b ON b.id = a.branch_id
 WHERE a.key = 'dataset.parquet' AND b.name = 'trash';
-- You can restore an artifact from trash.
SELECT * FROM lamin.artifact_restore(1);
-- assert artifact.branch.name == "main"
SELECT b.name FROM lamin.artifact_all a JOIN lamin.branch b ON b.id = a.branch_id
 WHERE a.uid = 'zpLVOyH9ACO9t7MM0000';
SELECT uid, id, key, description, suffix, kind, otype, size, hash, n_files, n_observations,
       version, is_latest, is_locked, created_at, branch_id, space_id, storage_id, run_id,
       schema_id, created_by_id
  FROM lamin.artifact WHERE key = 'dataset.parquet';
-- Deleting it twice removes it for good; SQL cannot ask, so the second delete says how.
SELECT * FROM lamin.artifact_delete(1);
SELECT * FROM lamin.artifact_delete(1);
SELECT * FROM lamin.artifact_delete(1, permanent => true);
SELECT count(*) FROM lamin.artifact_all;
