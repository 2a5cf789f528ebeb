/*
 * view_trigger.c: the INSTEAD OF DELETE trigger of main and archive views. A DELETE through a
 * view moves each row it deletes to trash, if the row is still on the view's branch, and
 * returns it, so that DELETE counts (and RETURNING shows) the rows moved.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "lamin_branch.h"

/*
 * The base table of a view: the one relation its query selects from. Read from the view's rule
 * rather than from a trigger argument, so that renaming the table, or dumping and restoring the
 * database, cannot make it stale. The rule comes from the relcache, so this costs no catalog read.
 */
static Oid
view_base_table(Relation view)
{
	Query	   *q = get_view_query(view);
	RangeTblRef *rtr;
	RangeTblEntry *rte;

	if (q == NULL || list_length(q->jointree->fromlist) != 1 ||
		!IsA(linitial(q->jointree->fromlist), RangeTblRef))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("view \"%s\" does not select from one table", RelationGetRelationName(view)),
				 errhint("lamin.view_delete_trigger() belongs on views made by lamin_branch.")));
	rtr = (RangeTblRef *) linitial(q->jointree->fromlist);
	rte = rt_fetch(rtr->rtindex, q->rtable);
	if (rte->rtekind != RTE_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("view \"%s\" does not select from a table", RelationGetRelationName(view))));
	return rte->relid;
}

/* The view's column with the name of the base table's column base_att. */
static AttrNumber
view_column(Relation view, LaminTable *t, AttrNumber base_att)
{
	TupleDesc	vdesc = RelationGetDescr(view);
	const char *name = t->att_names[base_att - 1];
	int			i;

	for (i = 0; i < vdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(vdesc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->attnum;
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("view \"%s\" has no column \"%s\"", RelationGetRelationName(view), name),
			 errhint("The views of a branch-enabled table show all of its columns; re-create them with lamin.refresh_views().")));
	return InvalidAttrNumber;	/* keep compiler quiet */
}

/*
 * INSTEAD OF DELETE on a main or archive view: move the row to trash if it is still on the
 * view's branch, and return it so that DELETE reports the rows moved. A row another transaction
 * moved away meanwhile is not counted, as a plain DELETE would not count a row deleted meanwhile.
 */
PG_FUNCTION_INFO_V1(lamin_view_delete_trigger);
Datum
lamin_view_delete_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	LaminTable *t;
	TupleDesc	vdesc;
	HeapTuple	oldtup;
	Datum		values[INDEX_MAX_KEYS + 1];
	bool		isnull;
	LaminSavedUser saved;
	Oid			caller;
	volatile int rc = 0;
	int			i;
	bool		moved;
	int64		outer_op;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("lamin.view_delete_trigger() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_INSTEAD(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!TRIGGER_FIRED_BY_DELETE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("lamin.view_delete_trigger() must be fired INSTEAD OF DELETE, FOR EACH ROW")));

	PreventCommandDuringRecovery("moving rows between branches");
	t = lamin_table_get(view_base_table(td->tg_relation));
	vdesc = RelationGetDescr(td->tg_relation);
	oldtup = td->tg_trigtuple;

	/* the view's columns are the table's, by name (attnums differ after a column was dropped) */
	for (i = 0; i < t->nkeys; i++)
		values[i] = heap_getattr(oldtup, view_column(td->tg_relation, t, t->key_att[i]), vdesc, &isnull);
	values[t->nkeys] = heap_getattr(oldtup, view_column(td->tg_relation, t, t->att_branch), vdesc, &isnull);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	caller = GetUserId();
	lamin_become_owner(t, &saved);
	lamin_check_space(t, values, caller);

	/*
	 * The family before the row, as the move functions do. Whether the row is head may have
	 * changed since the statement's snapshot, so the family is locked either way.
	 */
	if (t->has_heads)
	{
		Datum		uid = heap_getattr(oldtup, view_column(td->tg_relation, t, t->att_uid), vdesc, &isnull);

		if (!isnull)
			lamin_lock_family(t, TextDatumGetCString(uid));
	}

	/*
	 * One operation for the rows of one statement: the trigger's FmgrInfo lives as long as the
	 * statement's executor state, so its fn_extra keeps the id the first row's move drew.
	 */
	if (fcinfo->flinfo->fn_extra == NULL)
		fcinfo->flinfo->fn_extra = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(int64));
	outer_op = lamin_operation_current();
	if (outer_op == 0)
	{
		int64		op = *(int64 *) fcinfo->flinfo->fn_extra;

		(void) lamin_operation_set(op != 0 ? op : LAMIN_OPERATION_PENDING);
	}
	PG_TRY();
	{
		rc = SPI_execute_plan(lamin_table_plan(t, LP_TRASH_FROM, false), values, NULL, false, 0);
	}
	PG_FINALLY();
	{
		if (outer_op == 0)
		{
			int64		op = lamin_operation_set(0);

			if (op > 0)
				*(int64 *) fcinfo->flinfo->fn_extra = op;
		}
	}
	PG_END_TRY();
	lamin_spi_check(rc, "moving the row to trash");
	moved = SPI_processed > 0;

	lamin_restore_user(&saved);
	SPI_finish();

	return PointerGetDatum(moved ? oldtup : NULL);
}
