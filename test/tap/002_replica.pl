# A streaming replica shows the same rows per branch as the primary, and lamin functions that
# write fail there with a clear read-only error.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'lamin_branch'\n");
$primary->start;
$primary->safe_psql('postgres', q{
    CREATE EXTENSION lamin_branch;
    CREATE TABLE doc (id int PRIMARY KEY, body text);
    INSERT INTO doc SELECT i, 'd' || i FROM generate_series(1, 1000) i;
    SELECT lamin.enable('doc');
    INSERT INTO lamin.artifact (id, uid, key) OVERRIDING SYSTEM VALUE
    SELECT i, 'repl' || lpad(i::text, 12, '0') || '0000', 'k' || i FROM generate_series(1, 100) i;
});
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

$primary->safe_psql('postgres', q{
    SET client_min_messages = warning;
    DELETE FROM doc WHERE id <= 300;
    SELECT lamin.archive_many('doc', ARRAY(SELECT generate_series(301, 400)));
    SELECT lamin.restore('doc', 7);
    SELECT lamin.artifact_delete(1);
    DELETE FROM lamin.artifact WHERE id <= 10;
    SELECT lamin.artifact_delete(2, permanent => true);
});
$primary->wait_for_catchup($standby);

my $state = q{SELECT 'doc', branch_id, count(*) FROM doc_all GROUP BY 2
              UNION ALL SELECT 'artifact', branch_id, count(*) FROM lamin.artifact_all GROUP BY 2 ORDER BY 1, 2};
my $p = $primary->safe_psql('postgres', $state);
is($standby->safe_psql('postgres', $state), $p, 'the standby has the rows of every branch the primary has');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM doc'), '601', 'the standby main view hides archive and trash');

for my $sql ("SELECT lamin.artifact_delete(3)", "SELECT lamin.delete('doc', 8)",
	"SELECT lamin.delete_many('doc', ARRAY[9])", "DELETE FROM doc WHERE id = 10",
	"SELECT lamin.disable('doc')")
{
	my ($rc, $out, $err) = $standby->psql('postgres', $sql);
	like($err, qr/(during recovery|read-only transaction)/, "on the standby, $sql fails read-only");
	unlike($err, qr/lock mode|could not/, "... with no confusing lock error");
}
done_testing();
