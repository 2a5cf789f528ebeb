/*
 * utility.c: DDL aimed at the name of a table enabled in rename mode does what its author meant.
 *
 * In rename mode the table's name is its main view, so migrations written for the table (ALTER
 * TABLE, CREATE INDEX, a foreign key REFERENCES it, COPY FROM, COMMENT ON COLUMN) name a view.
 * With the module preloaded, a ProcessUtility hook sends them to the table (T_all) before
 * Postgres runs them; where a statement drops a column or changes a column's type, which the
 * views depend on, it drops the views first and makes them again afterwards as enable() made
 * them (lamin._views_drop, lamin._views_make). TRUNCATE of a branch view is refused: it would
 * empty the trash too. Without the module preloaded, an event trigger at ddl_command_start
 * (lamin._on_ddl_start) refuses the same DDL with a hint naming the table; COPY and TRUNCATE
 * are no event-trigger commands and keep Postgres's own errors there.
 *
 * The same hook marks a CREATE VIEW while it runs (lamin_defining_view): the view's query is
 * parsed to be stored as written, so the parse-analysis flattening of planner.c leaves it alone.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/comment.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "compat.h"
#include "lamin_branch.h"

static ProcessUtility_hook_type prev_utility_hook = NULL;
static bool utility_hook_active = false;

/* CREATE VIEW statements running (their queries are stored as parsed) */
int			lamin_defining_view = 0;

/* tables whose views the hook has dropped for the statement running now (nested: a stack) */
#define MAX_PENDING 8
static Oid	pending[MAX_PENDING];
static int	npending = 0;

/*
 * The registry row of the relation a statement names, when that relation is one of the views of
 * a branch-enabled table; views are looked up only (most DDL names tables).
 */
static bool
branch_view(RangeVar *rv, Oid *relid, LaminEnabled *e)
{
	if (rv == NULL)
		return false;
	*relid = RangeVarGetRelid(rv, NoLock, true);
	if (!OidIsValid(*relid) || get_rel_relkind(*relid) != RELKIND_VIEW)
		return false;
	return lamin_registry_lookup(*relid, e);
}

/*
 * A relation named where its table is meant: the main view of a table enabled in rename mode
 * becomes the table (redirect), or the statement is refused with a hint naming the table.
 */
static void
meant_table(RangeVar *rv, bool redirect, const char *what)
{
	Oid			relid;
	LaminEnabled e;

	if (!branch_view(rv, &relid, &e) || e.main_view != relid || e.mode != 'r')
		return;
	if (redirect)
	{
		rv->schemaname = get_namespace_name(get_rel_namespace(e.relid));
		rv->relname = get_rel_name(e.relid);
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_WRONG_OBJECT_TYPE),
			 errmsg("%s names view %s, the main view of branch-enabled table %s",
					what, lamin_qualified_name(relid), lamin_qualified_name(e.relid)),
			 errdetail("lamin_branch sends such statements to the table only where it is loaded with shared_preload_libraries."),
			 errhint("Run it on %s: the views follow the table's columns.", lamin_qualified_name(e.relid))));
}

static void
meant_table_constraint(Node *node, bool redirect)
{
	if (node && IsA(node, Constraint) && ((Constraint *) node)->contype == CONSTR_FOREIGN)
		meant_table(((Constraint *) node)->pktable, redirect, "REFERENCES");
}

static void
meant_table_column(Node *node, bool redirect)
{
	ListCell   *lc;

	if (node == NULL || !IsA(node, ColumnDef))
		return;
	foreach(lc, ((ColumnDef *) node)->constraints)
		meant_table_constraint(lfirst(lc), redirect);
}

