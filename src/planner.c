/*
 * planner.c: read a branch view as cheaply as the table it shows.
 *
 * A branch view is "SELECT <the table's columns> FROM t WHERE branch_id = 1" (and, with spaces,
 * a space filter). Postgres plans a view as a subquery: it copies the view's query and then
 * pulls it up into the query that uses it, which for a table of twenty-odd columns costs more
 * planning time than the scan of a few hundred rows through an index. A security_barrier view
 * is worse: it is never pulled up, and the plan projects every column of every row through a
 * SubqueryScan.
 *
 * Before the planner sees a query, this hook turns each such view back into the table itself
 * (a top-level SELECT has it done once, right after parse analysis: see lamin_post_parse_analyze),
 * with the view's WHERE clause as a security qual of the table: what Postgres does for a
 * security_barrier view that is the target of an UPDATE or DELETE (rewriteTargetView), and for
 * a row-level security policy. Security quals are evaluated before any condition of the
 * query that is not leakproof, so a user's function in a WHERE clause never sees a row the view
 * hides; leakproof conditions (such as "id BETWEEN ...") still go into index scans. The view's
 * own permission entries stay in the range table, so privileges are checked exactly as before:
 * the view's for the caller, the table's for the view owner (or for the caller, for a
 * security_invoker view).
 *
 * Only views whose shape makes this exact are changed: one plain table carrying the
 * lamin_branch_row trigger, the table's columns as they are, in table order, a WHERE clause and
 * nothing else, not locked FOR UPDATE, and used as a whole row only where the table's row is the
 * view's row (no dropped columns, no child tables), and planned by Postgres itself (not a Citus
 * table: Citus plans its tables without security quals). Where columns were dropped, the query's
 * references to view column k are rewritten to the table's column number. Anything else is left
 * to Postgres. Without this module loaded (see README: shared_preload_libraries)
 * or with lamin_branch.flatten_views = off, queries return the same rows, with the same
 * protection, through Postgres's own view planning.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "catalog/pg_namespace.h"
#include "utils/fmgroids.h"
#include "fmgr.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/planner.h"
#include "miscadmin.h"
#include "parser/analyze.h"
#include "rewrite/rewriteHandler.h"
#include "utils/plancache.h"
#include "utils/snapmgr.h"
#include "parser/parse_coerce.h"
#include "storage/lmgr.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "catalog/namespace.h"
#include "access/sysattr.h"
#include "utils/acl.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "parser/parse_relation.h"
#include "parser/parse_type.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "compat.h"
#include "lamin_branch.h"

static planner_hook_type prev_planner_hook = NULL;
static post_parse_analyze_hook_type prev_post_parse_analyze_hook = NULL;
static bool flatten_views = true;

/*
 * Does the query name range entry varno (at this query level, or in a sub-query below it) in a
 * WHERE CURRENT OF? Postgres does not implement that for a view; the hook leaves such a view to
 * Postgres, so that the statement fails the same way with the hook on and off.
 */
typedef struct CurrentOfContext
{
	Index		varno;
	int			sublevels_up;
} CurrentOfContext;

static bool
current_of_walker(Node *node, CurrentOfContext *ctx)
{
	if (node == NULL)
		return false;
	if (IsA(node, CurrentOfExpr))
		return ((CurrentOfExpr *) node)->cvarno == ctx->varno && ctx->sublevels_up == 0;
	if (IsA(node, Query))
	{
		bool		found;

		ctx->sublevels_up++;
		found = query_tree_walker((Query *) node, current_of_walker, (void *) ctx, 0);
		ctx->sublevels_up--;
		return found;
	}
	return expression_tree_walker(node, current_of_walker, (void *) ctx);
}

/*
 * Does another planner take this table over? Citus plans a query over a distributed, reference
 * or Citus-managed local table itself and sends each shard its own SQL, built from the query's
 * join tree and WHERE clauses: security quals are not carried, so a flattened view would read
 * every branch on the shards. Citus lists the tables it plans in pg_catalog.pg_dist_partition
 * (one row per table, unique on logicalrelid); where that catalog exists, a table named in it
 * is left to Postgres's own view planning, which Citus handles as a subquery with its WHERE.
 */
bool
lamin_planned_elsewhere(Oid relid)
{
	Oid			catalog = get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE);
	Oid			index;
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	bool		found;

	if (!OidIsValid(catalog))
		return false;
	index = get_relname_relid("pg_dist_partition_logical_relid_index", PG_CATALOG_NAMESPACE);
	rel = table_open(catalog, AccessShareLock);
	if (RelationGetDescr(rel)->natts < 1 ||
		TupleDescAttr(RelationGetDescr(rel), 0)->atttypid != REGCLASSOID)
	{
		/* not the catalog this looks for: prove nothing, change nothing */
		table_close(rel, AccessShareLock);
		return true;
	}
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, index, OidIsValid(index), NULL, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/* lamin._citus_table(regclass): is the table Citus's to plan? */
PG_FUNCTION_INFO_V1(lamin_citus_table);
Datum
lamin_citus_table(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(lamin_planned_elsewhere(PG_GETARG_OID(0)));
}

