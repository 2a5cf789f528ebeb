/*
 * rights.c: who may move which rows, and the registry that says which views guard a table.
 *
 * The registry (lamin.enabled_table) is read once into a backend-local hash and kept until it
 * changes: a trigger on it (lamin._registry_changed) sends a relcache invalidation for the
 * registry table, which every backend's callback here turns into "read it again". Triggers and
 * move functions therefore find a table's views without a query per row.
 *
 * The rights themselves are ordinary privileges on the views: a move is checked against the
 * branch each row actually leaves and joins (lamin_check_move_right), on every path: the move
 * functions after they have locked the rows, the row trigger for a role's own UPDATE or INSERT.
 * Also here: running as the table's owner, and the space checks.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "lamin_branch.h"

/* relation, main, archive or trash view -> the registry row */
typedef struct RegistryEntry
{
	Oid			oid;			/* hash key: the table or one of its views */
	LaminEnabled e;
} RegistryEntry;

static HTAB *registry = NULL;
static Oid	registry_relid = InvalidOid;	/* lamin.enabled_table, once read */
static bool registry_valid = false;

void
lamin_registry_invalidate(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || relid == registry_relid)
		registry_valid = false;
}

static void
registry_add(Oid oid, LaminEnabled *e)
{
	RegistryEntry *r;

	if (!OidIsValid(oid))
		return;
	r = hash_search(registry, &oid, HASH_ENTER, NULL);
	r->e = *e;
}

/* Does the registry carry the trigger that invalidates this cache when its rows change? */
static bool
registry_watched(void)
{
	Relation	rel = table_open(registry_relid, AccessShareLock);
	bool		found = false;

	for (int i = 0; rel->trigdesc && i < rel->trigdesc->numtriggers && !found; i++)
		found = strcmp(rel->trigdesc->triggers[i].tgname, "lamin_registry_changed") == 0;
	table_close(rel, AccessShareLock);
	return found;
}

static void
registry_load(void)
{
	LaminSavedUser saved;
	HASHCTL		ctl;
	Oid			nsp = get_namespace_oid("lamin", true);
	uint64		i;
	int			rc;

	if (registry)
		hash_destroy(registry);
	registry = NULL;
	registry_relid = OidIsValid(nsp) ? get_relname_relid("enabled_table", nsp) : InvalidOid;
	if (!OidIsValid(registry_relid))
	{
		/* no extension (yet): look again next time, CREATE EXTENSION sends no invalidation */
		registry_valid = false;
		return;
	}
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(RegistryEntry);
	ctl.hcxt = CacheMemoryContext;
	registry = hash_create("lamin_branch registry", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	/* invalidations that arrive while it is read make the next caller read it again */
	registry_valid = true;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* as the registry's owner: whoever runs a trigger or a move, the registry is readable */
	lamin_become_role(lamin_relation_owner(registry_relid), &saved);
	PG_TRY();
	{
		rc = SPI_execute("SELECT relation::pg_catalog.oid, main_view::pg_catalog.oid, "
						 "archive_view::pg_catalog.oid, trash_view::pg_catalog.oid, "
						 "branch_table::pg_catalog.oid, spaces, mode, family_index::pg_catalog.oid "
						 "FROM lamin.enabled_table", true, 0);
		lamin_spi_check(rc, "reading lamin.enabled_table");
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	row = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			LaminEnabled e;

			e.relid = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
			e.main_view = DatumGetObjectId(SPI_getbinval(row, desc, 2, &isnull));
			e.archive_view = DatumGetObjectId(SPI_getbinval(row, desc, 3, &isnull));
			e.trash_view = DatumGetObjectId(SPI_getbinval(row, desc, 4, &isnull));
			e.branch_table = DatumGetObjectId(SPI_getbinval(row, desc, 5, &isnull));
			e.spaces = DatumGetBool(SPI_getbinval(row, desc, 6, &isnull));
			e.mode = SPI_getvalue(row, desc, 7)[0];
			e.family_index = DatumGetObjectId(SPI_getbinval(row, desc, 8, &isnull));
			if (isnull)
				e.family_index = InvalidOid;
			registry_add(e.relid, &e);
			registry_add(e.main_view, &e);
			registry_add(e.archive_view, &e);
			registry_add(e.trash_view, &e);
		}
	}
	PG_CATCH();
	{
		registry_valid = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
	lamin_restore_user(&saved);
	SPI_finish();

	/*
	 * Rows written into the registry invalidate this cache through its trigger
	 * (lamin_registry_changed). The versions before 0.4.0 have none: until ALTER EXTENSION
	 * UPDATE brings it, the registry is read again at every look-up.
	 */
	if (!registry_watched())
		registry_valid = false;
}

/* Is relid the registry itself (lamin.enabled_table, as last read)? */
bool
lamin_is_registry(Oid relid)
{
	return OidIsValid(relid) && relid == registry_relid;
}

/* The registry row of a table or one of its views, or NULL; valid until the next look-up. */
static const LaminEnabled *
registry_find(Oid given)
{
	RegistryEntry *r;

	if (!registry_valid || registry == NULL)
		registry_load();
	if (registry == NULL)
		return NULL;
	r = hash_search(registry, &given, HASH_FIND, NULL);
	return r ? &r->e : NULL;
}

/* The enabled base tables, in OID order (a list of the caller's, taken from the cache) */
List *
lamin_registry_tables(void)
{
	HASH_SEQ_STATUS seq;
	RegistryEntry *r;
	List	   *tables = NIL;

	if (!registry_valid || registry == NULL)
		registry_load();
	if (registry == NULL)
		return NIL;
	hash_seq_init(&seq, registry);
	while ((r = hash_seq_search(&seq)) != NULL)
	{
		if (r->oid == r->e.relid)
			tables = lappend_oid(tables, r->e.relid);
	}
	list_sort(tables, list_oid_cmp);
	return tables;
}

/* The registry row of a table or one of its views: false when there is none. */
bool
lamin_registry_lookup(Oid given, LaminEnabled *out)
{
	const LaminEnabled *e = registry_find(given);

	if (e == NULL)
		return false;
	*out = *e;
	return true;
}

/*
 * The branch-enabled table a caller names: the base table, or one of its views; an error
 * naming the relation when it is not branch-enabled.
 */
LaminEnabled
lamin_enabled_table(Oid given)
{
	const LaminEnabled *e = registry_find(given);

	if (e == NULL)
	{
		char	   *name = get_rel_name(given) ?
			lamin_qualified_name(given) :
			psprintf("%u", given);

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table %s is not branch-enabled", name),
				 errhint("Enable it with SELECT lamin.enable('%s');", name)));
	}
	return *e;
}

