/*
 * lamin_branch.c: module entry, settings prefix, random uids, and the branch catalogs (lookup by
 * name, existence, the row trigger's check of branch columns).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "catalog/pg_type.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "utils/syscache.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"

#include "compat.h"
#include "lamin_branch.h"

LAMIN_MODULE_MAGIC("lamin_branch", LAMIN_BRANCH_VERSION);

void		_PG_init(void);

/*
 * One relcache callback for the whole module, which hands each invalidation to every cache that
 * keeps relation OIDs. Postgres has room for few such callbacks per backend (ten up to 17), and
 * other preloaded extensions (Citus) register several.
 */
static void
relcache_invalidate(Datum arg, Oid relid)
{
	lamin_visible_invalidate(arg, relid);
	lamin_table_cache_invalidate(arg, relid);
	lamin_registry_invalidate(arg, relid);
	lamin_log_relations_invalidate(arg, relid);
}

void
_PG_init(void)
{
	lamin_planner_init();		/* defines lamin_branch.flatten_views */
	lamin_branches_init();		/* defines lamin_branch.current_branch */
	lamin_table_cache_init();
	lamin_move_log_init();		/* defines lamin_branch.log_inbox */
	lamin_merger_init();		/* defines lamin_branch.merge_naptime; the merger, when preloaded */
	lamin_heads_init();
	/* no other setting under lamin_branch.* can exist (reserved after ours are defined) */
	MarkGUCPrefixReserved("lamin_branch");
	CacheRegisterRelcacheCallback(relcache_invalidate, (Datum) 0);
	/* DDL on a main view goes to its table: only where every session has the module */
	if (process_shared_preload_libraries_in_progress)
		lamin_utility_init();
}

static const char base62_alphabet[] =
"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/*
 * lamin.random_base62(length): uniformly random base62 text from the strong random source.
 * Bytes of 248 and above are dropped so that every character is equally likely (248 = 4 * 62).
 */
PG_FUNCTION_INFO_V1(lamin_random_base62);
Datum
lamin_random_base62(PG_FUNCTION_ARGS)
{
	int32		len = PG_GETARG_INT32(0);
	text	   *result;
	char	   *out;
	int			filled = 0;

	if (len < 1 || len > 1024)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("length of a random base62 string must be between 1 and 1024, not %d", len)));

	result = (text *) palloc(VARHDRSZ + len);
	SET_VARSIZE(result, VARHDRSZ + len);
	out = VARDATA(result);

	while (filled < len)
	{
		unsigned char buf[64];
		int			i;

		if (!pg_strong_random(buf, sizeof(buf)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate random bytes for a uid")));
		for (i = 0; i < (int) sizeof(buf) && filled < len; i++)
		{
			if (buf[i] < 248)
				out[filled++] = base62_alphabet[buf[i] % 62];
		}
	}
	PG_RETURN_TEXT_P(result);
}

/*
 * lamin.find_branch(name): the branch's id, matched case-insensitively as the catalog's unique
 * index does.
 */
PG_FUNCTION_INFO_V1(lamin_find_branch);
Datum
lamin_find_branch(PG_FUNCTION_ARGS)
{
	text	   *name = PG_GETARG_TEXT_PP(0);
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	int32		id = 0;
	bool		found;
	int			rc;

	values[0] = PointerGetDatum(name);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args("SELECT id FROM lamin.branch "
							   "WHERE pg_catalog.lower(name) OPERATOR(pg_catalog.=) pg_catalog.lower($1)",
							   1, argtypes, values, NULL, true, 1);
	lamin_spi_check(rc, "branch lookup");
	found = SPI_processed > 0;
	if (found)
		id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();

	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("branch \"%s\" does not exist", text_to_cstring(name)),
				 errhint("The branches are listed by: SELECT id, name FROM lamin.branch;")));
	PG_RETURN_INT32(id);
}

/*
 * Does a branch exist in the table's branch catalog? Read as the table's owner, who references
 * the catalog: callers need no grant on it.
 */
bool
lamin_branch_exists(const LaminEnabled *e, int32 branch)
{
	LaminTable *t = lamin_table_get(e->relid);
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1];
	LaminSavedUser saved;
	bool		found;
	int			rc;

	values[0] = Int32GetDatum(branch);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lamin_become_owner(t, &saved);
	rc = SPI_execute_with_args(psprintf("SELECT 1 FROM %s WHERE id OPERATOR(pg_catalog.=) $1",
										lamin_qualified_name(e->branch_table)),
							   1, argtypes, values, NULL, true, 1);
	lamin_spi_check(rc, "reading the branch catalog");
	found = SPI_processed > 0;
	lamin_restore_user(&saved);
	SPI_finish();
	return found;
}

/*
 * The row trigger's check of a branch column that has no foreign key: main, archive and trash
 * always exist (lamin.branch refuses to lose them); a user branch is looked up and locked
 * FOR KEY SHARE, as a foreign key would, so that it cannot be deleted before this transaction
 * ends.
 */
Oid
lamin_relation_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * The branch a written row names in column must exist in lamin.branch; its catalog row is
 * locked FOR KEY SHARE, as a foreign key would, so that it is not deleted meanwhile. With
 * refuse_merged (branch_id: where the row lives) a merged branch is refused too; created_on_id
 * records where a row was made, which a merge leaves as it was, so it only has to exist.
 */
void
lamin_check_branch_value(LaminTable *t, const char *column, int32 branch, bool refuse_merged)
{
	static SPIPlanPtr plan = NULL;
	Oid			nsp;
	Oid			catalog;
	LaminSavedUser saved;
	Datum		values[1];
	bool		found;
	bool		merged;
	bool		isnull;
	int			rc;

	if (branch >= LAMIN_BRANCH_TRASH && branch <= LAMIN_BRANCH_MAIN)
		return;
	nsp = get_namespace_oid("lamin", false);
	catalog = get_relname_relid("branch", nsp);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* as the catalog's owner, as Postgres's foreign-key triggers read the referenced table */
	lamin_become_role(lamin_relation_owner(catalog), &saved);
	if (plan == NULL || !SPI_plan_is_valid(plan))
	{
		Oid			argtypes[1] = {INT4OID};
		SPIPlanPtr	p = SPI_prepare("SELECT _status_code FROM ONLY lamin.branch x WHERE id OPERATOR(pg_catalog.=) $1 "
									"FOR KEY SHARE OF x", 1, argtypes);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare the branch check: %s", SPI_result_code_string(SPI_result));
		plan = p;
	}
	values[0] = Int32GetDatum(branch);
	rc = SPI_execute_plan(plan, values, NULL, false, 1);
	lamin_spi_check(rc, "checking the branch");
	found = SPI_processed > 0;
	/* a merged branch takes no more rows (lamin.merge holds it locked while it merges) */
	merged = found && refuse_merged && DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) == -1;
	lamin_restore_user(&saved);
	SPI_finish();
	if (merged)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("branch %d is merged", branch),
				 errdetail("Column \"%s\" of table %s names a branch that lamin.merge() has merged; it takes no more rows.",
						   column, t->qualname),
				 errhint("Write on the branch it was merged into, or on a new branch.")));
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("branch %d does not exist", branch),
				 errdetail("Column \"%s\" of table %s refers to lamin.branch.", column, t->qualname),
				 errhint("The branches are listed by: SELECT id, name FROM lamin.branch;")));
}