/*
 * May the hook plan this table in place of a view of it? It must be a branch-enabled table (it
 * carries the extension's row trigger) that Postgres's own planner plans.
 */
static bool
is_branch_table(Oid relid)
{
	Relation	rel = table_open(relid, NoLock);	/* locked by the rewriter or plan cache */
	bool		found = false;

	if (rel->trigdesc != NULL)
	{
		for (int i = 0; i < rel->trigdesc->numtriggers && !found; i++)
			found = strcmp(rel->trigdesc->triggers[i].tgname, "lamin_branch_row") == 0;
	}
	table_close(rel, NoLock);
	return found && !lamin_planned_elsewhere(relid);
}

/*
 * Is this sub-query entry a view the rewriter expanded (rather than a sub-query written in the
 * query)? From PostgreSQL 16 the entry keeps the view's relid; before, the view's query holds
 * its OLD and NEW entries, which are views outside the view's FROM clause.
 */
static bool
is_expanded_view(RangeTblEntry *rte, Index table_rti)
{
	Query	   *sq = rte->subquery;
	ListCell   *lc;
	Index		i = 0;

#ifdef LAMIN_HAS_PERMINFO
	if (!OidIsValid(rte->relid) || list_length(sq->rtable) != 1)
		return false;
#else
	/*
	 * The view's OLD and NEW entries come first (the table after them): a sub-query into
	 * which a view was flattened when it was parsed keeps them after its table.
	 */
	if (list_length(sq->rtable) < 3 || table_rti <= PRS2_NEW_VARNO)
		return false;
#endif
	foreach(lc, sq->rtable)
	{
		RangeTblEntry *other = lfirst_node(RangeTblEntry, lc);

		i++;
		if (i != table_rti &&
			(other->rtekind != RTE_RELATION || other->relkind != RELKIND_VIEW || other->inFromCl))
			return false;
	}
	return true;
}

/*
 * The range index, in the view's query, of the one table a flattenable view reads; 0 if the
 * view is anything more than the table's columns filtered by a WHERE clause.
 */
static Index
view_table_index(Query *q, Index rti, RangeTblEntry *rte)
{
	Query	   *sq = rte->subquery;
	RangeTblRef *ref;
	RangeTblEntry *brte;
	ListCell   *lc;
	AttrNumber	attno = 0;
	AttrNumber	prev_att = 0;	/* table column of the previous view column */
	CurrentOfContext ctx;

	if (sq == NULL || rte->securityQuals != NIL || rte->tablesample != NULL)
		return 0;
	if (sq->commandType != CMD_SELECT || sq->utilityStmt != NULL ||
		sq->hasAggs || sq->hasWindowFuncs || sq->hasTargetSRFs || sq->hasDistinctOn ||
		sq->hasRecursive || sq->hasModifyingCTE || sq->hasForUpdate ||
		sq->cteList != NIL || sq->groupClause != NIL || sq->groupingSets != NIL ||
		sq->havingQual != NULL || sq->windowClause != NIL || sq->distinctClause != NIL ||
		sq->sortClause != NIL || sq->limitOffset != NULL || sq->limitCount != NULL ||
		sq->rowMarks != NIL || sq->setOperations != NULL || sq->withCheckOptions != NIL)
		return 0;
	if (sq->jointree == NULL || list_length(sq->jointree->fromlist) != 1 ||
		!IsA(linitial(sq->jointree->fromlist), RangeTblRef))
		return 0;
	ref = linitial_node(RangeTblRef, sq->jointree->fromlist);
	brte = rt_fetch(ref->rtindex, sq->rtable);
	if (brte->rtekind != RTE_RELATION || brte->tablesample != NULL ||
		(brte->relkind != RELKIND_RELATION && brte->relkind != RELKIND_PARTITIONED_TABLE))
		return 0;
	if (!is_expanded_view(rte, ref->rtindex))
		return 0;

	/*
	 * Each column of the view is a column of the table, in table order: column k of the view is
	 * column k of the table, or a later one where columns were dropped.
	 */
	foreach(lc, sq->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Var		   *var = (Var *) tle->expr;

		attno++;
		if (tle->resjunk || tle->resno != attno || !IsA(var, Var) ||
			var->varno != ref->rtindex || var->varlevelsup != 0 || var->varattno <= prev_att)
			return 0;
		prev_att = var->varattno;
	}

	/* the query does not lock the view's rows */
	foreach(lc, q->rowMarks)
	{
		if (lfirst_node(RowMarkClause, lc)->rti == rti)
			return 0;
	}

	/* WHERE CURRENT OF a view is an error Postgres raises itself */
	ctx.varno = rti;
	ctx.sublevels_up = 0;
	if (query_tree_walker(q, current_of_walker, (void *) &ctx, 0))
		return 0;

	if (!is_branch_table(brte->relid))
		return 0;
	return ref->rtindex;
}

