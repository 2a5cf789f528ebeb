/*
 * branches.c: LaminDB's own branches.
 *
 * The current branch. The setting lamin_branch.current_branch (a branch's name or uid; empty
 * means main) is the session's branch, as LaminDB's `lamin switch` is a user's. A main view
 * selects `branch_id = ANY (lamin._visible_branches(table))`: main and the current branch, as
 * LaminDB's default queries do. The function is STABLE, so the planner estimates it from its
 * value and a plan made before a switch reads the branch current when it runs. It resolves the
 * name in the table's own branch catalog (a LaminDB instance's lamindb_branch, or lamin.branch)
 * once and keeps the answer in a backend-local hash until something invalidates it (any relcache
 * invalidation: a trigger on each watched catalog sends one when its rows change; role
 * membership changes), so a row costs a hash look-up. The archive or the trash is current only
 * for a role that may read that table's archive or trash view. Inserts through a main view land
 * on the current branch: its branch_id and created_on_id default to lamin._current_branch_of().
 *
 * Merging. lamin.merge() moves every row of a branch onto the target branch in every enabled
 * table whose catalog knows the branch, in one transaction, and marks the branch merged: the
 * branch is locked in its catalog first (FOR UPDATE, which waits for transactions that are
 * writing rows on it, and holds off new ones, as their foreign-key or row-trigger check takes
 * FOR KEY SHARE on it), then each table's version families (slot order) and rows (key order),
 * the order of every other lamin move. The rows move with one UPDATE as the table's owner; the
 * heads trigger makes the newest version of each family the head on the target.
 * lamin.merge_preview() reports the same without changing anything, plus the rows whose unique
 * keys would collide on the target.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/syscache.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"

#include "compat.h"
#include "lamin_branch.h"

/* longest setting kept: a branch name is at most 100 characters (400 bytes) */
#define SETTING_MAX 400

static char *current_branch_setting = NULL;

/* bumped by every invalidation that may change what a setting means */
static uint64 visible_generation = 1;

/* true while lamin.merge() marks a branch merged (lamin._branch_status_guard lets it) */
static bool merging = false;

/* per table (or view) given: what the setting meant for it, for whom */
typedef struct VisibleEntry
{
	Oid			relid;			/* hash key */
	bool		valid;
	uint64		generation;
	Oid			userid;
	char		setting[SETTING_MAX + 1];
	int32		current;
} VisibleEntry;

static HTAB *visible = NULL;

void
lamin_visible_invalidate(Datum arg, Oid relid)
{
	visible_generation++;
}

static void
visible_invalidate_syscache(Datum arg, int cacheid, uint32 hashvalue)
{
	visible_generation++;
}

static bool
check_current_branch(char **newval, void **extra, GucSource source)
{
	if (*newval && strlen(*newval) > SETTING_MAX)
	{
		GUC_check_errcode(ERRCODE_NAME_TOO_LONG);
		GUC_check_errmsg("branch name is too long");
		GUC_check_errdetail("Branch names have at most 100 characters.");
		return false;
	}
	return true;
}

/*
 * A plan in which the planner hook has written the current branch (lamin_bake_current_branch)
 * must be made again when the setting changes: every cached plan of the session is marked
 * invalid, as DISCARD PLANS does. Nothing here can fail.
 */
static void
assign_current_branch(const char *newval, void *extra)
{
	ResetPlanCache();
}

void
lamin_branches_init(void)
{
	HASHCTL		ctl;

	DefineCustomStringVariable("lamin_branch.current_branch",
							   "The session's current branch (name or uid); empty means main.",
							   "Main views show main and this branch, and rows inserted through them land on it.",
							   &current_branch_setting,
							   "",
							   PGC_USERSET, 0,
							   check_current_branch, assign_current_branch, NULL);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(VisibleEntry);
	ctl.hcxt = TopMemoryContext;
	visible = hash_create("lamin_branch current branch", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, visible_invalidate_syscache, (Datum) 0);
}

static const char *
setting_value(void)
{
	return current_branch_setting ? current_branch_setting : "";
}

/* Is no current branch set (main, whatever the branch catalogs hold)? */
bool
lamin_current_branch_unset(void)
{
	return setting_value()[0] == '\0';
}

/* The setting as a name: empty is main. */
static const char *
setting_name(void)
{
	return setting_value()[0] ? setting_value() : "main";
}