/*
 * AFTER ... FOR EACH STATEMENT on lamin.enabled_table: every backend reads the registry again
 * (at once in this transaction, at commit for the others).
 */
PG_FUNCTION_INFO_V1(lamin_registry_changed);
Datum
lamin_registry_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("lamin._registry_changed() was not called by the trigger manager")));
	CacheInvalidateRelcache(td->tg_relation);
	return PointerGetDatum(NULL);
}

/* "schema"."relation", quoted as needed */
char *
lamin_qualified_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));
}

/*
 * Which rows a role may move is a privilege on the views, as for a DELETE through them: moving
 * rows out of main (to trash, archive or a user branch) needs DELETE on the main view, out of the
 * archive DELETE on the archive view; bringing rows back to main, moving them out of the trash,
 * or deleting them for good needs DELETE on the trash view. The table's owner may do anything.
 */
static void
check_delete_on(const LaminEnabled *e, Oid view, const char *what, Oid role)
{
	if (OidIsValid(view) && pg_class_aclcheck(view, role, ACL_DELETE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to move rows of %s", get_rel_name(e->relid)),
				 errdetail("Moving rows %s needs DELETE on view %s.", what, lamin_qualified_name(view)),
				 errhint("The owner grants it: GRANT DELETE ON %s TO %s;", lamin_qualified_name(view),
						 quote_identifier(GetUserNameFromId(role, false)))));
}

void
lamin_check_view_right(const LaminEnabled *e, bool on_trash, Oid role)
{
	if (on_trash)
		check_delete_on(e, e->trash_view, "back from the trash, or out of it for good,", role);
	else
		check_delete_on(e, e->main_view, "out of main", role);
}

/*
 * The right for one row's actual move: from branch `from` to branch `to`, or out of the table
 * for good (purge). Shared by the move functions (after they have locked the rows, so that the
 * branch checked is the branch moved from) and the row trigger. `role` is the caller: the
 * functions check it while they run as the table's owner.
 */
static Oid
move_right_view(const LaminEnabled *e, int32 from, int32 to, bool purge, const char **what)
{
	if (!purge && from == to)
		return InvalidOid;
	if (purge || from == LAMIN_BRANCH_TRASH || to == LAMIN_BRANCH_MAIN)
	{
		*what = "back from the trash, or out of it for good,";
		return e->trash_view;
	}
	if (from == LAMIN_BRANCH_ARCHIVE)
	{
		*what = "out of the archive";
		return e->archive_view;
	}
	*what = "out of main";
	return e->main_view;
}

void
lamin_check_move_right(const LaminEnabled *e, int32 from, int32 to, bool purge, Oid role)
{
	const char *what = NULL;
	Oid			view = move_right_view(e, from, to, purge, &what);

	if (OidIsValid(view))
		check_delete_on(e, view, what, role);
}

/* The same, as a question */
bool
lamin_may_move(const LaminEnabled *e, int32 from, int32 to, bool purge, Oid role)
{
	const char *what = NULL;
	Oid			view = move_right_view(e, from, to, purge, &what);

	return !OidIsValid(view) || pg_class_aclcheck(view, role, ACL_DELETE) == ACLCHECK_OK;
}

