/*
 * held_keys.c: an INSERT through a main view whose key a row the view does not show already
 * holds (a row in the trash, the archive, or on another branch).
 *
 * Postgres reports such an INSERT with the table's unique violation, which does not say where
 * the holding row is, and the ordinary INSERT (its key drawn from the column's sequence) cannot
 * collide with a row that exists, so it must not pay for a look-up. Owns:
 *   - lamin_check_held_keys(), called by the planner hook (planner.c) for every INSERT it plans:
 *     when the statement inserts through the main view of a branch-enabled table and gives its
 *     primary key (a value, a parameter, a SELECT) rather than leaving it to the columns'
 *     defaults, the key's expression becomes lamin._key_free(table, expression); for a key of
 *     several columns, the last column's becomes lamin._keys_free(table, ROW(key columns),
 *     expression), where the key's expressions are not volatile (they are evaluated twice). Not
 *     for ON CONFLICT DO NOTHING, which asks Postgres to skip such rows silently; an ON CONFLICT
 *     DO UPDATE meets the check before its arbitration.
 *   - lamin._key_free(tbl, key), lamin._keys_free(tbl, keys, value): return the key (the value)
 *     after one look-up in the primary key index (for a role that may insert through the main
 *     view; for others, unread); when the row holding it is on a branch the main view does not
 *     show, fail with the unique
 *     violation's SQLSTATE (23505, what ORMs recognise) and the constraint's name, saying where
 *     the row is and how to bring it back. Which branch is named only to a role that may read
 *     it (the table's owner, or SELECT on the trash or archive view).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
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
#include "parser/parsetree.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

#include "compat.h"
#include "lamin_branch.h"

/*
 * lamin._key_free(regclass, anyelement) or lamin._keys_free(regclass, record, anyelement), or
 * InvalidOid where the installed version lacks it
 */
