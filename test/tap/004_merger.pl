# The move log's merger. With the module preloaded and lamin_branch.log_inbox at its default
# (auto), a move writes its record into lamin.move_inbox and the merger moves it into
# lamin.move_record soon after commit, in every database whose moves wrote there; the log reads
# the same before and after. DROP DATABASE of such a database is not kept waiting by it.
# log_inbox = off writes the log directly in one session; lamin_branch.merge_naptime = 0 (a
# reload) turns the merger off and auto then writes the log directly everywhere.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('merger');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'lamin_branch'\nlamin_branch.merge_naptime = 200ms\n");
$node->start;

is($node->safe_psql('postgres', q{
    SELECT count(*) FROM pg_stat_activity
     WHERE backend_type = 'lamin_branch merge launcher' AND datname IS NULL}),
   '1', 'the launcher runs, connected to no database');

my $setup = q{
    CREATE EXTENSION lamin_branch;
    CREATE TABLE task (id int PRIMARY KEY, title text);
    INSERT INTO task SELECT i, 't' || i FROM generate_series(1, 100) i;
    SELECT lamin.enable('task');
    -- where one move by this session lands: in the inbox or in the indexed log
    CREATE FUNCTION where_a_move_lands() RETURNS text LANGUAGE plpgsql
    SET client_min_messages = warning AS $$
    DECLARE
        inbox bigint := (SELECT count(*) FROM ONLY lamin.move_inbox);
    BEGIN
        PERFORM lamin.delete('task', 100);
        PERFORM lamin.restore('task', 100);
        RETURN CASE WHEN (SELECT count(*) FROM ONLY lamin.move_inbox) > inbox THEN 'inbox' ELSE 'log' END;
    END $$;
};
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql($_, $setup) for ('postgres', 'other');

my $where = q{SELECT (SELECT count(*) FROM ONLY lamin.move_record) || ' merged, '
                  || (SELECT count(*) FROM ONLY lamin.move_inbox) || ' in the inbox'};
my $log = q{SELECT string_agg(id || ':' || key || ':' || from_branch || '>' || coalesce(to_branch::text, 'x')
                              || ':' || operation, ' ' ORDER BY id, key) FROM lamin.move_log};

for my $db ('postgres', 'other')
{
	# in the moving transaction the merger cannot see the records: they wait in the inbox
	my $inside = $node->safe_psql($db, qq{
        BEGIN;
        DO \$\$BEGIN
            PERFORM lamin.delete('task', 1);
            DELETE FROM task WHERE id BETWEEN 2 AND 4;
            PERFORM lamin.restore('task', 2);
        END\$\$;
        $where;
        $log;
        COMMIT;});
	my ($counts, $before) = split /\n/, $inside;
	is($counts, '0 merged, 3 in the inbox', "$db: the moving transaction wrote the inbox only");
	ok($node->poll_query_until($db, 'SELECT count(*) = 0 FROM ONLY lamin.move_inbox'),
	   "$db: the merger emptied the inbox after commit");
	is($node->safe_psql($db, $where), '3 merged, 0 in the inbox', "$db: every record is in the log");
	is($node->safe_psql($db, $log), $before, "$db: the log reads the same, ids and operations kept");
	like($before, qr/^\d+:1:1>-1:\d+ \d+:2:1>-1:\d+ \d+:3:1>-1:\d+ \d+:4:1>-1:\d+ \d+:2:-1>1:\d+$/,
	     "$db: the log holds the three moves");
}

# a database the merger has just served can be dropped: no worker stays connected
$node->safe_psql('other', q{SELECT lamin.delete('task', 5)});
ok($node->poll_query_until('other', 'SELECT count(*) = 0 FROM ONLY lamin.move_inbox'),
   'other: merged again');
$node->safe_psql('postgres', 'DROP DATABASE other');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_database WHERE datname = 'other'}), '0',
   'DROP DATABASE of a merged database');

# log_inbox = off: this session writes the log directly, the merger running
is($node->safe_psql('postgres', q{SET lamin_branch.log_inbox = off; SELECT where_a_move_lands()}),
   'log', 'log_inbox = off writes the indexed log');
is($node->safe_psql('postgres', 'SELECT where_a_move_lands()'), 'inbox', 'auto writes the inbox');

# merge_naptime = 0: the merger stops serving and auto writes the log directly
$node->safe_psql('postgres', q{ALTER SYSTEM SET lamin_branch.merge_naptime = 0; SELECT pg_reload_conf()});
ok($node->poll_query_until('postgres', 'SELECT where_a_move_lands()', 'log'),
   'merge_naptime = 0: auto writes the indexed log');
is($node->safe_psql('postgres', q{SET lamin_branch.log_inbox = on; SELECT where_a_move_lands()}),
   'inbox', 'log_inbox = on still writes the inbox');
$node->safe_psql('postgres', 'SELECT lamin.merge_log()');
is($node->safe_psql('postgres', 'SELECT count(*) FROM ONLY lamin.move_inbox'), '0',
   'lamin.merge_log() merges by hand');

# and on again
$node->safe_psql('postgres', q{ALTER SYSTEM RESET lamin_branch.merge_naptime; SELECT pg_reload_conf()});
ok($node->poll_query_until('postgres', 'SELECT where_a_move_lands()', 'inbox'),
   'the merger serves again after a reload');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM ONLY lamin.move_inbox'),
   'and merges');

$node->stop;
done_testing();
