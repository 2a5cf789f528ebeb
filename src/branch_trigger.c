/*
 * branch_trigger.c: the triggers on every branch-enabled base table. Whatever path changes a row
 * (a view, a lamin function, raw SQL):
 *   - BEFORE ROW: refuses to change or delete a locked row (is_locked) unless the change only
 *     unlocks it, refuses hand-made changes of is_latest, locks the version families a move
 *     touches, stamps updated_at;
 *   - AFTER ROW (tables with uid and is_latest): once the statement has moved all its rows, makes
 *     each touched family's newest version on each branch but trash its one head. Done after the
 *     statement, so that a statement moving several versions of one family never has the
 *     trigger rewrite a row the statement itself is about to move.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "access/xact.h"

#include "lamin_branch.h"

/* > 0 while the extension rewrites is_latest of other rows itself */
int			lamin_internal_depth = 0;

/* uid of the version promoted by the latest move, for the move functions to report (kept in
 * TopMemoryContext: the move functions clear it before each move) */
char	   *lamin_last_promoted = NULL;

void
lamin_error_locked(LaminTable *t, const char *uid)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("%s \"%s\" is locked", t->label, uid ? uid : "?"),
			 errdetail("It is not allowed to modify or create locked ('is_locked=True') records."),
			 errhint("Unlock it first with an UPDATE that sets only is_locked = false.")));
}

static bool
get_bool(HeapTuple tup, TupleDesc desc, AttrNumber att)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, att, desc, &isnull);

	return !isnull && DatumGetBool(d);
}

static int32
get_branch(HeapTuple tup, TupleDesc desc, LaminTable *t)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, t->att_branch, desc, &isnull);

	return isnull ? LAMIN_BRANCH_MAIN : DatumGetInt32(d);
}

static char *
get_text(HeapTuple tup, TupleDesc desc, AttrNumber att)
{
	bool		isnull;
	Datum		d;

	if (att == InvalidAttrNumber)
		return NULL;
	d = heap_getattr(tup, att, desc, &isnull);
	return isnull ? NULL : TextDatumGetCString(d);
}

/* Does the update change nothing but is_locked (to false) and updated_at? */
static bool
only_unlocks(LaminTable *t, TupleDesc desc, HeapTuple oldtup, HeapTuple newtup)
{
	int			i;

	if (get_bool(newtup, desc, t->att_is_locked))
		return false;
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		n1,
					n2;
		Datum		d1,
					d2;

		if (att->attisdropped || att->attnum == t->att_is_locked || att->attnum == t->att_updated_at)
			continue;
		d1 = heap_getattr(oldtup, att->attnum, desc, &n1);
		d2 = heap_getattr(newtup, att->attnum, desc, &n2);
		if (n1 != n2)
			return false;
		if (!n1 && !datum_image_eq(d1, d2, att->attbyval, att->attlen))
			return false;
	}
	return true;
}

/*
 * Run a statement that rewrites is_latest, which the BEFORE trigger then lets through. Under
 * REPEATABLE READ or SERIALIZABLE it reads the family as it is now (a version committed since
 * the transaction began counts), and changing a row the transaction cannot see raises a
 * serialization failure: the crosscheck Postgres's own foreign-key triggers use.
 */
static int
exec_internal(SPIPlanPtr plan, Datum *values)
{
	int			rc;

	lamin_internal_depth++;
	PG_TRY();
	{
		if (IsolationUsesXactSnapshot())
			rc = SPI_execute_snapshot(plan, values, NULL, GetLatestSnapshot(), GetTransactionSnapshot(),
									  false, true, 0);
		else
			rc = SPI_execute_plan(plan, values, NULL, false, 0);
	}
	PG_FINALLY();
	{
		lamin_internal_depth--;
	}
	PG_END_TRY();
	return rc;
}

/*
 * Make the newest version of (stem, branch) its one head. Reads first and writes only the
 * versions whose flag is wrong, which after most moves is none. Reports versions promoted other
 * than the row that moved (the NOTICE LaminDB gives), and returns whether one was.
 */