/*
 * References to a view's columns become references to its table's columns: column k of the view
 * is column map[k - 1] of the table. A whole-row reference becomes the view's row built from
 * those columns (NULL where the row is the null side of an outer join: the key is never NULL in a
 * row that exists), so it never depends on the table's row type, which can gain columns between
 * planning and execution, nor on dropped columns or child tables.
 */
typedef struct RemapContext
{
	Index		varno;
	int			sublevels_up;
	AttrNumber *map;
	int			ncols;
	AttrNumber	key_att;		/* a primary key column of the table: NOT NULL */
	Oid			key_type;
	int32		key_typmod;
	Oid			key_collation;
} RemapContext;

static Node *
view_row(Var *var, RemapContext *ctx)
{
	Oid			view = typeidTypeRelid(var->vartype);
	Relation	rel;
	TupleDesc	desc;
	RowExpr    *row = makeNode(RowExpr);
	NullTest   *isnull = makeNode(NullTest);
	CaseExpr   *cexpr = makeNode(CaseExpr);
	CaseWhen   *when = makeNode(CaseWhen);
	int			k = 0;

	if (!OidIsValid(view))
		elog(ERROR, "whole-row reference of type %u is not a view's row", var->vartype);
	rel = relation_open(view, NoLock);	/* locked: the view is in the range table */
	desc = RelationGetDescr(rel);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
		{
			row->args = lappend(row->args, makeNullConst(INT4OID, -1, InvalidOid));
			row->colnames = lappend(row->colnames, makeString(pstrdup("")));
			continue;
		}
		if (k >= ctx->ncols)
			elog(ERROR, "view \"%s\" has more columns than its query", RelationGetRelationName(rel));
		row->args = lappend(row->args,
							makeVar(var->varno, ctx->map[k], att->atttypid, att->atttypmod,
									att->attcollation, var->varlevelsup));
		row->colnames = lappend(row->colnames, makeString(pstrdup(NameStr(att->attname))));
		k++;
	}
	relation_close(rel, NoLock);
	row->row_typeid = var->vartype;
	row->row_format = COERCE_IMPLICIT_CAST;
	row->location = -1;

	isnull->arg = (Expr *) makeVar(var->varno, ctx->key_att, ctx->key_type, ctx->key_typmod,
								   ctx->key_collation, var->varlevelsup);
	isnull->nulltesttype = IS_NULL;
	isnull->argisrow = false;
	isnull->location = -1;
	when->expr = (Expr *) isnull;
	when->result = (Expr *) makeNullConst(var->vartype, -1, InvalidOid);
	when->location = -1;
	cexpr->casetype = var->vartype;
	cexpr->casecollid = InvalidOid;
	cexpr->arg = NULL;
	cexpr->args = list_make1(when);
	cexpr->defresult = (Expr *) row;
	cexpr->location = -1;
	return (Node *) cexpr;
}

static Node *
remap_mutator(Node *node, RemapContext *ctx)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		if (var->varno != ctx->varno || (int) var->varlevelsup != ctx->sublevels_up)
			return (Node *) copyObject(var);
		if (var->varattno == InvalidAttrNumber)
			return view_row(var, ctx);
		var = (Var *) copyObject(node);
		if (var->varattno > 0)
		{
			if (var->varnosyn == var->varno && var->varattnosyn == var->varattno)
				var->varattnosyn = ctx->map[var->varattno - 1];
			var->varattno = ctx->map[var->varattno - 1];
		}
		return (Node *) var;
	}
	if (IsA(node, Query))
	{
		Query	   *result;

		ctx->sublevels_up++;
		result = query_tree_mutator((Query *) node, remap_mutator, (void *) ctx, 0);
		ctx->sublevels_up--;
		return (Node *) result;
	}
	return expression_tree_mutator(node, remap_mutator, (void *) ctx);
}

/*
 * The table's column names as a query's alias for it would give them: the table's own, an empty
 * string for a dropped column, and where the query named the view's columns (FROM v AS x(a, b)),
 * those names on the table columns they stand for.
 */
static Alias *
table_alias(const char *aliasname, List *given, List *table_colnames, AttrNumber *map, int ncols,
			bool eref)
{
	List	   *colnames = NIL;
	int			naliases = list_length(given);
	int			last = naliases > 0 ? map[Min(naliases, ncols) - 1] : 0;
	int			k = 0;
	int			p = 0;
	ListCell   *lc;

	foreach(lc, table_colnames)
	{
		const char *name = strVal(lfirst(lc));

		p++;
		if (!eref && p > last)
			break;
		if (k < ncols && map[k] == p)
		{
			if (k < naliases)
				name = strVal(list_nth(given, k));
			k++;
		}
		colnames = lappend(colnames, makeString(pstrdup(name)));
	}
	return makeAlias(aliasname, colnames);
}

/*
 * Does the query refer to the whole row of range entry varno? Then the references are rewritten
 * even where the view's columns are the table's first ones.
 */