/*
 * The id of the branch a name (or uid) gives in a branch catalog, read as the catalog's owner
 * (as a foreign key reads the table it references): false when there is none. Names match
 * case-insensitively, as the catalogs' unique indexes do; a name wins over a uid.
 */
static bool
resolve_branch(Oid catalog, const char *name, int32 *id, int16 *status, bool lock)
{
	LaminSavedUser saved;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	bool		found;
	bool		has_uid = get_attnum(catalog, "uid") != InvalidAttrNumber;
	bool		has_status = get_attnum(catalog, "_status_code") != InvalidAttrNumber;
	char	   *sql;
	int			rc;

	if (name == NULL || name[0] == '\0')
		name = "main";
	sql = psprintf("SELECT id::pg_catalog.int4, %s FROM %s x "
				   "WHERE pg_catalog.lower(name::pg_catalog.text) OPERATOR(pg_catalog.=) pg_catalog.lower($1)%s "
				   "ORDER BY pg_catalog.lower(name::pg_catalog.text) OPERATOR(pg_catalog.=) pg_catalog.lower($1) DESC "
				   "LIMIT 1%s",
				   has_status ? "_status_code::pg_catalog.int2" : "0::pg_catalog.int2",
				   lamin_qualified_name(catalog),
				   has_uid ? " OR uid::pg_catalog.text OPERATOR(pg_catalog.=) $1" : "",
				   lock ? " FOR UPDATE OF x" : "");
	values[0] = CStringGetTextDatum(name);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lamin_become_role(lamin_relation_owner(catalog), &saved);
	rc = SPI_execute_with_args(sql, 1, argtypes, values, NULL, !lock, 1);
	lamin_spi_check(rc, "reading the branch catalog");
	found = SPI_processed > 0;
	if (found)
	{
		*id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		if (status)
			*status = DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
	lamin_restore_user(&saved);
	SPI_finish();
	return found;
}

static Oid
lamin_branch_catalog(void)
{
	Oid			nsp = get_namespace_oid("lamin", false);

	return get_relname_relid("branch", nsp);
}

/*
 * The current branch for a branch-enabled table (or one of its views), for the role running:
 * main when the setting is empty; an error when the table's catalog has no such branch, or when
 * it is the archive or the trash and the role may not read that view of the table.
 */
int32
lamin_current_branch_for(Oid given)
{
	const char *setting = setting_value();
	Oid			user = GetUserId();
	VisibleEntry *v;
	bool		found;
	LaminEnabled e;
	int32		current = LAMIN_BRANCH_MAIN;

	if (setting[0] == '\0')
		return LAMIN_BRANCH_MAIN;
	v = hash_search(visible, &given, HASH_ENTER, &found);
	if (!found)
		v->valid = false;
	else if (v->valid && v->generation == visible_generation && v->userid == user &&
			 strcmp(v->setting, setting) == 0)
		return v->current;
	v->valid = false;

	e = lamin_enabled_table(given);
	if (!resolve_branch(e.branch_table, setting, &current, NULL, false))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("branch \"%s\" does not exist", setting),
				 errdetail("The setting lamin_branch.current_branch names it; table %s takes its branches from %s.",
						   lamin_qualified_name(e.relid), lamin_qualified_name(e.branch_table)),
				 errhint("Switch to an existing branch (SELECT lamin.switch('main');); the branches are listed by: SELECT id, name FROM %s;",
						 lamin_qualified_name(e.branch_table))));
	if (current == LAMIN_BRANCH_ARCHIVE || current == LAMIN_BRANCH_TRASH)
	{
		Oid			view = current == LAMIN_BRANCH_ARCHIVE ? e.archive_view : e.trash_view;

		if (pg_class_aclcheck(view, user, ACL_SELECT) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to show the %s of table %s",
							current == LAMIN_BRANCH_ARCHIVE ? "archive" : "trash", lamin_qualified_name(e.relid)),
					 errdetail("The current branch is \"%s\"; showing it needs SELECT on view %s.",
							   setting, lamin_qualified_name(view)),
					 errhint("Switch back with SELECT lamin.switch('main');, or have the owner grant SELECT on %s.",
							 lamin_qualified_name(view))));
	}
	/* the look-up may have run invalidations: the entry is found again */
	v = hash_search(visible, &given, HASH_ENTER, &found);
	v->generation = visible_generation;
	v->userid = user;
	strlcpy(v->setting, setting, sizeof(v->setting));
	v->current = current;
	v->valid = true;
	return current;
}

