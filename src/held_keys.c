/*
 * held_keys.c: an INSERT through a main view whose key a row the view does not show already
 * holds (a row in the trash, the archive, or on another branch).
 *
 * Postgres reports such an INSERT with the table's unique violation, which does not say where
 * the holding row is, and the ordinary INSERT (its key drawn from the column's sequence) cannot
 * collide with a row that exists, so it must not pay for a look-up. Owns:
 *   - lamin_check_held_keys(), called by the planner hook (planner.c) for every INSERT it plans:
 *     when the statement inserts through the main view of a branch-enabled table with a
 *     one-column primary key, and the statement gives that key (a value, a parameter, a SELECT)
 *     rather than leaving it to the column's default, the key's expression becomes
 *     lamin._key_free(table, expression). Not for ON CONFLICT DO NOTHING, which asks Postgres to
 *     skip such rows silently; an ON CONFLICT DO UPDATE meets the check before its arbitration.
 *   - lamin._key_free(tbl, key): returns the key, after one look-up in the primary key index
 *     (for a role that may insert through the main view; for others it returns the key unread);
 *     when the row holding it is on a branch the main view does not show, fails with the unique
 *     violation's SQLSTATE (23505, what ORMs recognise) and the constraint's name, saying where
 *     the row is and how to bring it back. Which branch is named only to a role that may read
 *     it (the table's owner, or SELECT on the trash or archive view).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_func.h"
#include "parser/parse_relation.h"
#include "rewrite/rewriteHandler.h"
#include "parser/parsetree.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "compat.h"
#include "lamin_branch.h"

/* lamin._key_free(regclass, anyelement), or InvalidOid where the installed version lacks it */
static Oid
key_free_function(void)
{
	Oid			argtypes[2] = {REGCLASSOID, ANYELEMENTOID};

	if (!OidIsValid(get_namespace_oid("lamin", true)))
		return InvalidOid;
	return LookupFuncName(list_make2(makeString("lamin"), makeString("_key_free")), 2, argtypes, true);
}

/* The default an INSERT that leaves the column out gets from relation relid, or NULL */
static Node *
column_default(Oid relid, const char *column)
{
	Relation	rel = relation_open(relid, NoLock); /* locked by the rewriter */
	AttrNumber	att = attnameAttNum(rel, column, false);
	Node	   *def = att > 0 ? build_column_default(rel, att) : NULL;

	relation_close(rel, NoLock);
	return def;
}

/*
 * Is the key's expression the column's own default, that is, did the statement leave the key to
 * the table? The default comes from the view (a main view carries the table's defaults) or the
 * table (identity columns); a multi-row VALUES list takes it in every row. An identity or serial
 * sequence's nextval() counts whatever casts surround it.
 */
static bool
is_default(Query *q, Node *expr, Oid table, Oid view, const char *column)
{
	Node	   *defs[2];
	Node	   *bare = strip_implicit_coercions(expr);
	int			i;

	if (IsA(bare, NextValueExpr) || (IsA(bare, FuncExpr) && ((FuncExpr *) bare)->funcid == F_NEXTVAL))
		return true;
	defs[0] = column_default(view, column);
	defs[1] = column_default(table, column);
	for (i = 0; i < 2; i++)
	{
		if (defs[i] != NULL && equal(expr, defs[i]))
			return true;
	}
	if (IsA(expr, Var) && ((Var *) expr)->varlevelsup == 0)
	{
		Var		   *var = (Var *) expr;
		RangeTblEntry *values = rt_fetch(var->varno, q->rtable);
		ListCell   *lc;

		if (values->rtekind != RTE_VALUES)
			return false;
		foreach(lc, values->values_lists)
		{
			Node	   *e = list_nth(lfirst(lc), var->varattno - 1);

			if (!is_default(q, e, table, view, column))
				return false;
		}
		return true;
	}
	return false;
}

void
lamin_check_held_keys(Query *q)
{
	RangeTblEntry *target;
	LaminEnabled e;
	LaminTable *t;
	TargetEntry *key = NULL;
	bool		through_main = false;
	ListCell   *lc;
	Oid			fn;

	if (q->commandType != CMD_INSERT || q->resultRelation == 0)
		return;
	if (q->onConflict && q->onConflict->action == ONCONFLICT_NOTHING)
		return;
	target = rt_fetch(q->resultRelation, q->rtable);
	if (target->rtekind != RTE_RELATION || target->relkind != RELKIND_RELATION)
		return;
	if (!lamin_registry_lookup(target->relid, &e) || e.relid != target->relid ||
		!OidIsValid(e.main_view) || lamin_planned_elsewhere(target->relid))
		return;
	/* the rewriter keeps the view it redirected the INSERT from in the range table */
	foreach(lc, q->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind == RTE_RELATION && rte->relid == e.main_view)
			through_main = true;
	}
	if (!through_main)
		return;
	t = lamin_table_get(target->relid);
	if (t->nkeys != 1)
		return;
	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (!tle->resjunk && tle->resno == t->key_att[0])
			key = tle;
	}
	if (key == NULL || !OidIsValid(fn = key_free_function()) ||
		is_default(q, (Node *) key->expr, target->relid, e.main_view, t->att_names[t->key_att[0] - 1]))
		return;
	key->expr = (Expr *) makeFuncExpr(fn, exprType((Node *) key->expr),
									  list_make2(makeConst(REGCLASSOID, -1, InvalidOid, sizeof(Oid),
														   ObjectIdGetDatum(target->relid), false, true),
												 key->expr),
									  InvalidOid, exprCollation((Node *) key->expr), COERCE_EXPLICIT_CALL);
}