static bool
whole_row_walker(Node *node, CurrentOfContext *ctx)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		return var->varno == ctx->varno && (int) var->varlevelsup == ctx->sublevels_up &&
			var->varattno == InvalidAttrNumber;
	}
	if (IsA(node, Query))
	{
		bool		found;

		ctx->sublevels_up++;
		found = query_tree_walker((Query *) node, whole_row_walker, (void *) ctx, 0);
		ctx->sublevels_up--;
		return found;
	}
	return expression_tree_walker(node, whole_row_walker, (void *) ctx);
}

/* A primary key column of the table, which no existing row has NULL. */
static void
table_key_column(Oid relid, RemapContext *ctx)
{
	Relation	rel = table_open(relid, NoLock);
	Relation	idx;
	Form_pg_attribute att;

	list_free(RelationGetIndexList(rel));
	if (!OidIsValid(rel->rd_pkindex))
		elog(ERROR, "branch-enabled table \"%s\" has no primary key", RelationGetRelationName(rel));
	idx = index_open(rel->rd_pkindex, AccessShareLock);
	ctx->key_att = idx->rd_index->indkey.values[0];
	index_close(idx, AccessShareLock);
	att = TupleDescAttr(RelationGetDescr(rel), ctx->key_att - 1);
	ctx->key_type = att->atttypid;
	ctx->key_typmod = att->atttypmod;
	ctx->key_collation = att->attcollation;
	table_close(rel, NoLock);
}

/*
 * Turn range entry rti of q, a flattenable view reading table entry b of its query, into the
 * table. The query's references to the view's columns and rows are rewritten first (which
 * copies q's range table), then the entry becomes the table with the view's condition as its
 * security qual, and the view's permission entry stays in the range table, outside the join tree.
 */
static void
flatten_view(Query *q, Index rti, Index b)
{
	RangeTblEntry *rte = rt_fetch(rti, q->rtable);
	Query	   *sq = rte->subquery;
	RangeTblEntry *brte;
	List	   *quals = NIL;
	ListCell   *lc;
	Index		i = 0;
	int			ncols = list_length(sq->targetList);
	AttrNumber *map = palloc(sizeof(AttrNumber) * (ncols + 1));
	RemapContext ctx;
	Alias	   *user_alias = rte->alias;
	const char *refname = rte->eref->aliasname;

	CurrentOfContext wctx;
	bool		identity = true;

	foreach(lc, sq->targetList)
	{
		map[i] = ((Var *) lfirst_node(TargetEntry, lc)->expr)->varattno;
		identity &= map[i] == (AttrNumber) (i + 1);
		i++;
	}
	brte = rt_fetch(b, sq->rtable);

	wctx.varno = rti;
	wctx.sublevels_up = 0;
	if (!identity || query_tree_walker(q, whole_row_walker, (void *) &wctx, 0))
	{
		memset(&ctx, 0, sizeof(ctx));
		ctx.varno = rti;
		ctx.sublevels_up = 0;
		ctx.map = map;
		ctx.ncols = ncols;
		table_key_column(brte->relid, &ctx);
		(void) query_tree_mutator(q, remap_mutator, (void *) &ctx, QTW_DONT_COPY_QUERY);
		rte = rt_fetch(rti, q->rtable);
		sq = rte->subquery;
		brte = rt_fetch(b, sq->rtable);
	}

#ifdef LAMIN_HAS_PERMINFO
	{
		/*
		 * The view's permission entry (the caller's right on the view) stays with an entry for the
		 * view outside the join tree; the table gets its own entry, from the view's query (the view
		 * owner's right on the table, or the caller's for a security_invoker view).
		 */
		RangeTblEntry *vrte = makeNode(RangeTblEntry);
		RTEPermissionInfo *tperm;

		vrte->rtekind = RTE_RELATION;
		vrte->relid = rte->relid;
		vrte->relkind = RELKIND_VIEW;
		vrte->rellockmode = rte->rellockmode;
		vrte->perminfoindex = rte->perminfoindex;
		vrte->inh = false;
		vrte->inFromCl = false;
		vrte->alias = NULL;
		vrte->eref = makeAlias(get_rel_name(rte->relid), NIL);
		q->rtable = lappend(q->rtable, vrte);

		if (brte->perminfoindex != 0)
		{
			tperm = copyObject(getRTEPermissionInfo(sq->rteperminfos, brte));
			q->rteperminfos = lappend(q->rteperminfos, tperm);
			rte->perminfoindex = list_length(q->rteperminfos);
		}
		else
			rte->perminfoindex = 0;
	}
#else
	/* the view's permission entries (its OLD and NEW entries) move up, outside the join tree */
	i = 0;
	foreach(lc, sq->rtable)
	{
		if (++i != b)
			q->rtable = lappend(q->rtable, lfirst(lc));
	}
	rte->requiredPerms = brte->requiredPerms;
	rte->checkAsUser = brte->checkAsUser;
	rte->selectedCols = brte->selectedCols;
	rte->insertedCols = NULL;
	rte->updatedCols = NULL;
	rte->extraUpdatedCols = NULL;
#endif

	/* the table's own security quals (row-level security) first, then the view's condition */
	foreach(lc, brte->securityQuals)
	{
		Node	   *qual = (Node *) lfirst(lc);

		ChangeVarNodes(qual, b, rti, 0);
		quals = lappend(quals, qual);
	}
	if (sq->jointree->quals != NULL)
	{
		ChangeVarNodes(sq->jointree->quals, b, rti, 0);
		/* a main view's current branch, as the hand-written query would name it (branches.c) */
		quals = lappend(quals, lamin_bake_current_branch(sq->jointree->quals));
	}

	rte->rtekind = RTE_RELATION;
	rte->relid = brte->relid;
	rte->relkind = brte->relkind;
	rte->rellockmode = brte->rellockmode;
	rte->tablesample = NULL;
	rte->subquery = NULL;
	rte->security_barrier = false;
	rte->lateral = false;
	rte->inh = brte->inh;
	rte->securityQuals = quals;
	/* the names a query gave the view's columns now stand on the table's columns */
	if (user_alias)
		rte->alias = table_alias(user_alias->aliasname, user_alias->colnames, brte->eref->colnames,
								 map, ncols, false);
	rte->eref = table_alias(refname, user_alias ? user_alias->colnames : NIL, brte->eref->colnames,
							map, ncols, true);
	pfree(map);

	q->hasSubLinks |= sq->hasSubLinks;
	q->hasRowSecurity |= sq->hasRowSecurity;
}