static bool
recompute_heads(LaminTable *t, const char *stem, int32 branch, Datum *key)
{
	Datum		args[2];
	int			rc;
	uint64		i,
				n;
	bool		promoted = false;
	char	   *self = lamin_key_text(t, key);
	Datum	  **keys;
	char	  **uids;
	bool	   *heads;

	args[0] = CStringGetTextDatum(stem);
	args[1] = Int32GetDatum(branch);
	/*
	 * As the family is now, this command's changes included (not read-only: SPI then advances
	 * the command counter), also under REPEATABLE READ: a version committed since counts.
	 */
	if (IsolationUsesXactSnapshot())
		rc = SPI_execute_snapshot(lamin_table_plan(t, LP_WRONG_HEADS), args, NULL, GetLatestSnapshot(),
								  InvalidSnapshot, false, false, 0);
	else
		rc = SPI_execute_plan(lamin_table_plan(t, LP_WRONG_HEADS), args, NULL, false, 0);
	lamin_spi_check(rc, "reading the version heads");
	n = SPI_processed;
	if (n == 0)
		return false;

	/* copy out: the writes below replace SPI_tuptable */
	keys = palloc(sizeof(Datum *) * n);
	uids = palloc(sizeof(char *) * n);
	heads = palloc(sizeof(bool) * n);
	for (i = 0; i < n; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int			k;

		keys[i] = palloc(sizeof(Datum) * (t->nkeys + 1));
		for (k = 0; k < t->nkeys; k++)
		{
			int16		typlen;
			bool		typbyval;

			get_typlenbyval(t->key_type[k], &typlen, &typbyval);
			keys[i][k] = datumCopy(SPI_getbinval(row, desc, k + 1, &isnull), typbyval, typlen);
		}
		uids[i] = SPI_getvalue(row, desc, t->nkeys + 1);
		heads[i] = DatumGetBool(SPI_getbinval(row, desc, t->nkeys + 2, &isnull));
	}

	for (i = 0; i < n; i++)
	{
		keys[i][t->nkeys] = BoolGetDatum(heads[i]);
		rc = exec_internal(lamin_table_plan(t, LP_SET_LATEST), keys[i]);
		lamin_spi_check(rc, "keeping the version heads");
		if (!heads[i] || strcmp(lamin_key_text(t, keys[i]), self) == 0)
			continue;
		ereport(NOTICE,
				(errmsg("new latest %s version is: %s", t->label, uids[i])));
		if (lamin_last_promoted)
			pfree(lamin_last_promoted);
		lamin_last_promoted = MemoryContextStrdup(TopMemoryContext, uids[i]);
		promoted = true;
	}
	return promoted;
}