/* COMMENT ON COLUMN rel.col and COMMENT ON TABLE rel: the names of rel, as a list */
static void
meant_table_names(List **names, bool column, bool redirect, const char *what)
{
	int			n = list_length(*names) - (column ? 1 : 0);
	RangeVar   *rv;
	char	   *schema;
	char	   *rel;
	List	   *result;

	if (n < 1 || n > 3)
		return;
	rv = makeRangeVarFromNameList(list_truncate(list_copy(*names), n));
	schema = rv->schemaname;
	rel = rv->relname;
	meant_table(rv, redirect, what);
	if (rv->relname == rel && rv->schemaname == schema)
		return;
	result = list_make2(makeString(rv->schemaname), makeString(rv->relname));
	if (column)
		result = lappend(result, llast(*names));
	*names = result;
}

/*
 * The statements whose relation may be a main view meant as its table: redirected to the table
 * (the hook) or refused (the event trigger, without the hook).
 */
static void
meant_tables(Node *stmt, bool redirect)
{
	ListCell   *lc;

	switch (nodeTag(stmt))
	{
		case T_AlterTableStmt:
			{
				AlterTableStmt *s = (AlterTableStmt *) stmt;

				if (s->objtype != OBJECT_TABLE)
					break;
				meant_table(s->relation, redirect, "ALTER TABLE");
				foreach(lc, s->cmds)
				{
					AlterTableCmd *cmd = lfirst(lc);

					if (cmd->subtype == AT_AddConstraint)
						meant_table_constraint(cmd->def, redirect);
					else if (cmd->subtype == AT_AddColumn)
						meant_table_column(cmd->def, redirect);
				}
				break;
			}
		case T_RenameStmt:
			{
				RenameStmt *s = (RenameStmt *) stmt;

				if ((s->renameType == OBJECT_COLUMN || s->renameType == OBJECT_TABCONSTRAINT) &&
					s->relationType == OBJECT_TABLE)
					meant_table(s->relation, redirect, "ALTER TABLE");
				break;
			}
		case T_IndexStmt:
			meant_table(((IndexStmt *) stmt)->relation, redirect, "CREATE INDEX");
			break;
		case T_CreateStmt:
			foreach(lc, ((CreateStmt *) stmt)->tableElts)
			{
				meant_table_constraint(lfirst(lc), redirect);
				meant_table_column(lfirst(lc), redirect);
			}
			break;
		case T_CommentStmt:
			{
				CommentStmt *s = (CommentStmt *) stmt;
				List	   *names;

				if (s->objtype != OBJECT_COLUMN && s->objtype != OBJECT_TABLE)
					break;
				names = castNode(List, s->object);
				meant_table_names(&names, s->objtype == OBJECT_COLUMN, redirect,
								  s->objtype == OBJECT_COLUMN ? "COMMENT ON COLUMN" : "COMMENT ON TABLE");
				s->object = (Node *) names;
				break;
			}
		default:
			break;
	}
}

/* TRUNCATE of a branch view would empty every branch of its table, the trash too: refused. */
static void
refuse_truncate(TruncateStmt *s)
{
	ListCell   *lc;

	foreach(lc, s->relations)
	{
		Oid			relid;
		LaminEnabled e;

		if (!branch_view(lfirst(lc), &relid, &e))
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot truncate view %s of branch-enabled table %s", lamin_qualified_name(relid), lamin_qualified_name(e.relid)),
				 errdetail("TRUNCATE would delete every row of every branch for good, the trash and the archive included."),
				 errhint("DELETE FROM %s moves rows to the trash; if emptying the whole table for good is meant: TRUNCATE %s;",
						 lamin_qualified_name(relid), lamin_qualified_name(e.relid))));
	}
}

/*
 * COPY view FROM: into the table, where rows land on main (branch_id's default) unless they say
 * otherwise. Only roles with the owner's rights: for every other role the table has row-level
 * security, which COPY FROM does not support, and no INSERT grant.
 */
