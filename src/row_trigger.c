/*
 * row_trigger.c: lamin.branch_row_trigger(), BEFORE INSERT OR UPDATE OR DELETE FOR EACH ROW on
 * every branch-enabled base table. Whatever path changes a row (a view, a lamin function, raw
 * SQL, COPY), it refuses to change or delete a locked row (is_locked) unless the change only
 * unlocks it, refuses hand-made changes of is_latest, checks the rights of a role other than the
 * owner that moves rows between branches or changes them off main (rights.c), locks the version
 * families a move touches, notes the rows an UPDATE moves for the version heads and the move log
 * (heads.c and move_log.c take the notes after the statement), and stamps updated_at. No query
 * runs on its path unless spaces are on. It also owns the lists of notes: their memory, what a
 * subtransaction or transaction end does to them, and reading a noted row again.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_trigger.h"
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

/* The lists of notes, forgotten together when a transaction ends */
#define MAX_NOTE_LISTS 4
static LaminNotes *note_lists[MAX_NOTE_LISTS];
static int	n_note_lists = 0;

static void
notes_forget(LaminNotes *list)
{
	/* the context is a child of the transaction's and goes with it */
	list->cxt = NULL;
	list->notes = NULL;
	list->n = list->size = 0;
}

/* Keep the notes keep() accepts, in order; none left gives their memory back. */
static void
notes_compact(LaminNotes *list, bool (*keep) (LaminNote *, const void *), const void *arg)
{
	int			i,
				n = 0;

	for (i = 0; i < list->n; i++)
	{
		LaminNote  *note = lamin_note(list, i);

		if (!keep(note, arg))
			continue;
		if (n != i)
			memcpy(lamin_note(list, n), note, list->note_size);
		n++;
	}
	list->n = n;
	if (n == 0 && list->cxt != NULL)
	{
		MemoryContextReset(list->cxt);
		list->notes = NULL;
		list->size = 0;
	}
}

static bool
note_of_older_subxact(LaminNote *note, const void *arg)
{
	return note->subid < *(const SubTransactionId *) arg;
}

static bool
note_of_other_relation(LaminNote *note, const void *arg)
{
	return note->relid != *(const Oid *) arg;
}

static void
notes_xact_callback(XactEvent event, void *arg)
{
	int			i;

	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_COMMIT || event == XACT_EVENT_PREPARE ||
		event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PARALLEL_COMMIT)
		for (i = 0; i < n_note_lists; i++)
			notes_forget(note_lists[i]);
}

/* subtransaction ids grow: those of the aborted one and of its children are >= mySubid */
static void
notes_subxact_callback(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid,
					   void *arg)
{
	int			i;

	if (event == SUBXACT_EVENT_ABORT_SUB)
		for (i = 0; i < n_note_lists; i++)
			if (note_lists[i]->n > 0)
				notes_compact(note_lists[i], note_of_older_subxact, &mySubid);
}

/* A list of notes, forgotten with the transaction (called once per list, at load) */
void
lamin_notes_register(LaminNotes *list)
{
	if (n_note_lists == 0)
	{
		RegisterXactCallback(notes_xact_callback, NULL);
		RegisterSubXactCallback(notes_subxact_callback, NULL);
	}
	if (n_note_lists == MAX_NOTE_LISTS)
		elog(ERROR, "too many lists of notes");
	note_lists[n_note_lists++] = list;
}

/*
 * A new note for relid at the end of the list, its LaminNote filled in and the rest zeroed; what
 * it points to belongs in list->cxt.
 */
void *
lamin_notes_add(LaminNotes *list, Oid relid)
{
	LaminNote  *note;

	if (list->cxt == NULL)
	{
		list->cxt = AllocSetContextCreate(TopTransactionContext, "lamin_branch notes", ALLOCSET_DEFAULT_SIZES);
		MemoryContextSetIdentifier(list->cxt, list->name);
	}
	if (list->n == list->size)
	{
		list->size = list->size ? list->size * 2 : 256;
		list->notes = list->notes ? repalloc_huge(list->notes, list->note_size * list->size)
			: MemoryContextAlloc(list->cxt, list->note_size * list->size);
	}
	note = lamin_note(list, list->n++);
	memset(note, 0, list->note_size);
	note->relid = relid;
	note->subid = GetCurrentSubTransactionId();
	return note;
}