/*
 * lamin._visible_branches(tbl): the branches a main view of the table shows: main, and the
 * current branch when it is another one.
 */
PG_FUNCTION_INFO_V1(lamin_visible_branches);
Datum
lamin_visible_branches(PG_FUNCTION_ARGS)
{
	int32		current = lamin_current_branch_for(PG_GETARG_OID(0));
	Datum		ids[2];

	ids[0] = Int32GetDatum(LAMIN_BRANCH_MAIN);
	ids[1] = Int32GetDatum(current);
	PG_RETURN_ARRAYTYPE_P(construct_array(ids, current == LAMIN_BRANCH_MAIN ? 1 : 2,
										  INT4OID, 4, true, TYPALIGN_INT));
}

/*
 * The planner hook reads a main view as its table with the view's condition as a security qual
 * (planner.c). There, "branch_id = ANY (lamin._visible_branches(t))" becomes what the
 * hand-written query would say for the branch current now: "branch_id = 1" with main current,
 * "branch_id = ANY ('{1,x}')" with user branch x, so that the planner estimates and indexes it
 * as it would the hand-written predicate, and no row pays a function call. The plan then
 * depends on the setting and on the table's branch catalog: a change of the setting marks the
 * session's cached plans invalid (assign_current_branch), and the catalog joins the plan's
 * relations (lamin_current_branch_dependencies), so that a change to its rows, which sends a
 * relcache invalidation for it, invalidates the plan. The archive and the trash are left to the
 * function, which checks the right to see them each time it runs, for whoever runs the plan.
 */
static List *baked_catalogs = NIL;

static bool
is_visible_branches_fn(Oid funcid)
{
	static Oid	fn = InvalidOid;
	char	   *name;

	if (OidIsValid(fn) && funcid == fn)
		return true;
	name = get_func_name(funcid);
	if (name == NULL || strcmp(name, "_visible_branches") != 0 ||
		get_func_namespace(funcid) != get_namespace_oid("lamin", true))
		return false;
	fn = funcid;
	return true;
}

static Node *
bake_mutator(Node *node, void *context)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *s = (ScalarArrayOpExpr *) node;
		Node	   *arr = lsecond(s->args);
		FuncExpr   *f = (FuncExpr *) arr;
		Const	   *tbl;
		LaminEnabled e;

		if (s->useOr && IsA(arr, FuncExpr) && list_length(f->args) == 1 && IsA(linitial(f->args), Const) &&
			is_visible_branches_fn(f->funcid))
		{
			tbl = linitial_node(Const, f->args);
			if (!tbl->constisnull && lamin_registry_lookup(DatumGetObjectId(tbl->constvalue), &e))
			{
				int32		current = lamin_current_branch_for(DatumGetObjectId(tbl->constvalue));
				Node	   *var = copyObject(linitial(s->args));

				if (current == LAMIN_BRANCH_ARCHIVE || current == LAMIN_BRANCH_TRASH)
					return copyObject(node);
				baked_catalogs = list_append_unique_oid(baked_catalogs, e.branch_table);
				if (current == LAMIN_BRANCH_MAIN)
				{
					OpExpr	   *op = (OpExpr *) make_opclause(s->opno, BOOLOID, false, (Expr *) var,
															  (Expr *) makeConst(INT4OID, -1, InvalidOid, 4,
																				 Int32GetDatum(LAMIN_BRANCH_MAIN),
																				 false, true),
															  InvalidOid, s->inputcollid);

					op->opfuncid = s->opfuncid;
					op->location = s->location;
					return (Node *) op;
				}
				else
				{
					ScalarArrayOpExpr *n = copyObject(s);
					Datum		ids[2];

					ids[0] = Int32GetDatum(LAMIN_BRANCH_MAIN);
					ids[1] = Int32GetDatum(current);
					n->args = list_make2(var,
										 makeConst(INT4ARRAYOID, -1, InvalidOid, -1,
												   PointerGetDatum(construct_array(ids, 2, INT4OID, 4, true, TYPALIGN_INT)),
												   false, false));
					return (Node *) n;
				}
			}
		}
	}
	return expression_tree_mutator(node, bake_mutator, context);
}