static void
copy_into_table(CopyStmt *s)
{
	Oid			relid;
	LaminEnabled e;

	if (!s->is_from || !branch_view(s->relation, &relid, &e) || e.main_view != relid || e.mode != 'r')
		return;
	if (!has_privs_of_role(GetUserId(), lamin_relation_owner(e.relid)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to copy into view %s", lamin_qualified_name(relid)),
				 errdetail("COPY FROM a branch view copies into its table %s, which only its owner may copy into.",
						   lamin_qualified_name(e.relid)),
				 errhint("INSERT through %s (COPY into a temporary table, then INSERT INTO %s SELECT ... FROM it).",
						 lamin_qualified_name(relid), lamin_qualified_name(relid))));
	s->relation->schemaname = get_namespace_name(get_rel_namespace(e.relid));
	s->relation->relname = get_rel_name(e.relid);
}

/*
 * An ALTER TABLE of a branch-enabled table (after redirection) that drops a column or changes a
 * column's type: the views depend on the columns, so they go first. The table, or InvalidOid.
 * Only for roles with the owner's rights; others meet ALTER TABLE's own permission error.
 */
static Oid
views_in_the_way(Node *stmt)
{
	AlterTableStmt *s;
	ListCell   *lc;
	Oid			relid;
	LaminEnabled e;
	bool		changes = false;

	if (!IsA(stmt, AlterTableStmt))
		return InvalidOid;
	s = (AlterTableStmt *) stmt;
	if (s->objtype != OBJECT_TABLE)
		return InvalidOid;
	foreach(lc, s->cmds)
	{
		AlterTableCmd *cmd = lfirst(lc);

		if (cmd->subtype == AT_DropColumn || cmd->subtype == AT_AlterColumnType)
			changes = true;
	}
	if (!changes)
		return InvalidOid;
	relid = RangeVarGetRelid(s->relation, NoLock, true);
	if (!OidIsValid(relid) || !lamin_registry_lookup(relid, &e) || e.relid != relid || e.mode == 'e')
		return InvalidOid;
	if (!has_privs_of_role(GetUserId(), lamin_relation_owner(relid)))
		return InvalidOid;
	return relid;
}