/*
 * A DELETE through a main or archive view moves the rows it deletes to trash. Postgres runs the
 * view's INSTEAD OF trigger once per row, and each call is a statement of its own; with this
 * module loaded the DELETE is planned as the one UPDATE it stands for:
 *
 *     DELETE FROM v WHERE ...   ->   UPDATE t SET branch_id = -1 WHERE <view's condition> AND ...
 *
 * (and updated_at = statement_timestamp(), where the table has it: the row trigger's stamp),
 * the view's condition a security qual of the table, as for a read. Concurrent changes are
 * followed as the trigger follows them: a row another transaction moved off the view's branch
 * meanwhile fails the recheck and is not counted. The row trigger of the table checks the
 * caller's right for each row moved, as it does for any UPDATE of branch_id, and the statement
 * trigger recomputes version heads once. The statement still reports DELETE and the number of
 * rows moved. Only where the result is exactly the trigger's: the view's only DELETE trigger is
 * lamin.view_delete_trigger(), the view reads its table with its owner's rights and no policy
 * applies to the owner, and RETURNING shows neither the branch nor updated_at (which the UPDATE
 * changes) nor whole rows.
 */
typedef struct ReturningContext
{
	Index		view_rti;		/* the view, as the DELETE's result relation */
	Index		table_rti;		/* the table, as the UPDATE's */
	AttrNumber *map;			/* view column k is table column map[k - 1] */
	int			ncols;
	AttrNumber	att_branch;
	AttrNumber	att_updated_at;
	bool		ok;
	int			sublevels_up;
} ReturningContext;

static bool
returning_ok_walker(Node *node, ReturningContext *ctx)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		if (var->varno == ctx->view_rti && (int) var->varlevelsup == ctx->sublevels_up)
		{
			if (var->varattno <= 0 || var->varattno > ctx->ncols ||
				ctx->map[var->varattno - 1] == ctx->att_branch ||
				ctx->map[var->varattno - 1] == ctx->att_updated_at)
				ctx->ok = false;
		}
		return false;
	}
	if (IsA(node, Query))
	{
		bool		r;

		ctx->sublevels_up++;
		r = query_tree_walker((Query *) node, returning_ok_walker, (void *) ctx, 0);
		ctx->sublevels_up--;
		return r;
	}
	return expression_tree_walker(node, returning_ok_walker, (void *) ctx);
}

static Node *
returning_mutator(Node *node, ReturningContext *ctx)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) copyObject(node);

		if (var->varno == ctx->view_rti && (int) var->varlevelsup == ctx->sublevels_up)
		{
			var->varno = ctx->table_rti;
			var->varattno = ctx->map[var->varattno - 1];
			var->varnosyn = var->varno;
			var->varattnosyn = var->varattno;
		}
		return (Node *) var;
	}
	if (IsA(node, Query))
	{
		Query	   *result;

		ctx->sublevels_up++;
		result = query_tree_mutator((Query *) node, returning_mutator, (void *) ctx, 0);
		ctx->sublevels_up--;
		return (Node *) result;
	}
	return expression_tree_mutator(node, returning_mutator, (void *) ctx);
}