Node *
lamin_bake_current_branch(Node *qual)
{
	return bake_mutator(qual, NULL);
}

/* The catalogs noted so far are set aside (a plan made while planning another), or put back. */
List *
lamin_current_branch_swap(List *catalogs)
{
	List	   *old = baked_catalogs;

	baked_catalogs = catalogs;
	return old;
}

/* The branch catalogs the plan just made depends on (see above); forgets them. */
void
lamin_current_branch_dependencies(PlannedStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, baked_catalogs)
		stmt->relationOids = list_append_unique_oid(stmt->relationOids, lfirst_oid(lc));
	baked_catalogs = NIL;
}

/* lamin._current_branch_of(tbl): the branch rows inserted through the table's main view get */
PG_FUNCTION_INFO_V1(lamin_current_branch_of);
Datum
lamin_current_branch_of(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(lamin_current_branch_for(PG_GETARG_OID(0)));
}

/* lamin.current_branch(): the current branch's id in lamin.branch */
PG_FUNCTION_INFO_V1(lamin_current_branch);
Datum
lamin_current_branch(PG_FUNCTION_ARGS)
{
	int32		id = LAMIN_BRANCH_MAIN;
	Oid			cat;

	if (setting_value()[0] == '\0')
		PG_RETURN_INT32(LAMIN_BRANCH_MAIN);
	cat = lamin_branch_catalog();
	if (!resolve_branch(cat, setting_value(), &id, NULL, false))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("branch \"%s\" does not exist", setting_value()),
				 errdetail("The setting lamin_branch.current_branch names it."),
				 errhint("The branches are listed by: SELECT id, name FROM lamin.branch;")));
	PG_RETURN_INT32(id);
}

/* The branch catalogs in use: lamin.branch and those of enabled tables, each once. */
static List *
branch_catalogs(void)
{
	List	   *cats = list_make1_oid(lamin_branch_catalog());
	ListCell   *lc;

	foreach(lc, lamin_registry_tables())
		cats = list_append_unique_oid(cats, lamin_enabled_table(lfirst_oid(lc)).branch_table);
	return cats;
}

/*
 * lamin.switch(name): make a branch the session's current branch. It must exist in lamin.branch
 * or in the branch catalog of an enabled table. Like SET, it is undone if the transaction fails.
 */
PG_FUNCTION_INFO_V1(lamin_switch);
Datum
lamin_switch(PG_FUNCTION_ARGS)
{
	char	   *name;
	ListCell   *lc;
	bool		found = false;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("branch name must not be null"),
				 errhint("Switch back to main with SELECT lamin.switch('main');")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (strlen(name) > SETTING_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("branch name is too long")));
	foreach(lc, branch_catalogs())
	{
		int32		id;

		if (resolve_branch(lfirst_oid(lc), name, &id, NULL, false))
		{
			found = true;
			break;
		}
	}
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("branch \"%s\" does not exist", name),
				 errhint("Create it with SELECT lamin.create_branch('%s'); the branches are listed by: SELECT id, name FROM lamin.branch;",
						 name)));
	(void) set_config_option("lamin_branch.current_branch",
							 pg_strcasecmp(name, "main") == 0 ? "" : name,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
	PG_RETURN_VOID();
}

/*
 * BEFORE UPDATE on lamin.branch: a branch becomes merged only by lamin.merge(), and a merged
 * branch stays merged.
 */
PG_FUNCTION_INFO_V1(lamin_branch_status_guard);
Datum
lamin_branch_status_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	int			att;
	bool		n1,
				n2;
	int16		before,
				after;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("lamin._branch_status_guard() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("lamin._branch_status_guard() must be fired BEFORE, FOR EACH ROW")));
	desc = RelationGetDescr(td->tg_relation);
	att = SPI_fnumber(desc, "_status_code");
	if (att <= 0)
		elog(ERROR, "branch catalog has no column \"_status_code\"");
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		after = DatumGetInt16(heap_getattr(td->tg_trigtuple, att, desc, &n2));
		if (!n2 && after == -1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a new branch cannot be merged"),
					 errdetail("A branch is marked merged by lamin.merge().")));
		return PointerGetDatum(td->tg_trigtuple);
	}
	if (!TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		return PointerGetDatum(td->tg_trigtuple);
	before = DatumGetInt16(heap_getattr(td->tg_trigtuple, att, desc, &n1));
	after = DatumGetInt16(heap_getattr(td->tg_newtuple, att, desc, &n2));
	if (!n1 && !n2 && before != after && (before == -1 || (after == -1 && !merging)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("branch \"%s\" %s", SPI_getvalue(td->tg_trigtuple, desc, SPI_fnumber(desc, "name")),
						before == -1 ? "is merged and stays merged" : "can be marked merged only by merging it"),
				 errhint("%s", before == -1 ? "Create a new branch for new work." :
						 "Merge it with SELECT lamin.merge(branch);")));
	return PointerGetDatum(td->tg_newtuple);
}