/* lamin._views_drop(tbl): the views dropped, what making them again needs (text[] as text) */
static char *
views_drop(Oid relid)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			argtypes[1] = {REGCLASSOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	char	   *saved;
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args("SELECT lamin._views_drop($1)", 1, argtypes, values, NULL, false, 1);
	lamin_spi_check(rc, "dropping the views");
	saved = MemoryContextStrdup(caller, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	SPI_finish();
	return saved;
}

static void
views_make(Oid relid, char *saved)
{
	Oid			argtypes[2] = {REGCLASSOID, TEXTOID};
	Datum		values[2] = {ObjectIdGetDatum(relid), CStringGetTextDatum(saved)};
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args("SELECT lamin._views_make($1, $2::pg_catalog.text[])", 2, argtypes, values, NULL, false, 1);
	lamin_spi_check(rc, "making the views again");
	SPI_finish();
}

static bool
interesting(Node *stmt)
{
	switch (nodeTag(stmt))
	{
		case T_AlterTableStmt:
		case T_RenameStmt:
		case T_IndexStmt:
		case T_CreateStmt:
		case T_CommentStmt:
		case T_TruncateStmt:
		case T_CopyStmt:
			return true;
		default:
			return false;
	}
}

static void
call_prev(LAMIN_PROCESS_UTILITY_ARGS)
{
	if (prev_utility_hook)
		prev_utility_hook(LAMIN_PROCESS_UTILITY_CALL);
	else
		standard_ProcessUtility(LAMIN_PROCESS_UTILITY_CALL);
}

/* with the views of a table dropped for it: the statement, then the views made again */
static void
call_prev_without_views(Oid remake, LAMIN_PROCESS_UTILITY_ARGS)
{
	char	   *saved;

	if (npending >= MAX_PENDING)
		elog(ERROR, "too many nested ALTER TABLE statements on branch-enabled tables");
	saved = views_drop(remake);
	pending[npending++] = remake;
	PG_TRY();
	{
		call_prev(LAMIN_PROCESS_UTILITY_CALL);
	}
	PG_FINALLY();
	{
		npending--;
	}
	PG_END_TRY();
	views_make(remake, saved);
}

/* CREATE VIEW: its query is parsed to be kept as written, not flattened (planner.c) */
static void
call_prev_defining_view(LAMIN_PROCESS_UTILITY_ARGS)
{
	lamin_defining_view++;
	PG_TRY();
	{
		call_prev(LAMIN_PROCESS_UTILITY_CALL);
	}
	PG_FINALLY();
	{
		lamin_defining_view--;
	}
	PG_END_TRY();
}

static void
lamin_utility(LAMIN_PROCESS_UTILITY_ARGS)
{
	Node	   *stmt = pstmt->utilityStmt;
	Oid			remake = InvalidOid;

	if (interesting(stmt) && IsTransactionState())
	{
		/* the statement may come from a cached plan: change a copy */
		if (readOnlyTree)
		{
			pstmt = copyObject(pstmt);
			readOnlyTree = false;
			stmt = pstmt->utilityStmt;
		}
		if (IsA(stmt, TruncateStmt))
			refuse_truncate((TruncateStmt *) stmt);
		else if (IsA(stmt, CopyStmt))
			copy_into_table((CopyStmt *) stmt);
		else
			meant_tables(stmt, true);
		remake = views_in_the_way(stmt);
	}

	if (IsA(stmt, ViewStmt))
		call_prev_defining_view(LAMIN_PROCESS_UTILITY_CALL);
	else if (OidIsValid(remake))
		call_prev_without_views(remake, LAMIN_PROCESS_UTILITY_CALL);
	else
		call_prev(LAMIN_PROCESS_UTILITY_CALL);
}

void
lamin_utility_init(void)
{
	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = lamin_utility;
	utility_hook_active = true;
}

/* lamin._views_pending(tbl): has the hook dropped the table's views for the running statement? */
PG_FUNCTION_INFO_V1(lamin_views_pending);
Datum
lamin_views_pending(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int			i;

	for (i = 0; i < npending; i++)
		if (pending[i] == relid)
			PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(false);
}

/*
 * lamin._on_ddl_start(): event trigger at ddl_command_start. Where the hook is not active, DDL
 * that names a main view for its table is refused with a hint naming the table.
 */
PG_FUNCTION_INFO_V1(lamin_ddl_start);
Datum
lamin_ddl_start(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		elog(ERROR, "lamin._on_ddl_start() must be called as an event trigger");
	trigdata = (EventTriggerData *) fcinfo->context;
	if (!utility_hook_active && trigdata->parsetree != NULL)
		meant_tables(copyObject(trigdata->parsetree), false);
	PG_RETURN_VOID();
}

/*
 * lamin._view_column_comment(view, column, comment): a column comment of a branch view, from
 * lamin._view_meta. COMMENT ON COLUMN would name the main view, which the hook sends to the
 * table; this sets the view's own. The caller must have the view owner's rights, as COMMENT.
 */
PG_FUNCTION_INFO_V1(lamin_view_column_comment);
Datum
lamin_view_column_comment(PG_FUNCTION_ARGS)
{
	Oid			view = PG_GETARG_OID(0);
	char	   *column = NameStr(*PG_GETARG_NAME(1));
	char	   *comment = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	AttrNumber	attnum;

	if (get_rel_relkind(view) != RELKIND_VIEW)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("relation %u is not a view", view)));
	if (!has_privs_of_role(GetUserId(), lamin_relation_owner(view)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of view %s", lamin_qualified_name(view))));
	attnum = get_attnum(view, column);
	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of view %s does not exist", column, lamin_qualified_name(view))));
	CreateComments(view, RelationRelationId, attnum, comment);
	PG_RETURN_VOID();
}