/*
 * Changing a row in place on a branch other than main is a right on that branch's view: UPDATE
 * on the trash view for a trashed row, on the archive view for an archived one, on the main view
 * for a row of a user branch. No view shows a role rows beyond its grants, but an upsert through
 * the main view meets the row that holds its key whatever its branch, and from PostgreSQL 18 on
 * Postgres no longer refuses to update a conflicting row the view does not show.
 */
void
lamin_check_update_right(const LaminEnabled *e, int32 branch)
{
	Oid			view = branch == LAMIN_BRANCH_TRASH ? e->trash_view :
		branch == LAMIN_BRANCH_ARCHIVE ? e->archive_view : e->main_view;
	char	   *vname;

	if (!OidIsValid(view) || pg_class_aclcheck(view, GetUserId(), ACL_UPDATE) == ACLCHECK_OK)
		return;
	vname = lamin_qualified_name(view);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to change rows of %s in the %s", get_rel_name(e->relid),
					branch == LAMIN_BRANCH_TRASH ? "trash" : branch == LAMIN_BRANCH_ARCHIVE ? "archive" : "branch"),
			 errdetail("Changing a row on branch %d in place needs UPDATE on view %s.", branch, vname),
			 errhint("Restore the row first, or have the owner grant it: GRANT UPDATE ON %s TO %s;",
					 vname, quote_identifier(GetUserNameFromId(GetUserId(), false)))));
}

/*
 * Run SQL as the table's owner, as Postgres's own foreign-key triggers do: the caller's rights
 * and row-level security policies do not apply, and the caller cannot change the identity back.
 */
void
lamin_become_role(Oid role, LaminSavedUser *saved)
{
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(role, saved->sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
}

void
lamin_become_owner(LaminTable *t, LaminSavedUser *saved)
{
	lamin_become_role(t->owner, saved);
}

void
lamin_restore_user(LaminSavedUser *saved)
{
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

/*
 * With spaces on, a role that is not the table's owner writes only rows of spaces it may write:
 * checked by the row trigger on every path (views, the table, COPY), for the space a row had and
 * the space it gets. The views run with their owner's rights, so row-level security cannot be
 * what checks it. Opens its own SPI connection.
 */
void
lamin_check_space_value(LaminTable *t, HeapTuple tup, TupleDesc desc, Oid caller)
{
	static SPIPlanPtr plan = NULL;
	Form_pg_attribute att = TupleDescAttr(desc, t->att_space - 1);
	Datum		values[2];
	bool		isnull;
	int64		space;
	bool		ok;
	int			rc;

	values[0] = heap_getattr(tup, t->att_space, desc, &isnull);
	if (isnull)
		return;					/* the column's own constraints decide */
	switch (att->atttypid)
	{
		case INT2OID:
			space = DatumGetInt16(values[0]);
			break;
		case INT4OID:
			space = DatumGetInt32(values[0]);
			break;
		case INT8OID:
			space = DatumGetInt64(values[0]);
			break;
		default:
			elog(ERROR, "column \"space_id\" of table %s is not an integer", t->qualname);
	}
	values[0] = Int64GetDatum(space);
	values[1] = ObjectIdGetDatum(caller);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (plan == NULL)
	{
		Oid			argtypes[2] = {INT8OID, REGROLEOID};
		SPIPlanPtr	p = SPI_prepare("SELECT $1 OPERATOR(pg_catalog.=) "
									"ANY (lamin.writable_spaces($2)::pg_catalog.int8[])", 2, argtypes);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare the space check: %s", SPI_result_code_string(SPI_result));
		plan = p;
	}
	rc = SPI_execute_plan(plan, values, NULL, true, 1);
	lamin_spi_check(rc, "checking the space");
	ok = SPI_processed > 0 &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) && !isnull;
	SPI_finish();
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to write rows of table %s in space %lld", t->qualname, (long long) space),
				 errdetail("Role \"%s\" has no write access to space %lld.", GetUserNameFromId(caller, false), (long long) space),
				 errhint("A space admin grants it: INSERT INTO lamin.space_access VALUES (space, role, 'write');")));
}

/*
 * With spaces on, a move needs write access to the row's space: the caller's right, checked
 * before the move runs as the table's owner. Called inside the caller's SPI connection.
 */
void
lamin_check_space(LaminTable *t, Datum *key, Oid caller)
{
	Datum		values[INDEX_MAX_KEYS + 1];
	bool		isnull;
	int			rc;

	if (!t->spaces)
		return;
	memcpy(values, key, sizeof(Datum) * t->nkeys);
	values[t->nkeys] = ObjectIdGetDatum(caller);
	rc = SPI_execute_plan(lamin_table_plan(t, LP_SPACE_WRITABLE, false), values, NULL, false, 1);
	lamin_spi_check(rc, "checking the space");
	if (SPI_processed > 0 &&
		!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to change rows of table %s in this space", t->qualname),
				 errdetail("Role \"%s\" has no write access to the row's space.", GetUserNameFromId(caller, false)),
				 errhint("A space admin grants it: INSERT INTO lamin.space_access VALUES (space, role, 'write');")));
}
