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

# /proc/PID/stat of a process: "pid (comm) state ppid ...", undef once it is gone
sub proc_stat
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/stat") or return undef;
	my $stat = <$fh>;
	close $fh;
	return $stat;
}

# The server's processes: the postmaster and every process it started (backends, checkpointer,
# background writer, autovacuum, ...), read from /proc.
sub server_processes
{
	my ($postmaster) = @_;
	my @pids = ($postmaster);
	opendir(my $dh, '/proc') or die "cannot read /proc: $!";
	for my $p (grep { /^\d+$/ } readdir $dh)
	{
		my $stat = proc_stat($p);
		# comm may hold spaces and parentheses: the state and ppid follow its last ")"
		push @pids, $p if defined $stat && $stat =~ /.*\)\s+\S+\s+(\d+)/s && $1 == $postmaster;
	}
	closedir $dh;
	return @pids;
}

# Gone, or a zombie nobody has reaped yet (a zombie holds no shared memory). The postmaster must
# be gone for good: a new one refuses to start while the PID in postmaster.pid answers kill(0).
sub process_gone
{
	my ($pid, $postmaster) = @_;
	my $stat = proc_stat($pid);
	return !defined $stat || ($pid != $postmaster && $stat =~ /.*\)\s+Z\s/s);
}

# kill -9 the whole server at once, as a power cut would: the postmaster and every process it
# started, the backend doing the work among them. A process left alive (one that has not yet
# noticed its postmaster is gone) would keep the shared memory attached and refuse the restart.
# Wait for every one to go, then start again.
sub crash_and_restart
{
	my $postmaster = $node->{_pid};
	my @pids = server_processes($postmaster);
	note 'killing ' . scalar(@pids) . ' server processes';
	kill 'KILL', @pids;
	$node->{_pid} = undef;
	for (1 .. 1200)
	{
		last unless grep { !process_gone($_, $postmaster) } @pids;
		select(undef, undef, undef, 0.1);
	}
	for my $pid (grep { !process_gone($_, $postmaster) } @pids)
	{
		diag "still there after kill -9: " . (proc_stat($pid) // $pid);
	}
	for (1 .. 60)
	{
		$node->{_pid} = undef;    # a failed start may have read the old PID back
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
crash_and_restart();
eval { $bg->quit };
is($node->safe_psql('postgres', $branches), $before,
	'after kill -9 during a bulk DELETE through the view, every row is on its branch of before');
ok(amcheck_clean(), 'amcheck finds no corruption after the crash');

# 2. a batched run, killed after some batches
$bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/started/, "\\echo started\nSET client_min_messages = warning;\nCALL lamin.trash_batched('job', 'true', 50000);\n");
$node->poll_query_until('postgres', q{SELECT count(*) >= 100000 FROM job_all WHERE branch_id = -1})
  or die "no batch committed";
crash_and_restart();
eval { $bg->quit };
my $kept = $node->safe_psql('postgres', q{SELECT count(*) FROM job_all WHERE branch_id = -1});
ok($kept >= 100000 && $kept % 50000 == 0, "finished batches persist after kill -9 ($kept rows, whole batches)");
$node->safe_psql('postgres', q{SET client_min_messages = warning; CALL lamin.trash_batched('job', 'true', 50000)});
is($node->safe_psql('postgres', $branches), "-1:$rows", 're-running the batched job completes it');
ok(amcheck_clean(), 'amcheck finds no corruption after the re-run');

$node->stop;
done_testing();