/*
 * Read a noted row again by its key ($1..$k of plan), as the table's owner: for a statement
 * trigger whose table has a BEFORE UPDATE row trigger that fires after lamin_branch_row. SPI is
 * connected on first use (*connected; the caller finishes it) and the caller's memory context is
 * current again after the read. Returns whether the row was found (in SPI_tuptable).
 */
bool
lamin_notes_read_row(LaminTable *t, LaminPlan plan, Datum *key, bool *connected, const char *what)
{
	MemoryContext cxt = CurrentMemoryContext;
	LaminSavedUser saved;
	int			rc;

	if (!*connected)
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		*connected = true;
	}
	lamin_become_owner(t, &saved);
	rc = SPI_execute_plan(lamin_table_plan(t, plan, false), key, NULL, false, 1);
	lamin_restore_user(&saved);
	lamin_spi_check(rc, what);
	/* SPI calls return in SPI's context: what the caller collects outlives SPI_finish() */
	MemoryContextSwitchTo(cxt);
	return SPI_processed > 0;
}

/* The notes of a table, once taken, leave the list. */
void
lamin_notes_drop_relation(LaminNotes *list, Oid relid)
{
	notes_compact(list, note_of_other_relation, &relid);
}

/*
 * What the table's statement triggers take from the row trigger's notes rather than from
 * transition tables, which Postgres would fill with a copy of both versions of every updated
 * row: the move log (lamin_move_log_update) and the version heads (lamin_branch_heads_update),
 * each where the table has the trigger without transition tables and it fires (it is enabled
 * for the session's replication role). *recheck is set where a BEFORE UPDATE row trigger fires
 * after self, the row trigger (triggers fire in name order), and so may still skip the row or
 * change it: the statement triggers then read the row again.
 */
typedef struct Noting
{
	bool		log;
	bool		heads;
	bool		recheck;
} Noting;