/* ---------------------------------------------------------------------------------------- */
/* Merging */

typedef struct MergeSide
{
	Oid			catalog;
	int32		source;
	int32		target;
} MergeSide;

typedef struct MergeCount
{
	int64		moved;
	int64		heads;
	int64		collisions;
	char	   *collision;		/* the first colliding key, for the message */
	char	   *collision_index;
} MergeCount;

static int64
spi_count(const char *sql, int nargs, Oid *types, Datum *values)
{
	bool		isnull;
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, true, 1);
	Datum		d;

	lamin_spi_check(rc, "merging");
	if (SPI_processed == 0)
		return 0;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetInt64(d);
}

/* "t.a, t.b" (with " DESC" after each when desc) for the table's key */
static char *
key_list(LaminTable *t, const char *alias, bool desc)
{
	StringInfoData s;
	int			i;

	initStringInfo(&s);
	for (i = 0; i < t->nkeys; i++)
		appendStringInfo(&s, "%s%s.%s%s", i ? ", " : "", alias, t->key_name[i], desc ? " DESC" : "");
	return s.data;
}

/*
 * Rows of the source whose unique key (an index that includes branch_id) a row of the target
 * already holds: the merge would duplicate it.
 */
static void
count_collisions(LaminTable *t, Datum *values, Oid *types, MergeCount *c, MemoryContext outer)
{
	SPITupleTable *idx;
	uint64		n,
				i;
	int			rc;
	char	   *q = psprintf(
		"SELECT i.indexrelid::pg_catalog.regclass::pg_catalog.text, "
		"  (SELECT pg_catalog.array_agg(pg_catalog.quote_ident(a.attname::pg_catalog.text) ORDER BY k.n) "
		"     FROM pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY k(att, n) "
		"     JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid "
		"      AND a.attnum OPERATOR(pg_catalog.=) k.att AND a.attname OPERATOR(pg_catalog.<>) 'branch_id'), "
		"  pg_catalog.pg_get_expr(i.indpred, i.indrelid) "
		"FROM pg_catalog.pg_index i WHERE i.indrelid OPERATOR(pg_catalog.=) %u AND i.indisunique "
		"AND i.indexprs IS NULL AND %d OPERATOR(pg_catalog.=) ANY (i.indkey::pg_catalog.int2[]) ORDER BY 1",
		t->query_relid, (int) t->att_branch);

	rc = SPI_execute(q, true, 0);
	lamin_spi_check(rc, "reading unique indexes");
	idx = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		char	   *index = SPI_getvalue(idx->vals[i], idx->tupdesc, 1);
		Datum		cols = SPI_getbinval(idx->vals[i], idx->tupdesc, 2, &isnull);
		char	   *pred = SPI_getvalue(idx->vals[i], idx->tupdesc, 3);
		Datum	   *names;
		int			ncols,
					k;
		StringInfoData on,
					shown,
					vals,
					sql;

		if (isnull)
			continue;			/* branch_id alone: every merge row would collide; not a key of records */
		deconstruct_array(DatumGetArrayTypeP(cols), TEXTOID, -1, false, TYPALIGN_INT, &names, NULL, &ncols);
		initStringInfo(&on);
		initStringInfo(&shown);
		initStringInfo(&vals);
		for (k = 0; k < ncols; k++)
		{
			char	   *col = TextDatumGetCString(names[k]);

			appendStringInfo(&on, " AND s.%s OPERATOR(pg_catalog.=) o.%s", col, col);
			appendStringInfo(&shown, "%s%s", k ? ", " : "", col);
			appendStringInfo(&vals, "%ss.%s", k ? ", " : "", col);
		}
		initStringInfo(&sql);
		appendStringInfo(&sql,
						 "SELECT pg_catalog.count(*) OVER (), pg_catalog.format('(%%s)=(%%s)', %s, "
						 "pg_catalog.concat_ws(', ', %s)) FROM "
						 "(SELECT * FROM %s WHERE branch_id OPERATOR(pg_catalog.=) $1%s%s%s) s JOIN "
						 "(SELECT * FROM %s WHERE branch_id OPERATOR(pg_catalog.=) $2%s%s%s) o ON true%s LIMIT 1",
						 quote_literal_cstr(shown.data), vals.data,
						 t->qualname, pred ? " AND (" : "", pred ? pred : "", pred ? ")" : "",
						 t->qualname, pred ? " AND (" : "", pred ? pred : "", pred ? ")" : "",
						 on.data);
		rc = SPI_execute_with_args(sql.data, 2, types, values, NULL, true, 1);
		lamin_spi_check(rc, "finding colliding keys");
		if (SPI_processed > 0)
		{
			c->collisions += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			if (c->collision == NULL)
			{
				c->collision = MemoryContextStrdup(outer, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
				c->collision_index = MemoryContextStrdup(outer, index);
			}
		}
	}
}

