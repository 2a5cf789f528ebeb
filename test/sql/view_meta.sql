-- What a branch view tells those who read it (psql's \d+, ORMs generating models): its table's
-- column defaults and comments, and a comment naming the table, the branch shown and the key;
-- kept in step when the table changes.
\set SHOW_CONTEXT never
CREATE SCHEMA meta;
CREATE SEQUENCE meta.doc_n_seq;
CREATE TABLE meta.doc (
    lab     text NOT NULL,
    n       integer NOT NULL DEFAULT nextval('meta.doc_n_seq'),
    title   text NOT NULL DEFAULT 'untitled',
    created timestamptz NOT NULL DEFAULT now(),
    words   integer GENERATED ALWAYS AS (length(title)) STORED,
    PRIMARY KEY (lab, n)
);
COMMENT ON COLUMN meta.doc.title IS 'the title shown to users';
SELECT mode FROM lamin.enable('meta.doc');

-- each view: its comment; each column: its default and comment (the generated column has none)
CREATE FUNCTION pg_temp.meta(v regclass) RETURNS TABLE (col name, def text, descr text)
LANGUAGE sql AS $$
    SELECT a.attname, pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum)
      FROM pg_attribute a LEFT JOIN pg_attrdef d ON (d.adrelid, d.adnum) = (a.attrelid, a.attnum)
     WHERE a.attrelid = v AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
$$;
SELECT v, obj_description(v, 'pg_class') FROM unnest(ARRAY['meta.doc'::regclass, 'meta.doc_archive', 'meta.doc_trash']) v;
SELECT * FROM pg_temp.meta('meta.doc');
SELECT * FROM pg_temp.meta('meta.doc_trash');
\d+ meta.doc

-- INSERT through the view fills the defaults in as the table would
INSERT INTO meta.doc (lab) VALUES ('x') RETURNING lab, n, title, words, branch_id, created_on_id;

-- changes to the table's defaults and comments reach the views (here on the table itself, which
-- needs no preloaded module: the event trigger does it)
ALTER TABLE meta.doc_all ALTER COLUMN title SET DEFAULT 'draft', ALTER COLUMN created DROP DEFAULT;
COMMENT ON COLUMN meta.doc_all.lab IS 'the lab that owns it';
COMMENT ON COLUMN meta.doc_all.title IS NULL;
SELECT * FROM pg_temp.meta('meta.doc');
SELECT * FROM pg_temp.meta('meta.doc_archive');
-- through the view's name, with the module preloaded
ALTER TABLE meta.doc ALTER COLUMN created SET DEFAULT now();
ALTER TABLE meta.doc ADD COLUMN pages integer DEFAULT 1;
COMMENT ON COLUMN meta.doc.pages IS 'how long';
SELECT * FROM pg_temp.meta('meta.doc') WHERE col IN ('created', 'pages');
SELECT * FROM pg_temp.meta('meta.doc_trash') WHERE col IN ('created', 'pages');
-- a refresh makes them as enable() does
SELECT lamin.refresh_views('meta.doc');
SELECT * FROM pg_temp.meta('meta.doc') WHERE col IN ('lab', 'title', 'pages');

-- views mode, and a single-column key
CREATE SCHEMA meta_views;
CREATE TABLE meta.note (id serial PRIMARY KEY, body text DEFAULT '');
SELECT mode FROM lamin.enable('meta.note', views_schema => 'meta_views');
SELECT v, obj_description(v, 'pg_class') FROM unnest(ARRAY['meta_views.note'::regclass, 'meta_views.note_archive', 'meta_views.note_trash']) v;
SELECT * FROM pg_temp.meta('meta_views.note');

-- the artifact views, too
SELECT obj_description('lamin.artifact'::regclass, 'pg_class');
SELECT col, def FROM pg_temp.meta('lamin.artifact') WHERE def IS NOT NULL;

DROP FUNCTION pg_temp.meta(regclass);
DROP SCHEMA meta, meta_views CASCADE;
