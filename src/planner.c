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
 * Before the planner sees a query, this hook turns each such view back into the table itself,
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
 * view's row (no dropped columns, no child tables). Where columns were dropped, the query's
 * references to view column k are rewritten to the table's column number. Anything else is left
 * to Postgres. Without this module loaded (see README: shared_preload_libraries)
 * or with lamin_branch.flatten_views = off, queries return the same rows, with the same
 * protection, through Postgres's own view planning.
 */
#include "postgres.h"

#include "access/table.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/planner.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "utils/guc.h"
#include "utils/rel.h"

#include "lamin_branch.h"

static planner_hook_type prev_planner_hook = NULL;
static bool flatten_views = true;

/*
 * Does any Var at this query level (or below) refer to the whole row of range entry varno (or to
 * a system column, which a view does not have)?
 */
typedef struct WholeRowContext
{
	Index		varno;
	int			sublevels_up;
} WholeRowContext;

static bool
whole_row_walker(Node *node, WholeRowContext *ctx)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		return var->varno == ctx->varno && (int) var->varlevelsup == ctx->sublevels_up &&
			var->varattno <= 0;
	}
	if (IsA(node, CurrentOfExpr))
		return ((CurrentOfExpr *) node)->cvarno == ctx->varno && ctx->sublevels_up == 0;
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

/*
 * Is the relation a branch-enabled table (it carries the extension's row trigger)? If so, may a
 * whole-row reference to a view showing its first ncols columns read the table's row instead?
 * Only if those are all its columns (none dropped) and the table has no children: then the row
 * the scan returns has the view's layout, and the reference keeps the view's row type.
 */
static bool
is_branch_table(Oid relid, int ncols, bool *same_row)
{
	Relation	rel = table_open(relid, NoLock);	/* locked by the rewriter or plan cache */
	TupleDesc	desc = RelationGetDescr(rel);
	bool		found = false;

	if (rel->trigdesc != NULL)
	{
		for (int i = 0; i < rel->trigdesc->numtriggers && !found; i++)
			found = strcmp(rel->trigdesc->triggers[i].tgname, "lamin_branch_row") == 0;
	}
	*same_row = rel->rd_rel->relkind == RELKIND_RELATION && !rel->rd_rel->relhassubclass &&
		desc->natts == ncols;
	for (int i = 0; i < desc->natts && *same_row; i++)
		*same_row = !TupleDescAttr(desc, i)->attisdropped;
	table_close(rel, NoLock);
	return found;
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
	Index		i = 0;
	WholeRowContext ctx;
	bool		whole_row;
	bool		same_row;

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

	/*
	 * The other entries are the view's own (its OLD and NEW entries), kept for permission checks
	 * only; there must be some, or this is a subquery written by hand, not a view.
	 */
	if (list_length(sq->rtable) < 2)
		return 0;
	foreach(lc, sq->rtable)
	{
		RangeTblEntry *other = lfirst_node(RangeTblEntry, lc);

		i++;
		if (i != (Index) ref->rtindex &&
			(other->rtekind != RTE_RELATION || other->relkind != RELKIND_VIEW || other->inFromCl))
			return 0;
	}

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

	/*
	 * A whole-row reference to the view (as in the "wholerow" column Postgres adds for an
	 * INSTEAD OF trigger) may read the table's row only where that row is the view's row.
	 */
	ctx.varno = rti;
	ctx.sublevels_up = 0;
	whole_row = query_tree_walker(q, whole_row_walker, (void *) &ctx, 0);
	if (!is_branch_table(brte->relid, list_length(sq->targetList), &same_row) ||
		(whole_row && !same_row))
		return 0;
	return ref->rtindex;
}

/* Column numbers of a view's columns in its table: Vars of one range entry at one query level. */
typedef struct RemapContext
{
	Index		varno;
	int			sublevels_up;
	AttrNumber *map;			/* view column k is table column map[k - 1] */
} RemapContext;

static Node *
remap_mutator(Node *node, RemapContext *ctx)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) copyObject(node);

		if (var->varno == ctx->varno && (int) var->varlevelsup == ctx->sublevels_up &&
			var->varattno > 0)
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
 * Turn range entry rti of q, a flattenable view reading table entry b of its query, into the
 * table. Where the view's columns are not the table's first ones (a column was dropped), the Vars
 * of q that name them are rewritten first, which copies q's range table.
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
	AttrNumber *map = palloc(sizeof(AttrNumber) * (list_length(sq->targetList) + 1));
	bool		identity = true;

	foreach(lc, sq->targetList)
	{
		map[i] = ((Var *) lfirst_node(TargetEntry, lc)->expr)->varattno;
		identity &= map[i] == (AttrNumber) (i + 1);
		i++;
	}
	if (!identity)
	{
		RemapContext ctx;

		ctx.varno = rti;
		ctx.sublevels_up = 0;
		ctx.map = map;
		(void) query_tree_mutator(q, remap_mutator, (void *) &ctx, QTW_DONT_COPY_QUERY);
		rte = rt_fetch(rti, q->rtable);
		sq = rte->subquery;
	}
	pfree(map);
	brte = rt_fetch(b, sq->rtable);

	/* the view's permission entries move up, outside the join tree */
	i = 0;
	foreach(lc, sq->rtable)
	{
		if (++i != b)
			q->rtable = lappend(q->rtable, lfirst(lc));
	}

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
		quals = lappend(quals, sq->jointree->quals);
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
	rte->requiredPerms = brte->requiredPerms;
	rte->checkAsUser = brte->checkAsUser;
	rte->selectedCols = brte->selectedCols;
	rte->insertedCols = NULL;
	rte->updatedCols = NULL;
	rte->extraUpdatedCols = NULL;
	rte->securityQuals = quals;
	rte->eref = makeAlias(rte->eref->aliasname, brte->eref->colnames);

	q->hasSubLinks |= sq->hasSubLinks;
	q->hasRowSecurity |= sq->hasRowSecurity;
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

static bool
flatten_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		flatten_query_level((Query *) node);
		return query_tree_walker((Query *) node, flatten_walker, context, 0);
	}
	return expression_tree_walker(node, flatten_walker, context);
}

static PlannedStmt *
lamin_planner(Query *parse, const char *query_string, int cursorOptions, ParamListInfo boundParams)
{
	if (flatten_views)
		(void) flatten_walker((Node *) parse, NULL);
	if (prev_planner_hook)
		return prev_planner_hook(parse, query_string, cursorOptions, boundParams);
	return standard_planner(parse, query_string, cursorOptions, boundParams);
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
							 NULL, NULL, NULL);
	prev_planner_hook = planner_hook;
	planner_hook = lamin_planner;
}