/*
 * One table's part of a merge, as the table's owner: with apply, lock the source's families
 * and rows, check, and move them; without, count what a merge would do.
 */
static void
merge_table(const LaminEnabled *e, MergeSide *side, bool apply, const char *source_name,
			const char *target_name, Oid caller, MergeCount *c)
{
	LaminTable *t = lamin_table_get(e->relid);
	LaminSavedUser saved;
	Oid			types[3] = {INT4OID, INT4OID, REGROLEOID};
	Datum		values[3];
	MemoryContext outer = CurrentMemoryContext;
	int			rc;

	memset(c, 0, sizeof(*c));
	values[0] = Int32GetDatum(side->source);
	values[1] = Int32GetDatum(side->target);
	values[2] = ObjectIdGetDatum(caller);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lamin_become_owner(t, &saved);

	/* families (slot order), then rows (key order), as every move locks them */
	if (apply && t->has_heads)
	{
		bool		wanted[LAMIN_FAMILY_SLOTS];
		uint64		i;

		rc = SPI_execute_with_args(psprintf("SELECT DISTINCT pg_catalog.substr(uid::pg_catalog.text, 1, %d) FROM %s "
											"WHERE branch_id OPERATOR(pg_catalog.=) $1 AND uid IS NOT NULL",
											LAMIN_UID_STEM_LEN, t->qualname),
								   1, types, values, NULL, true, 0);
		lamin_spi_check(rc, "finding the families");
		memset(wanted, 0, sizeof(wanted));
		for (i = 0; i < SPI_processed; i++)
			wanted[lamin_family_slot(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1))] = true;
		lamin_lock_family_slots(t, wanted);
	}
	if (apply)
	{
		rc = SPI_execute_with_args(psprintf("SELECT 1 FROM %s t WHERE branch_id OPERATOR(pg_catalog.=) $1 "
											"ORDER BY %s FOR UPDATE OF t",
											t->qualname, key_list(t, "t", false)),
								   1, types, values, NULL, false, 0);
		lamin_spi_check(rc, "locking the rows");
		c->moved = SPI_processed;
	}
	else
		c->moved = spi_count(psprintf("SELECT pg_catalog.count(*) FROM %s WHERE branch_id OPERATOR(pg_catalog.=) $1",
									  t->qualname), 1, types, values);

	if (c->moved > 0)
	{
		/* the caller's right, as for lamin.move_many(tbl, keys, target) */
		if (side->target == LAMIN_BRANCH_MAIN && !lamin_may_move(e, side->source, side->target, false, caller))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to merge rows of %s into main", get_rel_name(e->relid)),
					 errdetail("Bringing rows into main needs DELETE on view %s, as lamin.restore() does.",
							   lamin_qualified_name(e->trash_view)),
					 errhint("The owner grants it: GRANT DELETE ON %s TO %s;", lamin_qualified_name(e->trash_view),
							 quote_identifier(GetUserNameFromId(caller, false)))));
		lamin_check_move_right(e, side->source, side->target, false, caller);
		if (t->spaces &&
			spi_count(psprintf("SELECT pg_catalog.count(*) FROM %s WHERE branch_id OPERATOR(pg_catalog.=) $1 "
							   "AND NOT space_id::pg_catalog.int8 OPERATOR(pg_catalog.=) "
							   "ANY (lamin.writable_spaces($3)::pg_catalog.int8[])", t->qualname),
					  3, types, values) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to merge rows of table %s", t->qualname),
					 errdetail("Role \"%s\" has no write access to the space of some rows on branch \"%s\".",
							   GetUserNameFromId(caller, false), source_name)));

		/* heads: the newest version of each family the source touches, on the target */
		if (t->has_heads)
			c->heads = spi_count(psprintf(
				"SELECT pg_catalog.count(*) FROM (SELECT t.is_latest, pg_catalog.row_number() OVER "
				"(PARTITION BY pg_catalog.substr(t.uid::pg_catalog.text, 1, %d) ORDER BY %s%s) OPERATOR(pg_catalog.=) 1 AS head "
				"FROM %s t WHERE t.branch_id OPERATOR(pg_catalog.=) ANY (ARRAY[$1, $2]) "
				"AND pg_catalog.substr(t.uid::pg_catalog.text, 1, %d) IN "
				"(SELECT pg_catalog.substr(uid::pg_catalog.text, 1, %d) FROM %s WHERE branch_id OPERATOR(pg_catalog.=) $1)) x "
				"WHERE x.is_latest IS DISTINCT FROM x.head",
				LAMIN_UID_STEM_LEN,
				t->att_created_at != InvalidAttrNumber ? "t.created_at DESC NULLS LAST, " : "",
				key_list(t, "t", true), t->qualname, LAMIN_UID_STEM_LEN, LAMIN_UID_STEM_LEN, t->qualname),
								 2, types, values);
		count_collisions(t, values, types, c, outer);
		if (apply && c->collisions > 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("merging branch \"%s\" into \"%s\" would duplicate key %s of table %s",
							source_name, target_name, c->collision, t->qualname),
					 errdetail_plural("%lld row of branch \"%s\" collides with a row of \"%s\" in unique index %s; nothing was merged.",
									  "%lld rows of branch \"%s\" collide with rows of \"%s\" in unique index %s; nothing was merged.",
									  (unsigned long) c->collisions,
									  (long long) c->collisions, source_name, target_name, c->collision_index),
					 errhint("lamin.merge_preview('%s', '%s') lists them; change or move one of each pair first.",
							 source_name, target_name)));
		if (apply)
		{
			rc = SPI_execute_with_args(psprintf("UPDATE %s SET branch_id = $2%s WHERE branch_id OPERATOR(pg_catalog.=) $1",
												t->qualname, lamin_stamp_sql(t)),
									   2, types, values, NULL, false, 0);
			lamin_spi_check(rc, "merging the rows");
			c->moved = SPI_processed;
		}
	}
	lamin_restore_user(&saved);
	SPI_finish();
}