/* Is the view's only DELETE trigger lamin.view_delete_trigger(), enabled, INSTEAD OF, per row? */
static bool
view_deletes_to_trash(Oid viewid)
{
	Relation	view = relation_open(viewid, NoLock);	/* locked by the rewriter */
	TriggerDesc *td = view->trigdesc;
	Oid			nsp = get_namespace_oid("lamin", true);
	int			ours = 0;
	bool		ok = td != NULL && OidIsValid(nsp);

	for (int i = 0; ok && i < td->numtriggers; i++)
	{
		Trigger    *trig = &td->triggers[i];
		char	   *fname;

		if (!TRIGGER_FOR_DELETE(trig->tgtype))
			continue;
		fname = get_func_name(trig->tgfoid);
		if (trig->tgenabled == TRIGGER_DISABLED || !TRIGGER_FOR_ROW(trig->tgtype) ||
			!TRIGGER_FOR_INSTEAD(trig->tgtype) || get_func_namespace(trig->tgfoid) != nsp ||
			fname == NULL || strcmp(fname, "view_delete_trigger") != 0)
			ok = false;
		else
			ours++;
	}
	relation_close(view, NoLock);
	return ok && ours == 1;
}

static bool
delete_to_update(Query *q)
{
	RangeTblEntry *vrte;
	RangeTblEntry *src;
	RangeTblEntry *brte;
	TargetEntry *wholerow;
	Var		   *wvar;
	Index		src_rti;
	Index		b;
	Query	   *sq;
	Relation	rel;
	Form_pg_attribute batt;
	ReturningContext ctx;
	ListCell   *lc;
	int			i = 0;
	Node	   *value;
	Oid			owner;
	bool		stamp = false;
	Bitmapset  *updated;

	if (q->commandType != CMD_DELETE || q->resultRelation == 0 || q->utilityStmt != NULL ||
		list_length(q->targetList) != 1)
		return false;
	vrte = rt_fetch(q->resultRelation, q->rtable);
	if (vrte->rtekind != RTE_RELATION || vrte->relkind != RELKIND_VIEW)
		return false;
	/* the rewriter's whole-row Var of the view's rows, for the trigger: it names the source */
	wholerow = linitial_node(TargetEntry, q->targetList);
	wvar = (Var *) wholerow->expr;
	if (!wholerow->resjunk || !IsA(wvar, Var) || wvar->varattno != InvalidAttrNumber || wvar->varlevelsup != 0)
		return false;
	src_rti = wvar->varno;
	src = rt_fetch(src_rti, q->rtable);
	if (src->rtekind != RTE_SUBQUERY || !view_deletes_to_trash(vrte->relid))
		return false;
	b = view_table_index(q, src_rti, src);
	if (b == 0)
		return false;
	sq = src->subquery;
	brte = rt_fetch(b, sq->rtable);
	if (brte->securityQuals != NIL)
		return false;
#ifdef LAMIN_HAS_PERMINFO
	if (brte->perminfoindex == 0)
		return false;
	owner = getRTEPermissionInfo(sq->rteperminfos, brte)->checkAsUser;
#else
	owner = brte->checkAsUser;
#endif
	if (!OidIsValid(owner))
		return false;			/* a security_invoker view: the caller's rights on the table */

	memset(&ctx, 0, sizeof(ctx));
	ctx.view_rti = q->resultRelation;
	ctx.table_rti = src_rti;
	ctx.ncols = list_length(sq->targetList);
	ctx.map = palloc(sizeof(AttrNumber) * (ctx.ncols + 1));
	foreach(lc, sq->targetList)
		ctx.map[i++] = ((Var *) lfirst_node(TargetEntry, lc)->expr)->varattno;
	rel = table_open(brte->relid, NoLock);
	{
		TupleDesc	desc = RelationGetDescr(rel);

		for (i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (att->attisdropped)
				continue;
			if (strcmp(NameStr(att->attname), "branch_id") == 0)
				ctx.att_branch = att->attnum;
			else if (strcmp(NameStr(att->attname), "updated_at") == 0)
			{
				ctx.att_updated_at = att->attnum;
				stamp = lamin_stampable_updated_at(att);
			}
		}
	}
	if (ctx.att_branch == InvalidAttrNumber)
	{
		table_close(rel, NoLock);
		return false;
	}
	batt = TupleDescAttr(RelationGetDescr(rel), ctx.att_branch - 1);
	value = coerce_to_target_type(NULL,
								  (Node *) makeConst(INT4OID, -1, InvalidOid, sizeof(int32),
													 Int32GetDatum(LAMIN_BRANCH_TRASH), false, true),
								  INT4OID, batt->atttypid, batt->atttypmod,
								  COERCION_ASSIGNMENT, COERCE_IMPLICIT_CAST, -1);
	table_close(rel, NoLock);
	if (value == NULL)
		return false;
	ctx.ok = true;
	(void) returning_ok_walker((Node *) q->returningList, &ctx);
	if (!ctx.ok)
		return false;

	/* the view becomes its table, then the table the target of an UPDATE */
	q->targetList = NIL;
	flatten_view(q, src_rti, b);
	q->returningList = (List *) returning_mutator((Node *) q->returningList, &ctx);
	src = rt_fetch(src_rti, q->rtable);
	LockRelationOid(src->relid, RowExclusiveLock);
	src->rellockmode = RowExclusiveLock;
	updated = bms_make_singleton(ctx.att_branch - FirstLowInvalidHeapAttributeNumber);
	q->targetList = list_make1(makeTargetEntry((Expr *) value, ctx.att_branch, pstrdup("branch_id"), false));

	/*
	 * updated_at = statement_timestamp() as well, what the row trigger would stamp: it then lets
	 * each row through as it is instead of copying it to change that one column
	 */
	if (stamp)
	{
		TargetEntry *te = makeTargetEntry((Expr *) makeFuncExpr(F_STATEMENT_TIMESTAMP, TIMESTAMPTZOID, NIL,
																InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL),
										  ctx.att_updated_at, pstrdup("updated_at"), false);

		/* in column order, as the parser makes an UPDATE's target list */
		if (ctx.att_updated_at < ctx.att_branch)
			q->targetList = lcons(te, q->targetList);
		else
			q->targetList = lappend(q->targetList, te);
		updated = bms_add_member(updated, ctx.att_updated_at - FirstLowInvalidHeapAttributeNumber);
	}
#ifdef LAMIN_HAS_PERMINFO
	{
		RTEPermissionInfo *perm = getRTEPermissionInfo(q->rteperminfos, src);

		perm->requiredPerms |= ACL_UPDATE;
		perm->updatedCols = updated;
	}
#else
	src->requiredPerms |= ACL_UPDATE;
	src->updatedCols = updated;
#endif
	q->commandType = CMD_UPDATE;
	q->resultRelation = src_rti;
	return true;
}

