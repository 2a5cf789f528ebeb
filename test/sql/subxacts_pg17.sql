-- PostgreSQL 16 and later (pg_stat_get_backend_subxact): a bulk move runs its one-statement
-- fast path in a subtransaction, which keeps its transaction id until the transaction ends. A
-- loop of bulk moves in one transaction must not overflow the transaction's cache of
-- subtransaction ids (64): past half of it the moves go the locking way, with no
-- subtransaction, and still move every row.
CREATE SCHEMA sx;
CREATE TABLE sx.item (id int PRIMARY KEY, label text);
INSERT INTO sx.item SELECT i, 'i' || i FROM generate_series(1, 200) i;
SELECT relation FROM lamin.enable('sx.item');
CREATE FUNCTION sx.my_subxacts(OUT subxact_count integer, OUT subxact_overflowed boolean)
LANGUAGE sql AS $$
    SELECT s.subxact_count, s.subxact_overflowed
      FROM pg_stat_get_backend_idset() b, pg_stat_get_backend_subxact(b) s
     WHERE pg_stat_get_backend_pid(b) = pg_backend_pid()
$$;

BEGIN;
-- 100 bulk moves, each of two rows, in one transaction
DO $$
BEGIN
    FOR i IN 1..100 LOOP
        PERFORM lamin.delete_many('sx.item', ARRAY[2 * i - 1, 2 * i]);
    END LOOP;
END $$;
SELECT count(*) FILTER (WHERE branch_id = -1) AS trashed, count(*) FILTER (WHERE branch_id = 1) AS main
  FROM sx.item_all;
-- at most half the cache is used, and it never overflowed
SELECT subxact_count BETWEEN 1 AND 32 AS some_used, subxact_overflowed FROM sx.my_subxacts();
-- restoring them all, one call, and a hundred calls more: still no overflow
SELECT count(*) FROM lamin.restore_many('sx.item', ARRAY(SELECT generate_series(1, 200)));
DO $$
BEGIN
    FOR i IN 1..100 LOOP
        PERFORM lamin.delete_many('sx.item', ARRAY[2 * i - 1, 2 * i]);
    END LOOP;
END $$;
SELECT count(*) FILTER (WHERE branch_id = -1) AS trashed FROM sx.item_all;
SELECT subxact_count <= 32 AS at_most_half, subxact_overflowed FROM sx.my_subxacts();
ROLLBACK;

SELECT lamin.disable('sx.item');
DROP SCHEMA sx CASCADE;
