-- rows of q with the hook on and off; 'same' and the row count, or both results when they differ
CREATE FUNCTION pg_temp.same(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r_on text;
    r_off text;
    n bigint;
BEGIN
    PERFORM set_config('lamin_branch.flatten_views', 'on', true);
    EXECUTE format('SELECT count(*), coalesce(string_agg(x::text, %L ORDER BY x::text), %L) FROM (%s) x', '|', '', q)
       INTO n, r_on;
    PERFORM set_config('lamin_branch.flatten_views', 'off', true);
    EXECUTE format('SELECT coalesce(string_agg(x::text, %L ORDER BY x::text), %L) FROM (%s) x', '|', '', q)
       INTO r_off;
    PERFORM set_config('lamin_branch.flatten_views', 'on', true);
    RETURN CASE WHEN r_on = r_off THEN 'same, ' || n || ' rows' ELSE 'DIFFERENT: ' || r_on || ' / ' || r_off END;
END
$$;