static void
flatten_query_level(Query *q)
{
	int			n = list_length(q->rtable);

	/* the planner wants set-operation leaves and MERGE sources as they are */
	if (q->commandType == CMD_MERGE || q->commandType == CMD_UTILITY || q->setOperations != NULL)
		return;
	for (Index rti = 1; rti <= (Index) n; rti++)
	{
		RangeTblEntry *rte = rt_fetch(rti, q->rtable);
		Index		b;

		if (rte->rtekind != RTE_SUBQUERY)
			continue;
		b = view_table_index(q, rti, rte);
		if (b != 0)
			flatten_view(q, rti, b);
	}
}

/*
 * Every query level, each given to visit before the levels below it. A level's expressions hold
 * sub-queries only where it has SubLinks (the planner counts on hasSubLinks as well); without,
 * the levels below are its sub-query entries and CTEs, found without walking its expressions.
 */
typedef void (*LevelVisitor) (Query *q);

static void visit_levels(Query *q, LevelVisitor visit);

static bool
levels_walker(Node *node, LevelVisitor visit)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		visit_levels((Query *) node, visit);
		return false;
	}
	return expression_tree_walker(node, levels_walker, (void *) visit);
}

static void
visit_levels(Query *q, LevelVisitor visit)
{
	ListCell   *lc;

	check_stack_depth();
	visit(q);
	if (q->hasSubLinks)
	{
		(void) query_tree_walker(q, levels_walker, (void *) visit, 0);
		return;
	}
	foreach(lc, q->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind == RTE_SUBQUERY && rte->subquery != NULL)
			visit_levels(rte->subquery, visit);
	}
	foreach(lc, q->cteList)
		visit_levels(castNode(Query, lfirst_node(CommonTableExpr, lc)->ctequery), visit);
}

/*
 * Flattening when the statement is parsed. A plan cache keeps a statement as the rewriter left
 * it and plans a copy for each custom plan: a view flattened only by the planner hook is copied
 * as a sub-query, and flattened again, every time the statement is planned. So the view is
 * flattened once, right after parse analysis, into what the hook would make of it: the view is
 * expanded as the rewriter expands it (ApplyRetrieveRule: the view's query as a sub-query, the
 * caller's permission entry on the view kept), then flattened by flatten_view. The rewriter
 * then sees the table itself and adds its row-level security policies as security quals before
 * the view's condition, as the hook would have found them, for the view owner (or the caller,
 * for a security_invoker view). What the plan cache keeps is then the table with its security
 * quals; the planner hook finds no view left to flatten.
 *
 * Only a top-level SELECT that is to run (not the query of a CREATE VIEW, which is stored as
 * written: utility.c says when one is being defined), only while no current branch is set (a
 * main view's condition is then branch_id = 1, whatever the branch catalogs hold; setting
 * lamin_branch.current_branch, like lamin_branch.flatten_views, resets the session's plan
 * cache, which parses its statements again), and only views the planner hook would flatten.
 * Views inside other views, and statements the rewriter changes otherwise, are still flattened
 * by the planner hook.
 */