static Oid
key_free_function(bool several)
{
	Oid			argtypes[3] = {REGCLASSOID, several ? RECORDOID : ANYELEMENTOID, ANYELEMENTOID};

	if (!OidIsValid(get_namespace_oid("lamin", true)))
		return InvalidOid;
	return LookupFuncName(list_make2(makeString("lamin"), makeString(several ? "_keys_free" : "_key_free")),
						  several ? 3 : 2, argtypes, true);
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
 * Is the key's expression the column's own default (defs: the view's and the table's, either
 * NULL), that is, did the statement leave the key to the table? The default comes from the view
 * (a main view carries the table's defaults) or the table (identity columns); a multi-row VALUES
 * list takes it in every row. An identity or serial
 * sequence's nextval() counts whatever casts surround it.
 */
static bool
is_default(Query *q, Node *expr, Node *const defs[2])
{
	Node	   *bare = strip_implicit_coercions(expr);
	int			i;

	if (IsA(bare, NextValueExpr) || (IsA(bare, FuncExpr) && ((FuncExpr *) bare)->funcid == F_NEXTVAL))
		return true;
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

			if (!is_default(q, e, defs))
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
	TargetEntry *keys[INDEX_MAX_KEYS];
	TargetEntry *last;
	Expr	   *regclass;
	List	   *args;
	bool		through_main = false;
	bool		given = false;
	ListCell   *lc;
	Oid			fn;
	int			i;

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
	for (i = 0; i < t->nkeys; i++)
	{
		keys[i] = NULL;
		foreach(lc, q->targetList)
		{
			TargetEntry *tle = lfirst_node(TargetEntry, lc);

			if (!tle->resjunk && tle->resno == t->key_att[i])
				keys[i] = tle;
		}
		if (keys[i] == NULL)
			return;
		if (!given)
		{
			/* the column's default in the view (a main view carries the table's) and the table */
			Node	   *defs[2];

			defs[0] = column_default(e.main_view, t->att_names[t->key_att[i] - 1]);
			defs[1] = column_default(target->relid, t->att_names[t->key_att[i] - 1]);
			given = !is_default(q, (Node *) keys[i]->expr, defs);
		}
	}
	if (!given || !OidIsValid(fn = key_free_function(t->nkeys > 1)))
		return;
	last = keys[t->nkeys - 1];
	regclass = (Expr *) makeConst(REGCLASSOID, -1, InvalidOid, sizeof(Oid), ObjectIdGetDatum(target->relid),
								  false, true);
	if (t->nkeys == 1)
		args = list_make2(regclass, last->expr);
	else
	{
		/* the key's columns as one row, next to the last one's expression, which it returns */
		RowExpr    *row = makeNode(RowExpr);

		for (i = 0; i < t->nkeys; i++)
		{
			/* each expression is evaluated twice: only where that gives the same value */
			if (contain_volatile_functions((Node *) keys[i]->expr))
				return;
			row->args = lappend(row->args, copyObject(keys[i]->expr));
			row->colnames = lappend(row->colnames, makeString(pstrdup(t->att_names[t->key_att[i] - 1])));
		}
		row->row_typeid = RECORDOID;
		row->row_format = COERCE_IMPLICIT_CAST;
		row->location = -1;
		args = list_make3(regclass, row, last->expr);
	}
	last->expr = (Expr *) makeFuncExpr(fn, exprType((Node *) last->expr), args, InvalidOid,
									   exprCollation((Node *) last->expr), COERCE_EXPLICIT_CALL);
}

/* The branch of the row holding the key, as the statement sees the table; false when none */
static bool
holder_branch(LaminTable *t, Datum *values, int32 *branch)
{
	Relation	heap = table_open(t->relid, AccessShareLock);
	Relation	index = index_open(t->pk_index, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	ScanKeyData skeys[INDEX_MAX_KEYS];
	IndexScanDesc scan;
	bool		found = false;
	int			i;

	for (i = 0; i < t->nkeys; i++)
	{
		Oid			opno = get_opfamily_member(index->rd_opfamily[i], index->rd_opcintype[i],
											   index->rd_opcintype[i], BTEqualStrategyNumber);

		if (!OidIsValid(opno))
			elog(ERROR, "no equality operator for the primary key of %s", t->qualname);
		ScanKeyInit(&skeys[i], i + 1, BTEqualStrategyNumber, get_opcode(opno), values[i]);
		skeys[i].sk_collation = index->rd_indcollation[i];
	}
	scan = lamin_index_beginscan(heap, index, GetActiveSnapshot(), t->nkeys);
	index_rescan(scan, skeys, t->nkeys, NULL, 0);
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

/* The name of a user branch in the table's catalog, read as the catalog's owner; its id if none */
static char *
branch_name(Oid catalog, int32 branch)
{
	LaminSavedUser saved;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(branch)};
	char	   *name = NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lamin_become_role(lamin_relation_owner(catalog), &saved);
	if (SPI_execute_with_args(psprintf("SELECT name::text FROM %s WHERE id OPERATOR(pg_catalog.=) $1",
									   lamin_qualified_name(catalog)),
							  1, argtypes, args, NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
		name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	lamin_restore_user(&saved);
	name = name ? quote_literal_cstr(name) : psprintf("%d", branch);
	SPI_finish();
	return name;
}

/*
 * The key's check: for a role that may insert through the main view (as the statement it was put
 * in does; called by hand, it tells nobody else whether a key is taken), an error when a row the
 * view does not show holds the key.
 */
static void
check_key(const LaminEnabled *ep, LaminTable *t, Datum *values)
{
	LaminEnabled e = *ep;
	Oid			relid = t->relid;
	int32		branch;
	Oid			view;
	Oid			user = GetUserId();
	bool		may_read;
	char	   *keytext;
	char	   *column;
	char	   *shown;
	char	   *restore_key;
	Relation	rel;
	StringInfoData cols,
				text,
				arr;
	int			i;

	if (!OidIsValid(e.main_view) || pg_class_aclcheck(e.main_view, user, ACL_INSERT) != ACLCHECK_OK)
		return;
	if (!holder_branch(t, values, &branch) ||
		branch == LAMIN_BRANCH_MAIN || branch == lamin_current_branch_for(relid))
		return;

	view = branch == LAMIN_BRANCH_TRASH ? e.trash_view :
		branch == LAMIN_BRANCH_ARCHIVE ? e.archive_view : InvalidOid;
	may_read = has_privs_of_role(user, t->owner) ||
		(OidIsValid(view) && pg_class_aclcheck(view, user, ACL_SELECT) == ACLCHECK_OK);
	/*
	 * "(a, b)=(1, x)" as Postgres writes a key; the restore call's key as one typed value, or an
	 * array of texts for several columns
	 */
	initStringInfo(&cols);
	initStringInfo(&text);
	initStringInfo(&arr);
	appendStringInfoString(&arr, "ARRAY[");
	for (i = 0; i < t->nkeys; i++)
	{
		Oid			out;
		bool		varlena;
		char	   *v;

		getTypeOutputInfo(t->key_type[i], &out, &varlena);
		v = OidOutputFunctionCall(out, values[i]);
		appendStringInfo(&cols, "%s%s", i ? ", " : "", t->key_name[i]);
		appendStringInfo(&text, "%s%s", i ? ", " : "", v);
		appendStringInfo(&arr, "%s%s", i ? ", " : "", quote_literal_cstr(v));
	}
	appendStringInfoChar(&arr, ']');
	column = cols.data;
	keytext = text.data;
	restore_key = t->nkeys == 1 ?
		psprintf("%s::%s", quote_literal_cstr(keytext), format_type_be(t->key_type[0])) : arr.data;
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
				 errhint("Restore that row (SELECT lamin.restore('%s', %s);) or insert under another key.",
						 shown, restore_key),
				 errtableconstraint(rel, get_rel_name(t->pk_index))));
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNIQUE_VIOLATION),
			 errmsg("key (%s)=(%s) of %s is held by a row on branch %s", column, keytext, t->label,
					branch_name(e.branch_table, branch)),
			 errdetail("Key (%s)=(%s) already exists. View %s shows main and the current branch only.",
					   column, keytext, shown),
			 errhint("Switch to that branch to see the row, merge it into main, or insert under another key; the branches are listed by: SELECT id, name FROM %s;",
					 lamin_qualified_name(e.branch_table)),
			 errtableconstraint(rel, get_rel_name(t->pk_index))));
}

