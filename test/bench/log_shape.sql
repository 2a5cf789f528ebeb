-- What the shape of the move log costs a 30 000-row move: a record per moved row (heap row,
-- (relation, key, id) and operation indexes: the log's first shape, still lamin.move_log's
-- columns) against one record per statement holding the keys as an array with a GIN index on
-- them (lamin.move_record's shape). Not part of bench.sh; a measurement
-- for the design of the log. Run in a database with the extension:
--   psql -X -f test/bench/log_shape.sql
-- Both tables first get 800 000 moves of history (random keys), so index inserts land where a
-- log in use puts them. Each write runs twice, rolled back.
\timing on
CREATE TEMP TABLE shape_rows (LIKE lamin.move_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE INDEX ON shape_rows (relation, key, id);
CREATE INDEX ON shape_rows (operation) WHERE to_branch <= 0;
CREATE TEMP TABLE shape_statements (id bigserial, relation regclass, keys text[], from_branch int,
                                    to_branch int, role regrole, at timestamptz DEFAULT now(),
                                    txid bigint, operation bigint);
CREATE INDEX ON shape_statements USING gin (keys);
CREATE INDEX ON shape_statements (relation, operation);
\timing off
INSERT INTO shape_rows (relation, key, from_branch, to_branch, role, operation)
  SELECT 'lamin.artifact_all'::regclass, (random() * 1000000)::int::text, 1, -1, 10, i / 10
    FROM generate_series(1, 800000) i;
INSERT INTO shape_statements (relation, keys, from_branch, to_branch, operation)
  SELECT 'lamin.artifact_all'::regclass,
         ARRAY(SELECT (random() * 1000000)::int::text FROM generate_series(1, 10)), 1, -1, i
    FROM generate_series(1, 80000) i;
VACUUM ANALYZE shape_rows;
VACUUM ANALYZE shape_statements;
\timing on
\echo a record per row: 30 000 records
BEGIN;
INSERT INTO shape_rows (relation, key, from_branch, to_branch, role, operation)
  SELECT 'lamin.artifact_all'::regclass, i::text, 1, -1, 10, 999999 FROM generate_series(1, 60000, 2) i;
ROLLBACK;
BEGIN;
INSERT INTO shape_rows (relation, key, from_branch, to_branch, role, operation)
  SELECT 'lamin.artifact_all'::regclass, i::text, 1, -1, 10, 999999 FROM generate_series(1, 60000, 2) i;
ROLLBACK;
\echo a record per statement: one record of 30 000 keys
BEGIN;
INSERT INTO shape_statements (relation, keys, from_branch, to_branch, operation)
  SELECT 'lamin.artifact_all'::regclass, array_agg(i::text), 1, -1, 999999 FROM generate_series(1, 60000, 2) i;
ROLLBACK;
BEGIN;
INSERT INTO shape_statements (relation, keys, from_branch, to_branch, operation)
  SELECT 'lamin.artifact_all'::regclass, array_agg(i::text), 1, -1, 999999 FROM generate_series(1, 60000, 2) i;
ROLLBACK;
\echo the records of one key, each way
SELECT count(*) FROM shape_rows WHERE relation = 'lamin.artifact_all'::regclass AND key = '4242';
SELECT count(*) FROM shape_statements WHERE keys @> ARRAY['4242'] AND relation = 'lamin.artifact_all'::regclass;
