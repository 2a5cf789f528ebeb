# Without lamin_branch in shared_preload_libraries, DDL aimed at the main view of a table enabled
# in rename mode is not sent to the table: each statement the hook would redirect fails with an
# error whose hint names the _all table, and nothing changes. DDL on the table itself still
# updates the views (an event trigger). Without the module's merger, the move log is written
# directly.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('no_preload');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION lamin_branch;
    CREATE SCHEMA app;
    CREATE TABLE app.task (id int PRIMARY KEY, title text);
    SELECT lamin.enable('app.task');
    INSERT INTO app.task VALUES (1, 'one');
});

my $columns = q{SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
                WHERE attrelid = 'app.task_all'::regclass AND attnum > 0 AND NOT attisdropped};
my $before = $node->safe_psql('postgres', $columns);

for my $sql ('ALTER TABLE app.task ADD COLUMN prio int',
             'ALTER TABLE app.task ALTER COLUMN title TYPE varchar(200)',
             'ALTER TABLE app.task ALTER COLUMN title SET DEFAULT \'x\'',
             'ALTER TABLE app.task RENAME COLUMN title TO name',
             'CREATE INDEX ON app.task (title)',
             'CREATE TABLE app.comment (id int PRIMARY KEY, task_id int REFERENCES app.task (id))',
             'COMMENT ON COLUMN app.task.title IS \'t\'')
{
    my ($rc, $out, $err) = $node->psql('postgres', "SET client_min_messages = warning; $sql",
                                       extra_params => ['-v', 'VERBOSITY=verbose']);
    isnt($rc, 0, "refused without preload: $sql");
    like($err, qr/ERROR:  42809: .* names view app\.task, the main view of branch-enabled table app\.task_all/,
         "the error names the view and the table: $sql");
    like($err, qr/HINT:  Run it on app\.task_all/, "the hint names the _all table: $sql");
}
is($node->safe_psql('postgres', $columns), $before, 'the table did not change');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname = 'comment'}), '0',
   'the referencing table was not made');

# on the table itself: the views follow, with its default
$node->safe_psql('postgres', q{
    ALTER TABLE app.task_all ADD COLUMN prio int DEFAULT 3;
    COMMENT ON COLUMN app.task_all.prio IS 'p';
});
is($node->safe_psql('postgres', q{
    SELECT pg_get_expr(d.adbin, d.adrelid) || ' ' || col_description(a.attrelid, a.attnum)
      FROM pg_attribute a JOIN pg_attrdef d ON (d.adrelid, d.adnum) = (a.attrelid, a.attnum)
     WHERE a.attrelid = 'app.task'::regclass AND a.attname = 'prio'}), '3 p',
   'ALTER TABLE and COMMENT on the _all table reach the view without preload');
is($node->safe_psql('postgres', 'SELECT id, prio FROM app.task'), '1|3', 'the view shows the new column');

# no merger without preload: log_inbox = auto writes the move log's indexed table directly
is($node->safe_psql('postgres', q{
    SET client_min_messages = warning;
    SELECT action FROM lamin.delete('app.task', 1);
    SELECT current_setting('lamin_branch.log_inbox'), (SELECT count(*) FROM ONLY lamin.move_inbox),
           (SELECT count(*) FROM ONLY lamin.move_record)}),
   "trashed\nauto|0|1", 'without preload, auto writes the indexed log');

$node->stop;
done_testing();