static void
check_trigger_call(FunctionCallInfo fcinfo, const char *name, bool before)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s was not called by the trigger manager", name)));
	if ((before ? !TRIGGER_FIRED_BEFORE(td->tg_event) : !TRIGGER_FIRED_AFTER(td->tg_event)) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s must be fired %s, FOR EACH ROW", name, before ? "BEFORE" : "AFTER")));
	if (!TRIGGER_FIRED_BY_INSERT(td->tg_event) && !TRIGGER_FIRED_BY_UPDATE(td->tg_event) &&
		!TRIGGER_FIRED_BY_DELETE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s must be fired for INSERT, UPDATE or DELETE", name)));
}

/* Did the row move between families: inserted, deleted, or a new branch or uid stem? */
static bool
row_moved(HeapTuple oldtup, HeapTuple newtup, int32 old_branch, int32 new_branch,
		  const char *old_uid, const char *new_uid)
{
	if (!oldtup || !newtup || old_branch != new_branch)
		return true;
	if ((old_uid == NULL) != (new_uid == NULL))
		return true;
	return old_uid && strncmp(old_uid, new_uid, LAMIN_UID_STEM_LEN) != 0;
}

PG_FUNCTION_INFO_V1(lamin_branch_row_trigger);
Datum
lamin_branch_row_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	LaminTable *t;
	TupleDesc	desc;
	HeapTuple	oldtup = NULL;
	HeapTuple	newtup = NULL;
	bool		is_insert,
				is_update,
				is_delete;
	int			cols[1];
	Datum		vals[1];
	bool		nulls[1];
	int			ncols = 0;

	check_trigger_call(fcinfo, "lamin.branch_row_trigger()", true);

	is_insert = TRIGGER_FIRED_BY_INSERT(td->tg_event);
	is_update = TRIGGER_FIRED_BY_UPDATE(td->tg_event);
	is_delete = TRIGGER_FIRED_BY_DELETE(td->tg_event);

	t = lamin_table_get(RelationGetRelid(td->tg_relation));
	desc = RelationGetDescr(td->tg_relation);
	if (is_insert)
		newtup = td->tg_trigtuple;
	else if (is_update)
	{
		oldtup = td->tg_trigtuple;
		newtup = td->tg_newtuple;
	}
	else
		oldtup = td->tg_trigtuple;

	/* locked rows: only unlocking is allowed */
	if (oldtup && lamin_internal_depth == 0 && t->att_is_locked != InvalidAttrNumber &&
		get_bool(oldtup, desc, t->att_is_locked))
	{
		if (is_delete || !only_unlocks(t, desc, oldtup, newtup))
			lamin_error_locked(t, get_text(oldtup, desc, t->att_uid));
		if (!has_privs_of_role(GetUserId(), t->owner))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("only the owner of table %s can unlock %s \"%s\"", t->qualname, t->label,
							get_text(oldtup, desc, t->att_uid) ? get_text(oldtup, desc, t->att_uid) : "?"),
					 errdetail("A locked record is protected from every other role.")));
	}

	/*
	 * A role other than the owner (the views run with the owner's rights, so this is the one
	 * place that sees every path): moving a row between branches with UPDATE, or inserting it
	 * outside main, needs the right the move functions need; with spaces, it writes only rows
	 * of spaces it may write.
	 */
	if (lamin_internal_depth == 0 && !has_privs_of_role(GetUserId(), t->owner))
	{
		int32		old_branch = oldtup ? get_branch(oldtup, desc, t) : LAMIN_BRANCH_MAIN;
		int32		new_branch = newtup ? get_branch(newtup, desc, t) : old_branch;

		if (old_branch != new_branch)
		{
			LaminEnabled e = lamin_enabled_table(t->query_relid);

			lamin_check_move_right(&e, old_branch, new_branch, false, GetUserId());
		}
		else if (is_update && old_branch != LAMIN_BRANCH_MAIN)
		{
			LaminEnabled e = lamin_enabled_table(t->query_relid);

			lamin_check_update_right(&e, old_branch);
		}
		if (t->spaces)
		{
			bool		old_null,
						new_null;
			Datum		old_space = oldtup ? heap_getattr(oldtup, t->att_space, desc, &old_null) : (Datum) 0;
			Datum		new_space = newtup ? heap_getattr(newtup, t->att_space, desc, &new_null) : (Datum) 0;

			if (oldtup)
				lamin_check_space_value(t, oldtup, desc, GetUserId());
			/* an UPDATE that keeps the row's space needs one check, not two */
			if (newtup && !(oldtup && !old_null && !new_null &&
							datumIsEqual(old_space, new_space, true, sizeof(Datum))))
				lamin_check_space_value(t, newtup, desc, GetUserId());
		}
	}

	if (t->has_heads)
	{
		char	   *old_uid = oldtup ? get_text(oldtup, desc, t->att_uid) : NULL;
		char	   *new_uid = newtup ? get_text(newtup, desc, t->att_uid) : NULL;
		bool		moved = row_moved(oldtup, newtup,
									  oldtup ? get_branch(oldtup, desc, t) : 0,
									  newtup ? get_branch(newtup, desc, t) : 0, old_uid, new_uid);

		if (is_update && !moved && lamin_internal_depth == 0 &&
			get_branch(newtup, desc, t) != LAMIN_BRANCH_TRASH &&
			get_bool(newtup, desc, t->att_is_latest) != get_bool(oldtup, desc, t->att_is_latest))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("column \"is_latest\" of %s \"%s\" is maintained by lamin_branch",
							t->label, new_uid ? new_uid : "?"),
					 errdetail("The head of a version family is its newest version on each branch."),
					 errhint("Move, insert or delete versions; the head follows.")));

		/* the families a move touches are locked now; the AFTER trigger rewrites their heads */
		if (moved)
		{
			if (old_uid)
				lamin_lock_family(t, old_uid);
			if (new_uid)
				lamin_lock_family(t, new_uid);
		}
	}

	if (is_update && t->att_updated_at != InvalidAttrNumber)
	{
		cols[ncols] = t->att_updated_at;
		vals[ncols] = TimestampTzGetDatum(GetCurrentStatementStartTimestamp());
		nulls[ncols] = false;
		ncols++;
	}

	if (is_delete)
		return PointerGetDatum(oldtup);
	if (ncols > 0)
		newtup = heap_modify_tuple_by_cols(newtup, desc, ncols, cols, vals, nulls);
	return PointerGetDatum(newtup);
}