static void
analyze_query_level(Query *q)
{
	int			n = list_length(q->rtable);

	if (q->commandType != CMD_SELECT || q->utilityStmt != NULL || q->setOperations != NULL)
		return;
	for (Index rti = 1; rti <= (Index) n; rti++)
	{
		RangeTblEntry *rte = rt_fetch(rti, q->rtable);
		RangeTblEntry tmp;
		Relation	view;
		RuleLock   *rules;
		Query	   *action;
		ListCell   *lc;
		bool		locked = false;
		LaminEnabled e;
		Index		b;

		if (rte->rtekind != RTE_RELATION || rte->relkind != RELKIND_VIEW ||
			rte->tablesample != NULL || rte->securityQuals != NIL)
			continue;
		foreach(lc, q->rowMarks)
			locked |= lfirst_node(RowMarkClause, lc)->rti == rti;
		/* a view of a branch-enabled table (the registry knows it), read by the query */
		if (locked || !lamin_registry_lookup(rte->relid, &e) || e.relid == rte->relid ||
			!rangeTableEntry_used((Node *) q, rti, 0))
			continue;

		view = relation_open(rte->relid, NoLock);	/* locked by parse analysis */
		rules = view->rd_rules;
		if (rules == NULL || rules->numLocks != 1 || rules->rules[0]->event != CMD_SELECT ||
			list_length(rules->rules[0]->actions) != 1)
		{
			relation_close(view, NoLock);
			continue;
		}
		action = copyObject(linitial_node(Query, rules->rules[0]->actions));
		tmp = *rte;
		tmp.security_barrier = RelationIsSecurityView(view);
		relation_close(view, NoLock);

		/* the rewriter's expansion, on a copy of the entry until the view proves flattenable */
		AcquireRewriteLocks(action, true, false);
		tmp.rtekind = RTE_SUBQUERY;
		tmp.subquery = action;
		tmp.relkind = 0;
		tmp.tablesample = NULL;
		tmp.inh = false;
#ifndef LAMIN_HAS_PERMINFO
		tmp.relid = InvalidOid;
		tmp.rellockmode = 0;
#endif
		b = view_table_index(q, rti, &tmp);
		if (b == 0)
			continue;
#ifndef LAMIN_HAS_PERMINFO
		{
			/* the view's permission check moves to the OLD entry of its query, as the rewriter has it */
			RangeTblEntry *old = rt_fetch(PRS2_OLD_VARNO, action->rtable);

			old->requiredPerms = tmp.requiredPerms;
			old->checkAsUser = tmp.checkAsUser;
			old->selectedCols = tmp.selectedCols;
			old->insertedCols = tmp.insertedCols;
			old->updatedCols = tmp.updatedCols;
			old->extraUpdatedCols = tmp.extraUpdatedCols;
			tmp.requiredPerms = 0;
			tmp.checkAsUser = InvalidOid;
			tmp.selectedCols = NULL;
			tmp.insertedCols = NULL;
			tmp.updatedCols = NULL;
			tmp.extraUpdatedCols = NULL;
		}
#endif
		*rte = tmp;
		{
			/* branch_id = 1 depends on no catalog: nothing to add to a plan's dependencies */
			List	   *outer = lamin_current_branch_swap(NIL);

			flatten_view(q, rti, b);
			(void) lamin_current_branch_swap(outer);
		}
	}
}

static void
lamin_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (prev_post_parse_analyze_hook)
		prev_post_parse_analyze_hook(pstate, query, jstate);
	/* (the registry may be read, by a query: that takes a snapshot) */
	if (flatten_views && query->commandType == CMD_SELECT && query->utilityStmt == NULL &&
		lamin_defining_view == 0 && lamin_current_branch_unset() && ActiveSnapshotSet())
		visit_levels(query, analyze_query_level);
}

/* A change of lamin_branch.flatten_views: statements kept by plan caches are parsed again. */
static void
assign_flatten_views(bool newval, void *extra)
{
	if (newval != flatten_views)
		ResetPlanCache();
}

static PlannedStmt *
lamin_planner(Query *parse, const char *query_string, int cursorOptions, ParamListInfo boundParams)
{
	PlannedStmt *volatile result = NULL;
	volatile bool delete_moves = false;
	List	   *outer = lamin_current_branch_swap(NIL);	/* a plan made while making another */

	PG_TRY();
	{
		lamin_check_held_keys(parse);
		if (flatten_views)
		{
			delete_moves = delete_to_update(parse);
			visit_levels(parse, flatten_query_level);
		}
		if (prev_planner_hook)
			result = prev_planner_hook(parse, query_string, cursorOptions, boundParams);
		else
			result = standard_planner(parse, query_string, cursorOptions, boundParams);
		/* a plan that names the current branch depends on the branch catalog (branches.c) */
		lamin_current_branch_dependencies(result);
	}
	PG_FINALLY();
	{
		(void) lamin_current_branch_swap(outer);
	}
	PG_END_TRY();
	/* the statement is the user's DELETE: its command tag and SPI result say so */
	if (delete_moves)
		result->commandType = CMD_DELETE;
	return result;
}

void
lamin_planner_init(void)
{
	DefineCustomBoolVariable("lamin_branch.flatten_views",
							 "Plans reads of branch views as reads of their tables.",
							 "Off: Postgres plans the views as subqueries; same rows, same protection, more planning.",
							 &flatten_views,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, assign_flatten_views, NULL);
	prev_planner_hook = planner_hook;
	planner_hook = lamin_planner;
	prev_post_parse_analyze_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = lamin_post_parse_analyze;
}
