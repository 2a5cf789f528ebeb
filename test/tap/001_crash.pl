# A server killed (kill -9) in the middle of bulk work: every row is afterwards on the branch it
# was on before the killed statement; finished batches of a batched run persist and a re-run
# completes; amcheck finds no corruption.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $rows = $ENV{LAMIN_CRASH_ROWS} // 1000000;
my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', "log_statement = none\nshared_buffers = 256MB\nshared_preload_libraries = 'lamin_branch'\n");
$node->start;
$node->safe_psql('postgres', qq{
    CREATE EXTENSION amcheck;
    CREATE EXTENSION lamin_branch;
    CREATE TABLE job (id int PRIMARY KEY, payload text);
    INSERT INTO job SELECT i, md5(i::text) FROM generate_series(1, $rows) i;
    SELECT lamin.enable('job');
    UPDATE job_all SET branch_id = 0 WHERE id % 10 = 0;   -- some rows start in the archive
    VACUUM ANALYZE job_all;
});
my $branches = q{SELECT string_agg(branch_id || ':' || n, ' ' ORDER BY branch_id)
                   FROM (SELECT branch_id, count(*) n FROM job_all GROUP BY 1) x};
my $before = $node->safe_psql('postgres', $branches);

sub wait_until_running
{
	my ($pattern) = @_;
	$node->poll_query_until('postgres',
		qq{SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE '$pattern' AND state = 'active'})
	  or die "statement did not start";
}

# kill -9 the backend doing the work and the postmaster (a backend outlives its postmaster long
# enough to commit), wait for every process to go, start again
sub crash_and_restart
{
	my ($pattern) = @_;
	my $pid = $node->{_pid};
	my $backend = $node->safe_psql('postgres',
		qq{SELECT pid FROM pg_stat_activity WHERE query LIKE '$pattern' AND pid <> pg_backend_pid()});
	kill 'KILL', $backend if $backend;
	$node->kill9;
	for (1 .. 300) { last unless kill(0, $pid); select(undef, undef, undef, 0.1); }
	for (1 .. 30)
	{
		return if $node->start(fail_ok => 1);
		sleep 1;
	}
	die "could not restart after kill -9";
}

sub amcheck_clean
{
	my $bad = $node->safe_psql('postgres', q{
        SELECT count(*) FROM verify_heapam('job_all');
    });
	$node->safe_psql('postgres', q{
        SELECT bt_index_check(i.indexrelid, true) FROM pg_index i WHERE i.indrelid = 'job_all'::regclass;
    });
	return $bad eq '0';
}

# 1. one statement moving every row to trash, killed half-way
my $bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/started/, "\\echo started\nDELETE FROM job;\n");
wait_until_running('DELETE FROM job%');
sleep 1;
crash_and_restart('DELETE FROM job%');
eval { $bg->quit };
is($node->safe_psql('postgres', $branches), $before,
	'after kill -9 during a bulk DELETE through the view, every row is on its branch of before');
ok(amcheck_clean(), 'amcheck finds no corruption after the crash');

# 2. a batched run, killed after some batches
$bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/started/, "\\echo started\nSET client_min_messages = warning;\nCALL lamin.trash_batched('job', 'true', 50000);\n");
$node->poll_query_until('postgres', q{SELECT count(*) >= 100000 FROM job_all WHERE branch_id = -1})
  or die "no batch committed";
crash_and_restart('CALL lamin.trash_batched%');
eval { $bg->quit };
my $kept = $node->safe_psql('postgres', q{SELECT count(*) FROM job_all WHERE branch_id = -1});
ok($kept >= 100000 && $kept % 50000 == 0, "finished batches persist after kill -9 ($kept rows, whole batches)");
$node->safe_psql('postgres', q{SET client_min_messages = warning; CALL lamin.trash_batched('job', 'true', 50000)});
is($node->safe_psql('postgres', $branches), "-1:$rows", 're-running the batched job completes it');
ok(amcheck_clean(), 'amcheck finds no corruption after the re-run');

$node->stop;
done_testing();