/*
 * AFTER ROW, on tables with version families: after the statement's rows have all moved, the
 * families they left and joined get their newest version as head. A head moved to trash keeps
 * is_latest only if no other version was left to take over (as LaminDB does).
 */
PG_FUNCTION_INFO_V1(lamin_branch_heads_trigger);
Datum
lamin_branch_heads_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	LaminTable *t;
	TupleDesc	desc;
	HeapTuple	oldtup = NULL;
	HeapTuple	newtup = NULL;
	Datum		key[INDEX_MAX_KEYS];
	LaminSavedUser saved;
	bool		promoted = false;
	int32		old_branch,
				new_branch;
	char	   *old_uid,
			   *new_uid;

	check_trigger_call(fcinfo, "lamin.branch_heads_trigger()", false);
	t = lamin_table_get(RelationGetRelid(td->tg_relation));
	desc = RelationGetDescr(td->tg_relation);
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		newtup = td->tg_trigtuple;
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		oldtup = td->tg_trigtuple;
		newtup = td->tg_newtuple;
	}
	else
		oldtup = td->tg_trigtuple;

	if (!t->has_heads)
		return PointerGetDatum(NULL);
	old_branch = oldtup ? get_branch(oldtup, desc, t) : 0;
	new_branch = newtup ? get_branch(newtup, desc, t) : 0;
	old_uid = oldtup ? get_text(oldtup, desc, t->att_uid) : NULL;
	new_uid = newtup ? get_text(newtup, desc, t->att_uid) : NULL;
	if (!row_moved(oldtup, newtup, old_branch, new_branch, old_uid, new_uid))
		return PointerGetDatum(NULL);

	lamin_tuple_key(t, newtup ? newtup : oldtup, desc, key);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lamin_become_owner(t, &saved);

	if (old_uid && old_branch != LAMIN_BRANCH_TRASH)
		promoted = recompute_heads(t, lamin_stem(old_uid), old_branch, key);
	if (new_uid)
	{
		if (new_branch != LAMIN_BRANCH_TRASH)
			recompute_heads(t, lamin_stem(new_uid), new_branch, key);
		else if (promoted && get_bool(newtup, desc, t->att_is_latest))
		{
			/* a head that went to trash hands over; the last version keeps is_latest */
			int			rc = exec_internal(lamin_table_plan(t, LP_CLEAR_HEAD), key);

			lamin_spi_check(rc, "clearing the head of a trashed version");
		}
	}

	lamin_restore_user(&saved);
	SPI_finish();
	return PointerGetDatum(NULL);
}