/* The merge's branches in one catalog: false when the catalog does not know the source. */
static bool
merge_side(Oid catalog, const char *source, const char *target, bool apply, MergeSide *side)
{
	int16		status = 0;
	int16		tstatus = 0;

	side->catalog = catalog;
	if (!resolve_branch(catalog, source, &side->source, &status, false))
		return false;
	if (!resolve_branch(catalog, target, &side->target, &tstatus, false))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("branch \"%s\" does not exist", target),
				 errdetail("Branch \"%s\" is in %s; the target must be there too.", source,
						   lamin_qualified_name(catalog)),
				 errhint("The branches are listed by: SELECT id, name FROM %s;", lamin_qualified_name(catalog))));
	if (side->source == side->target)
		return true;
	if (side->source <= LAMIN_BRANCH_MAIN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("branch \"%s\" cannot be merged", source),
				 errdetail("Only user branches are merged; main, archive and trash are not."),
				 errhint("Move rows between them with lamin.move_many().")));
	if (side->target == LAMIN_BRANCH_ARCHIVE || side->target == LAMIN_BRANCH_TRASH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot merge into branch \"%s\"", target),
				 errdetail("A merge target is main or a user branch.")));
	/* the source is locked: writers of rows on it wait for the merge, and see it merged */
	if (apply && !resolve_branch(catalog, source, &side->source, &status, true))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("branch \"%s\" does not exist", source)));
	if (status == -1 || status == -2)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("branch \"%s\" is %s", source, status == -1 ? "already merged" : "closed"),
				 errdetail("Only branches that are open (standalone, draft or review) are merged."),
				 status == -2 ? errhint("Reopen it first: SELECT lamin.set_branch_status('%s', 'draft');", source) : 0));
	if (tstatus == -1 || tstatus == -2)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("branch \"%s\" is %s", target, tstatus == -1 ? "merged" : "closed"),
				 errdetail("A merge target is main or an open user branch.")));
	return true;
}

