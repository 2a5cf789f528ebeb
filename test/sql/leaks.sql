-- A role that may use the views never sees a hidden row: not through a cheap leaky function,
-- not through the base table, not through a view it was not granted.
INSERT INTO lamin.artifact_all (id, uid, key, description, branch_id) OVERRIDING SYSTEM VALUE VALUES
    (1, 'leakMAINAAAAAAAA0000', 'main-row', 'visible', 1),
    (2, 'leakARCHAAAAAAAA0000', 'archive-row', 'secret-archive', 0),
    (3, 'leakTRSHAAAAAAAA0000', 'trash-row', 'secret-trash', -1);
CREATE ROLE regress_lamin_reader NOLOGIN;
CREATE ROLE regress_lamin_trash NOLOGIN;
GRANT USAGE ON SCHEMA lamin TO regress_lamin_reader, regress_lamin_trash;
-- the reader has the main view, not the table under it
GRANT SELECT ON lamin.artifact TO regress_lamin_reader;
GRANT SELECT, DELETE ON lamin.artifact_trash TO regress_lamin_trash;
GRANT SELECT ON lamin.artifact_archive TO regress_lamin_trash;
-- a leaky function the planner thinks is nearly free
CREATE FUNCTION public.leak(text) RETURNS boolean
LANGUAGE plpgsql COST 0.0000001 AS $$ BEGIN RAISE NOTICE 'leak saw: %', $1; RETURN true; END $$;
SET ROLE regress_lamin_reader;
SELECT key FROM lamin.artifact WHERE public.leak(description);
SELECT key FROM lamin.artifact_all WHERE public.leak(description);
SELECT key FROM lamin.artifact_all WHERE branch_id = -1;
-- error oracles: a division that fails on a hidden value never runs on it
SELECT key FROM lamin.artifact WHERE 1 / (CASE WHEN description = 'secret-trash' THEN 0 ELSE 1 END) = 1;
-- the view's condition comes first, before the leaky one
EXPLAIN (COSTS OFF) SELECT key FROM lamin.artifact WHERE public.leak(description);
SELECT key FROM lamin.artifact_trash;
SELECT key FROM lamin.artifact_archive;
-- the reader cannot move rows out of main by writing the table
UPDATE lamin.artifact_all SET branch_id = -1 WHERE id = 1;
SELECT lamin.artifact_delete(1);
RESET ROLE;
SET ROLE regress_lamin_trash;
SELECT key FROM lamin.artifact_trash WHERE public.leak(description);
SELECT key FROM lamin.artifact_archive WHERE public.leak(description);
SELECT key FROM lamin.artifact;
SELECT key FROM lamin.artifact_all;
-- a trash administrator purges through the trash view
DELETE FROM lamin.artifact_trash WHERE id = 3;
RESET ROLE;
SELECT id, branch_id FROM lamin.artifact_all ORDER BY id;
DROP FUNCTION public.leak(text);
REVOKE ALL ON lamin.artifact_all, lamin.artifact, lamin.artifact_trash, lamin.artifact_archive
  FROM regress_lamin_reader, regress_lamin_trash;
REVOKE USAGE ON SCHEMA lamin FROM regress_lamin_reader, regress_lamin_trash;
DROP ROLE regress_lamin_reader;
DROP ROLE regress_lamin_trash;
TRUNCATE lamin.artifact_all;
