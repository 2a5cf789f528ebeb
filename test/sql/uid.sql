-- uids: a random base62 stem of 16 characters plus the version suffix 0000.
SELECT length(lamin.random_base62(16)), lamin.random_base62(40) ~ '^[0-9A-Za-z]{40}$';
SELECT lamin.random_base62(0);
SELECT lamin.random_base62(1025);
SELECT lamin.random_base62(NULL) IS NULL AS null_in_null_out;
-- 10 000 stems are distinct and use the whole alphabet
SELECT count(DISTINCT s) AS distinct_stems, count(DISTINCT c) AS characters_used
  FROM (SELECT lamin.random_base62(16) AS s FROM generate_series(1, 10000)) x,
       LATERAL regexp_split_to_table(s, '') AS c;
-- no character is far more frequent than another (100 000 draws, about 1600 each)
SELECT max(n)::float / min(n) < 1.25 AS uniform
  FROM (SELECT c, count(*) AS n
          FROM (SELECT lamin.random_base62(1000) AS s FROM generate_series(1, 100)) x,
               LATERAL regexp_split_to_table(s, '') AS c
         GROUP BY c) y;
-- the default uid of an artifact
INSERT INTO lamin.artifact (key) VALUES ('uid-default.txt') RETURNING uid ~ '^[0-9A-Za-z]{16}0000$' AS lamin_uid;
\set VERBOSITY terse
INSERT INTO lamin.artifact (uid, key) VALUES ('short', 'x');
\set VERBOSITY default
TRUNCATE lamin.artifact_all;