static void
mark_merged(Oid catalog, int32 id)
{
	LaminSavedUser saved;
	Oid			types[1] = {INT4OID};
	Datum		values[1];
	int			rc;

	if (get_attnum(catalog, "_status_code") == InvalidAttrNumber)
		return;
	values[0] = Int32GetDatum(id);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lamin_become_role(lamin_relation_owner(catalog), &saved);
	merging = true;
	PG_TRY();
	{
		rc = SPI_execute_with_args(psprintf("UPDATE %s SET _status_code = -1 WHERE id OPERATOR(pg_catalog.=) $1",
											lamin_qualified_name(catalog)),
								   1, types, values, NULL, false, 0);
		lamin_spi_check(rc, "marking the branch merged");
	}
	PG_FINALLY();
	{
		merging = false;
	}
	PG_END_TRY();
	lamin_restore_user(&saved);
	SPI_finish();
}

static Datum
merge_impl(FunctionCallInfo fcinfo, bool apply)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *source;
	char	   *target;
	List	   *sides = NIL;
	List	   *tables = NIL;
	ListCell   *lc;
	Oid			caller = GetUserId();

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("branch to merge must not be null")));
	if (apply)
		PreventCommandDuringRecovery("merging branches");
	source = text_to_cstring(PG_GETARG_TEXT_PP(0));
	target = PG_ARGISNULL(1) ? pstrdup(setting_name()) : text_to_cstring(PG_GETARG_TEXT_PP(1));
	InitMaterializedSRF(fcinfo, 0);

	foreach(lc, branch_catalogs())
	{
		MergeSide  *side = palloc(sizeof(MergeSide));

		if (merge_side(lfirst_oid(lc), source, target, apply, side))
		{
			if (side->source == side->target)
			{
				ereport(NOTICE,
						(errmsg("branch \"%s\" is the target: nothing to merge", source)));
				PG_RETURN_VOID();
			}
			sides = lappend(sides, side);
		}
	}
	if (sides == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("branch \"%s\" does not exist", source),
				 errhint("The branches are listed by: SELECT id, name FROM lamin.branch;")));

	/* the enabled tables, in a fixed order */
	tables = lamin_registry_tables();

	foreach(lc, tables)
	{
		LaminEnabled e = lamin_enabled_table(lfirst_oid(lc));
		ListCell   *ls;

		foreach(ls, sides)
		{
			MergeSide  *side = lfirst(ls);
			MergeCount	c;
			Datum		out[5];
			bool		nulls[5] = {false, false, false, false, false};

			if (side->catalog != e.branch_table)
				continue;
			merge_table(&e, side, apply, source, target, caller, &c);
			out[0] = ObjectIdGetDatum(e.relid);
			out[1] = Int64GetDatum(c.moved);
			out[2] = Int64GetDatum(c.heads);
			if (!apply)
			{
				out[3] = Int64GetDatum(c.collisions);
				if (c.collision)
					out[4] = CStringGetTextDatum(psprintf("%s in %s", c.collision, c.collision_index));
				else
					nulls[4] = true;
			}
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, nulls);
		}
	}
	if (apply)
	{
		foreach(lc, sides)
		{
			MergeSide  *side = lfirst(lc);

			mark_merged(side->catalog, side->source);
		}
	}
	PG_RETURN_VOID();
}

/* lamin.merge(source, target): move every row of the source onto the target, mark it merged */
PG_FUNCTION_INFO_V1(lamin_merge);
Datum
lamin_merge(PG_FUNCTION_ARGS)
{
	return merge_impl(fcinfo, true);
}

/* lamin.merge_preview(source, target): what lamin.merge would do, and the keys that collide */
PG_FUNCTION_INFO_V1(lamin_merge_preview);
Datum
lamin_merge_preview(PG_FUNCTION_ARGS)
{
	return merge_impl(fcinfo, false);
}
