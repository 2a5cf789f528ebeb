/*
 * branch_trigger.c: the BEFORE ROW trigger on every branch-enabled base table. Whatever path
 * changes a row (a view, a lamin function, raw SQL), this trigger
 *   - refuses to change or delete a locked row (is_locked), unless the change only unlocks it;
 *   - keeps one head (is_latest) per version family on every branch but trash, the newest version;
 *   - stamps updated_at.
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
#include "utils/timestamp.h"

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
 * A head leaves (stem, branch): make the newest other version there the head. Returns whether
 * one was promoted. The successor is locked, so a version that is moving away concurrently is
 * skipped for the next one.
 */
static bool
promote_successor(LaminTable *t, const char *stem, int32 branch, Datum *key)
{
	Datum		values[INDEX_MAX_KEYS + 2];
	Datum		next_key[INDEX_MAX_KEYS];
	char	   *next_uid;
	int			rc;
	int			i;

	memcpy(values, key, sizeof(Datum) * t->nkeys);
	values[t->nkeys] = CStringGetTextDatum(stem);
	values[t->nkeys + 1] = Int32GetDatum(branch);
	rc = SPI_execute_plan(lamin_table_plan(t, LP_FIND_SUCCESSOR), values, NULL, false, 1);
	lamin_spi_check(rc, "finding the next version");
	if (SPI_processed == 0)
		return false;
	next_uid = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	for (i = 0; i < t->nkeys; i++)
	{
		bool		isnull;
		int16		typlen;
		bool		typbyval;

		get_typlenbyval(t->key_type[i], &typlen, &typbyval);
		next_key[i] = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 2, &isnull),
								typbyval, typlen);
	}

	lamin_internal_depth++;
	PG_TRY();
	{
		rc = SPI_execute_plan(lamin_table_plan(t, LP_SET_HEAD), next_key, NULL, false, 0);
	}
	PG_FINALLY();
	{
		lamin_internal_depth--;
	}
	PG_END_TRY();
	lamin_spi_check(rc, "promoting the next version");

	ereport(NOTICE,
			(errmsg("new latest %s version is: %s", t->label, next_uid)));
	if (lamin_last_promoted)
		pfree(lamin_last_promoted);
	lamin_last_promoted = MemoryContextStrdup(TopMemoryContext, next_uid);
	return true;
}

/*
 * A version arrives on (stem, branch): it is head if no other version there is newer, and then
 * the former head steps down. Returns whether it is head.
 */
static bool
arrive(LaminTable *t, const char *stem, int32 branch, Datum *key, Datum created_at, bool created_null)
{
	Datum		values[INDEX_MAX_KEYS + 3];
	char		nulls[INDEX_MAX_KEYS + 3];
	int			rc;

	memset(nulls, ' ', sizeof(nulls));
	memcpy(values, key, sizeof(Datum) * t->nkeys);
	values[t->nkeys] = CStringGetTextDatum(stem);
	values[t->nkeys + 1] = Int32GetDatum(branch);
	values[t->nkeys + 2] = created_at;
	if (created_null)
		nulls[t->nkeys + 2] = 'n';
	rc = SPI_execute_plan(lamin_table_plan(t, LP_NEWER_EXISTS), values, nulls, false, 1);
	lamin_spi_check(rc, "comparing versions");
	if (SPI_processed > 0)
		return false;

	lamin_internal_depth++;
	PG_TRY();
	{
		rc = SPI_execute_plan(lamin_table_plan(t, LP_DEMOTE), values, NULL, false, 0);
	}
	PG_FINALLY();
	{
		lamin_internal_depth--;
	}
	PG_END_TRY();
	lamin_spi_check(rc, "demoting the former head");
	return true;
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
	int			cols[2];
	Datum		vals[2];
	bool		nulls[2];
	int			ncols = 0;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("lamin.branch_row_trigger() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("lamin.branch_row_trigger() must be fired BEFORE, FOR EACH ROW")));

	is_insert = TRIGGER_FIRED_BY_INSERT(td->tg_event);
	is_update = TRIGGER_FIRED_BY_UPDATE(td->tg_event);
	is_delete = TRIGGER_FIRED_BY_DELETE(td->tg_event);
	if (!is_insert && !is_update && !is_delete)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("lamin.branch_row_trigger() must be fired for INSERT, UPDATE or DELETE")));

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

	if (t->has_heads)
	{
		int32		old_branch = oldtup ? get_branch(oldtup, desc, t) : 0;
		int32		new_branch = newtup ? get_branch(newtup, desc, t) : 0;
		char	   *old_uid = oldtup ? get_text(oldtup, desc, t->att_uid) : NULL;
		char	   *new_uid = newtup ? get_text(newtup, desc, t->att_uid) : NULL;
		bool		old_head = oldtup ? get_bool(oldtup, desc, t->att_is_latest) : false;
		bool		moved;
		Datum		key[INDEX_MAX_KEYS];
		LaminSavedUser saved;

		moved = is_insert || is_delete ||
			old_branch != new_branch ||
			(old_uid == NULL) != (new_uid == NULL) ||
			(old_uid && new_uid && strncmp(old_uid, new_uid, LAMIN_UID_STEM_LEN) != 0);

		if (is_update && !moved && lamin_internal_depth == 0 && new_branch != LAMIN_BRANCH_TRASH &&
			get_bool(newtup, desc, t->att_is_latest) != old_head)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("column \"is_latest\" of %s \"%s\" is maintained by lamin_branch",
							t->label, new_uid ? new_uid : "?"),
					 errdetail("The head of a version family is its newest version on each branch."),
					 errhint("Move, insert or delete versions; the head follows.")));

		if (moved)
		{
			bool		promoted = false;
			bool		new_head = false;

			lamin_tuple_key(t, oldtup ? oldtup : newtup, desc, key);

			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			lamin_become_owner(t, &saved);

			/* leaving: a head hands over to the newest other version */
			if (oldtup && old_head && old_uid && old_branch != LAMIN_BRANCH_TRASH)
			{
				lamin_lock_family(t, old_uid);
				promoted = promote_successor(t, lamin_stem(old_uid), old_branch, key);
			}

			/* arriving: the newest version is head; trash keeps what it had */
			if (newtup && new_uid)
			{
				if (new_branch != LAMIN_BRANCH_TRASH)
				{
					bool		cnull;
					Datum		created = (Datum) 0;

					if (t->att_created_at != InvalidAttrNumber)
						created = heap_getattr(newtup, t->att_created_at, desc, &cnull);
					else
						cnull = true;
					lamin_tuple_key(t, newtup, desc, key);
					lamin_lock_family(t, new_uid);
					new_head = arrive(t, lamin_stem(new_uid), new_branch, key, created, cnull);
				}
				else
					new_head = is_insert ? get_bool(newtup, desc, t->att_is_latest) : (old_head && !promoted);

				cols[ncols] = t->att_is_latest;
				vals[ncols] = BoolGetDatum(new_head);
				nulls[ncols] = false;
				ncols++;
			}

			lamin_restore_user(&saved);
			SPI_finish();
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