static void
noting(Relation rel, Trigger *self, Noting *n)
{
	TriggerDesc *td = rel->trigdesc;
	bool		after_self = false;
	int			i;

	memset(n, 0, sizeof(*n));
	if (td == NULL)
		return;
	for (i = 0; i < td->numtriggers; i++)
	{
		Trigger    *tg = &td->triggers[i];
		bool		fires;
		bool		noted;

		if (tg->tgoid == self->tgoid)
		{
			after_self = true;
			continue;
		}
		fires = tg->tgenabled != TRIGGER_DISABLED &&
			(SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA ?
			 tg->tgenabled != TRIGGER_FIRES_ON_ORIGIN : tg->tgenabled != TRIGGER_FIRES_ON_REPLICA);
		if (!fires)
			continue;
		if (after_self && TRIGGER_TYPE_MATCHES(tg->tgtype, TRIGGER_TYPE_ROW, TRIGGER_TYPE_BEFORE,
											   TRIGGER_TYPE_UPDATE))
			n->recheck = true;
		noted = TRIGGER_TYPE_MATCHES(tg->tgtype, TRIGGER_TYPE_STATEMENT, TRIGGER_TYPE_AFTER,
									 TRIGGER_TYPE_UPDATE) &&
			tg->tgoldtable == NULL && tg->tgnewtable == NULL;
		if (noted && strcmp(tg->tgname, "lamin_move_log_update") == 0)
			n->log = true;
		else if (noted && strcmp(tg->tgname, "lamin_branch_heads_update") == 0)
			n->heads = true;
	}
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
	int32		old_branch,
				new_branch;
	Noting		notes = {false, false, false};

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
	/* the row's branch before and after (an INSERT comes from, a DELETE stays on, its own) */
	old_branch = oldtup ? get_branch(oldtup, desc, t) : LAMIN_BRANCH_MAIN;
	new_branch = newtup ? get_branch(newtup, desc, t) : old_branch;

	/* branch columns no foreign key checks: the branches they name must exist */
	if (newtup)
	{
		if (t->check_branch)
		{
			if (!oldtup || new_branch != old_branch)
				lamin_check_branch_value(t, "branch_id", new_branch, true);
		}
		if (t->check_created_on)
		{
			bool		isnull;
			Datum		d = heap_getattr(newtup, t->att_created_on, desc, &isnull);

			if (!isnull)
			{
				bool		oisnull = true;
				Datum		od = oldtup ? heap_getattr(oldtup, t->att_created_on, desc, &oisnull) : (Datum) 0;

				if (oisnull || DatumGetInt32(od) != DatumGetInt32(d))
					lamin_check_branch_value(t, "created_on_id", DatumGetInt32(d), false);
			}
		}
	}

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
		/* inserting on a user branch is creating a record there: INSERT is the right */
		if (old_branch != new_branch && !(is_insert && new_branch > LAMIN_BRANCH_MAIN))
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

	/* the statement triggers that take an UPDATE's moves from notes (noting() above) */
	if (is_update && old_branch != new_branch)
		noting(td->tg_relation, td->tg_trigger, &notes);

	if (t->has_heads)
	{
		char	   *old_uid = oldtup ? get_text(oldtup, desc, t->att_uid) : NULL;
		char	   *new_uid = newtup ? get_text(newtup, desc, t->att_uid) : NULL;
		bool		moved = row_moved(oldtup, newtup,
									  old_branch, new_branch, old_uid, new_uid);

		if (is_update && !moved && lamin_internal_depth == 0 &&
			new_branch != LAMIN_BRANCH_TRASH &&
			get_bool(newtup, desc, t->att_is_latest) != get_bool(oldtup, desc, t->att_is_latest))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("column \"is_latest\" of %s \"%s\" is maintained by lamin_branch",
							t->label, new_uid ? new_uid : "?"),
					 errdetail("The head of a version family is its newest version on each branch."),
					 errhint("Move, insert or delete versions; the head follows.")));

		/*
		 * the families a move touches are locked now (the one family of a row that keeps its
		 * uid stem, once); the AFTER trigger rewrites their heads
		 */
		if (moved)
		{
			if (old_uid)
				lamin_lock_family(t, old_uid);
			if (new_uid && !(old_uid && strncmp(old_uid, new_uid, LAMIN_UID_STEM_LEN) == 0))
				lamin_lock_family(t, new_uid);
			/* the families whose heads the statement's heads trigger rewrites (heads.c) */
			if (is_update && old_branch == new_branch)
				noting(td->tg_relation, td->tg_trigger, &notes);	/* a new uid stem */
			if (is_update && notes.heads)
				lamin_heads_note(t, td->tg_relation, newtup, old_branch, new_branch, old_uid, new_uid,
								 notes.recheck);
		}
	}

	/* a move the statement's move-log trigger writes after the statement (move_log.c) */
	if (is_update && old_branch != new_branch && notes.log)
		lamin_move_log_note(t, td->tg_relation, oldtup, newtup, old_branch, new_branch, notes.recheck);

	/* a statement that stamped the row itself (the move statements do) keeps its row as it is */
	if (is_update && t->att_updated_at != InvalidAttrNumber)
	{
		TimestampTz now = GetCurrentStatementStartTimestamp();
		bool		isnull;
		Datum		d = heap_getattr(newtup, t->att_updated_at, desc, &isnull);

		if (isnull || DatumGetTimestampTz(d) != now)
		{
			cols[ncols] = t->att_updated_at;
			vals[ncols] = TimestampTzGetDatum(now);
			nulls[ncols] = false;
			ncols++;
		}
	}

	if (is_delete)
		return PointerGetDatum(oldtup);
	if (ncols > 0)
		newtup = heap_modify_tuple_by_cols(newtup, desc, ncols, cols, vals, nulls);
	return PointerGetDatum(newtup);
}