/* The branch of the row holding the key, as the statement sees the table; false when none */
static bool
holder_branch(LaminTable *t, Datum value, int32 *branch)
{
	Relation	heap = table_open(t->relid, AccessShareLock);
	Relation	index = index_open(t->pk_index, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	Oid			opno = get_opfamily_member(index->rd_opfamily[0], index->rd_opcintype[0],
										   index->rd_opcintype[0], BTEqualStrategyNumber);
	ScanKeyData skey;
	IndexScanDesc scan;
	bool		found = false;

	if (!OidIsValid(opno))
		elog(ERROR, "no equality operator for the primary key of %s", t->qualname);
	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, get_opcode(opno), value);
	skey.sk_collation = index->rd_indcollation[0];
	scan = lamin_index_beginscan(heap, index, GetActiveSnapshot(), 1);
	index_rescan(scan, &skey, 1, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, t->att_branch, &isnull);

		*branch = isnull ? LAMIN_BRANCH_MAIN : DatumGetInt32(d);
		found = true;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);
	return found;
}

/* The name of a user branch in the table's catalog, read as the table's owner; its id if none */
static char *
branch_name(LaminTable *t, Oid catalog, int32 branch)
{
	LaminSavedUser saved;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(branch)};
	char	   *name = NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lamin_become_owner(t, &saved);
	if (SPI_execute_with_args(psprintf("SELECT name::text FROM %s WHERE id OPERATOR(pg_catalog.=) $1",
									   lamin_qualified_name(catalog)),
							  1, argtypes, args, NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
		name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	lamin_restore_user(&saved);
	name = name ? quote_literal_cstr(name) : psprintf("%d", branch);
	SPI_finish();
	return name;
}

PG_FUNCTION_INFO_V1(lamin_key_free);
Datum
lamin_key_free(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Datum		value = PG_GETARG_DATUM(1);
	LaminTable *t;
	LaminEnabled e;
	int32		branch;
	Oid			view;
	Oid			user = GetUserId();
	bool		may_read;
	char	   *keytext;
	char	   *column;
	char	   *shown;
	Relation	rel;

	/*
	 * Only for a role that may insert through the main view (as the statement it was put in
	 * does): called by hand, it tells nobody else whether a key is taken.
	 */
	if (!lamin_registry_lookup(relid, &e) || e.relid != relid || !OidIsValid(e.main_view) ||
		pg_class_aclcheck(e.main_view, user, ACL_INSERT) != ACLCHECK_OK)
		PG_RETURN_DATUM(value);
	t = lamin_table_get(relid);
	if (t->nkeys != 1 || get_fn_expr_argtype(fcinfo->flinfo, 1) != t->key_type[0] ||
		!holder_branch(t, value, &branch) ||
		branch == LAMIN_BRANCH_MAIN || branch == lamin_current_branch_for(relid))
		PG_RETURN_DATUM(value);

	view = branch == LAMIN_BRANCH_TRASH ? e.trash_view :
		branch == LAMIN_BRANCH_ARCHIVE ? e.archive_view : InvalidOid;
	may_read = has_privs_of_role(user, t->owner) ||
		(OidIsValid(view) && pg_class_aclcheck(view, user, ACL_SELECT) == ACLCHECK_OK);
	keytext = lamin_key_text(t, &value);
	column = t->key_name[0];
	shown = lamin_qualified_name(e.main_view);
	rel = table_open(relid, NoLock);	/* the INSERT holds its lock */
	if (!may_read)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("key (%s)=(%s) of %s is held by a row that view %s does not show",
						column, keytext, t->label, shown),
				 errdetail("Key (%s)=(%s) already exists.", column, keytext),
				 errhint("Insert under another key, or ask the owner of table %s to restore or purge that row.",
						 t->qualname),
				 errtableconstraint(rel, get_rel_name(t->pk_index))));
	if (OidIsValid(view))
	{
		const char *where = branch == LAMIN_BRANCH_TRASH ? "trash" : "archive";

		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("key (%s)=(%s) of %s is held by a row in the %s", column, keytext, t->label, where),
				 errdetail("Key (%s)=(%s) already exists. View %s does not show the %s; view %s does.",
						   column, keytext, shown, where, lamin_qualified_name(view)),
				 errhint("Restore that row (SELECT lamin.restore('%s', %s::%s);) or insert under another key.",
						 shown, quote_literal_cstr(keytext), format_type_be(t->key_type[0])),
				 errtableconstraint(rel, get_rel_name(t->pk_index))));
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNIQUE_VIOLATION),
			 errmsg("key (%s)=(%s) of %s is held by a row on branch %s", column, keytext, t->label,
					branch_name(t, e.branch_table, branch)),
			 errdetail("Key (%s)=(%s) already exists. View %s shows main and the current branch only.",
					   column, keytext, shown),
			 errhint("Switch to that branch to see the row, merge it into main, or insert under another key; the branches are listed by: SELECT id, name FROM %s;",
					 lamin_qualified_name(e.branch_table)),
			 errtableconstraint(rel, get_rel_name(t->pk_index))));
	PG_RETURN_DATUM(value);
}