/* lamin._key_free(tbl, key): a one-column key, returned after its check */
PG_FUNCTION_INFO_V1(lamin_key_free);
Datum
lamin_key_free(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Datum		value = PG_GETARG_DATUM(1);
	LaminEnabled e;
	LaminTable *t = lamin_registry_lookup(relid, &e) && e.relid == relid ? lamin_table_get(relid) : NULL;

	if (t != NULL && t->nkeys == 1 && get_fn_expr_argtype(fcinfo->flinfo, 1) == t->key_type[0])
		check_key(&e, t, &value);
	PG_RETURN_DATUM(value);
}

/*
 * lamin._keys_free(tbl, keys, value): a key of several columns (keys, a row of them in key
 * order); returns value, the expression of the key's last column, after the check
 */
PG_FUNCTION_INFO_V1(lamin_keys_free);
Datum
lamin_keys_free(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	HeapTupleHeader keys = PG_GETARG_HEAPTUPLEHEADER(1);
	Datum		value = PG_GETARG_DATUM(2);
	LaminEnabled e;
	LaminTable *t = lamin_registry_lookup(relid, &e) && e.relid == relid ? lamin_table_get(relid) : NULL;
	TupleDesc	desc;
	HeapTupleData tuple;
	Datum		values[INDEX_MAX_KEYS];
	bool		nulls[INDEX_MAX_KEYS];
	bool		usable;
	int			i;

	if (t == NULL || t->nkeys < 2)
		PG_RETURN_DATUM(value);
	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(keys), HeapTupleHeaderGetTypMod(keys));
	usable = desc->natts == t->nkeys;
	for (i = 0; usable && i < t->nkeys; i++)
		usable = TupleDescAttr(desc, i)->atttypid == t->key_type[i];
	if (usable)
	{
		tuple.t_len = HeapTupleHeaderGetDatumLength(keys);
		ItemPointerSetInvalid(&(tuple.t_self));
		tuple.t_tableOid = InvalidOid;
		tuple.t_data = keys;
		heap_deform_tuple(&tuple, desc, values, nulls);
		for (i = 0; i < t->nkeys; i++)
			usable = usable && !nulls[i];
	}
	ReleaseTupleDesc(desc);
	if (usable)
		check_key(&e, t, values);
	PG_RETURN_DATUM(value);
}
