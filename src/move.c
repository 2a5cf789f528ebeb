/*
 * move.c: the one move engine. Every function that moves rows between branches by key (the
 * artifact functions artifact_delete/_restore/_archive, the generic delete/restore/archive/move,
 * their _many forms and the batched procedures built on them) describes its work as a
 * MoveRequest and calls move_rows(), which
 *   1. locks the version families of the rows (slot order), then the rows (key order), as
 *      every lamin path does, so that moves wait for each other instead of deadlocking; or fails
 *      at once on a row another transaction holds, or skips it, as the caller asks;
 *   2. checks, from the rows as locked: every key exists, what the action means for each row's
 *      actual branch (a trashed row cannot be archived; deleting a trashed row again deletes it
 *      for good only when asked), the caller's right for each (from, to) pair of branches the
 *      rows actually make (rights.c), locked records, spaces;
 *   3. moves the rows with one UPDATE (or DELETE, for good) as the table's owner;
 *   4. reports each row moved.
 * A bulk move that waits for locks first tries steps 1 and 3 at once, for the rows on the
 * branch it usually moves from (move_fast), and keeps that when it cannot deadlock.
 * Bad input fails the whole call, and nothing it moved stays moved. The statements are prepared
 * once per table (cache.c) and take the keys as one text[]; the base-table triggers keep the
 * version heads right once the statement has run.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "nodes/plannodes.h"
#include "utils/plancache.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/tuplestore.h"

#include "lamin_branch.h"

typedef enum MoveAction
{
	MOVE_DELETE,				/* to trash; for good when permanent (or, single, when asked) */
	MOVE_RESTORE,				/* to main */
	MOVE_ARCHIVE,				/* to archive */
	MOVE_TO						/* to a given branch */
} MoveAction;

/* The SQL-callable entry points: one line each, naming the action */
#define MOVE_FUNCTION(name, impl, action) \
	PG_FUNCTION_INFO_V1(name); \
	Datum name(PG_FUNCTION_ARGS) { return impl(fcinfo, action); }

typedef struct MoveRequest
{
	LaminEnabled e;				/* the table, as the registry knows it */
	LaminTable *t;
	MoveAction	action;
	int32		to;				/* MOVE_TO: the branch, checked against the table's catalog */
	bool		permanent_null; /* MOVE_DELETE: permanent not given */
	bool		permanent;
	LaminLocking locking;
	bool		single;			/* one key: LaminDB's messages, NOTICEs, 'unchanged' results */
	Datum		keys;			/* text[]: nkeys values per key */
	Datum		key[INDEX_MAX_KEYS];	/* single: the key's values, of the key's types */
	int			nrows;
} MoveRequest;

/* What move_rows did to one row (single) */
typedef struct MoveResult
{
	char	   *key;
	char	   *uid;
	const char *action;
	int32		from_branch;
	int32		to_branch;
	bool		to_null;
	char	   *promoted;
} MoveResult;

static const char *
branch_word(int32 branch)
{
	switch (branch)
	{
		case LAMIN_BRANCH_TRASH:
			return "trash";
		case LAMIN_BRANCH_ARCHIVE:
			return "archive";
		case LAMIN_BRANCH_MAIN:
			return "main";
		default:
			return "a user branch";
	}
}

/* LaminDB's way of naming a record in messages: Artifact(id=1, uid='...', key='...') */
static char *
record_repr(LaminTable *t, const char *key_text, const char *uid, const char *key)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfo(&s, "%c%s(%s=%s", pg_toupper((unsigned char) t->label[0]), t->label + 1,
					 t->nkeys == 1 ? t->key_name[0] : "key", key_text);
	if (uid)
		appendStringInfo(&s, ", uid='%s'", uid);
	if (key)
		appendStringInfo(&s, ", key='%s'", key);
	appendStringInfoChar(&s, ')');
	return s.data;
}

static char *
text_col(HeapTuple row, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(row, desc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* The branch a request sends rows on `from` to; *purge when they leave for good. */
static int32
target_of(MoveRequest *req, bool *purge)
{
	*purge = false;
	switch (req->action)
	{
		case MOVE_DELETE:
			*purge = !req->permanent_null && req->permanent;
			return LAMIN_BRANCH_TRASH;
		case MOVE_RESTORE:
			return LAMIN_BRANCH_MAIN;
		case MOVE_ARCHIVE:
			return LAMIN_BRANCH_ARCHIVE;
		case MOVE_TO:
			return req->to;
	}
	return LAMIN_BRANCH_MAIN;	/* keep compiler quiet */
}

/* What a bulk call's result says it did to its rows */
static const char *
bulk_verb(MoveRequest *req, bool purge)
{
	return purge ? "deleted" :
		req->action == MOVE_DELETE ? "trashed" : req->action == MOVE_RESTORE ? "restored" :
		req->action == MOVE_ARCHIVE ? "archived" : "moved";
}

/*
 * One row of a bulk call's result into store: the table, the moved row's key text and uid, what
 * was done, and the branches (no target for a purge)
 */
static void
put_result_row(Tuplestorestate *store, TupleDesc desc, Oid relid, Datum key, bool key_null,
			   Datum uid, bool uid_null, Datum verb, Datum from, bool from_null, int32 target, bool purge)
{
	Datum		out[7];
	bool		nulls[7];

	out[0] = ObjectIdGetDatum(relid);
	nulls[0] = false;
	out[1] = key;
	nulls[1] = key_null;
	out[2] = uid;
	nulls[2] = uid_null;
	out[3] = verb;
	nulls[3] = false;
	out[4] = from;
	nulls[4] = from_null;
	out[5] = Int32GetDatum(target);
	nulls[5] = purge;
	out[6] = (Datum) 0;
	nulls[6] = true;
	/* the tuplestore copies the values */
	tuplestore_putvalues(store, desc, out, nulls);
}

/*
 * The fast move's rows go straight into a tuplestore in the shape of a bulk call's result
 * (put_result_row), instead of through a cursor's store and SPI's tuple table into it.
 */
typedef struct FastReceiver
{
	DestReceiver pub;
	Tuplestorestate *store;
	TupleDesc	desc;			/* the call's result rows */
	Oid			relid;
	Datum		verb;
	Datum		from;
	int32		to;
	uint64		rows;
	bool		writable;		/* every row in a space the caller may write */
} FastReceiver;

/* One row of "RETURNING key text, uid, writable" */
static bool
fast_receive(TupleTableSlot *slot, DestReceiver *self)
{
	FastReceiver *r = (FastReceiver *) self;

	slot_getsomeattrs(slot, 3);
	if (slot->tts_isnull[2] || !DatumGetBool(slot->tts_values[2]))
		r->writable = false;
	put_result_row(r->store, r->desc, r->relid, slot->tts_values[0], slot->tts_isnull[0],
				   slot->tts_values[1], slot->tts_isnull[1], r->verb, r->from, false, r->to, false);
	r->rows++;
	return true;
}

static void
fast_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
fast_nothing(DestReceiver *self)
{
}

/*
 * Run the fast move so that it locks its rows in key order, as every move does: two moves of
 * overlapping keys then wait for each other instead of deadlocking. "key = ANY (keys)" does when
 * an index scan of the primary key reads it (a btree walks the keys in order), which the plan is
 * checked for; otherwise the join to the keys in key order does, planned with nested loops only.
 * Both statements keep one generic plan (cache.c), made here under these settings before they
 * are undone; the statement then runs with that plan, so the queries of user triggers it fires
 * are planned as the session has it. Its rows go to r.
 */
static void
run_in_key_order(LaminTable *t, Datum *args, FastReceiver *r)
{
	static const char *const off[] = {"enable_seqscan", "enable_bitmapscan", "enable_hashjoin",
	"enable_mergejoin"};
	static const Oid argtypes[4] = {TEXTARRAYOID, INT4OID, INT4OID, REGROLEOID};
	int			level = NewGUCNestLevel();
	int			i;
	SPIPlanPtr	plan = NULL;
	SPIExecuteOptions options;
	ParamListInfo params = makeParamList(lengthof(argtypes));
	int			rc;

	for (i = 0; i < lengthof(off); i++)
		(void) set_config_option(off[i], "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if (t->nkeys == 1)
	{
		/* one plan for any number of keys: it does the same for 3 keys and for 30000 */
		CachedPlan *cplan;
		PlannedStmt *stmt;
		Plan	   *scan;

		plan = lamin_table_plan(t, LP_MOVE_FAST, false);
		cplan = SPI_plan_get_cached_plan(plan);
		stmt = cplan && list_length(cplan->stmt_list) == 1 ? linitial_node(PlannedStmt, cplan->stmt_list) : NULL;
		scan = stmt && IsA(stmt->planTree, ModifyTable) ? outerPlan(stmt->planTree) : NULL;
		if (!scan || !IsA(scan, IndexScan) || ((IndexScan *) scan)->indexid != t->pk_index ||
			ScanDirectionIsBackward(((IndexScan *) scan)->indexorderdir))
			plan = NULL;		/* not read in key order (a partitioned table, a planner hook): the join */
		if (cplan)
			ReleaseCachedPlan(cplan, CurrentResourceOwner);
	}
	if (plan == NULL)
	{
		CachedPlan *cplan;

		plan = lamin_table_plan(t, LP_MOVE_FAST_JOIN, false);
		cplan = SPI_plan_get_cached_plan(plan);
		if (cplan)
			ReleaseCachedPlan(cplan, CurrentResourceOwner);
	}
	AtEOXact_GUC(true, level);

	for (i = 0; i < lengthof(argtypes); i++)
	{
		params->params[i].value = args[i];
		params->params[i].isnull = false;
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = argtypes[i];
	}
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.dest = (DestReceiver *) r;
	rc = SPI_execute_plan_extended(plan, &options);
	lamin_spi_check(rc, "moving the rows");
}

/*
 * The fast path runs in a subtransaction, which keeps its transaction id until the transaction
 * ends. Past PGPROC_MAX_CACHED_SUBXIDS of them a transaction's snapshot data overflows, and
 * every session then looks its subtransactions up in pg_subtrans: so the fast path is taken only
 * while the transaction has used at most half of them (a loop of bulk moves in one transaction
 * goes the locking way after that).
 */
static bool
few_subtransactions(void)
{
	return !MyProc->subxidStatus.overflowed &&
		MyProc->subxidStatus.count < PGPROC_MAX_CACHED_SUBXIDS / 2;
}

/* What the fast path of a bulk move did */
typedef enum FastResult
{
	FAST_NONE,					/* nothing: the locking path does the whole move */
	FAST_ALL,					/* moved a row for every key */
	FAST_LOCKED					/* moved some, and every other row is locked: the report is in */
} FastResult;

/* End the subtransaction move_fast or lock_nowait began, back in the caller's context */
static void
end_subtransaction(bool commit, MemoryContext cxt, ResourceOwner owner)
{
	MemoryContextSwitchTo(cxt);
	if (commit)
		ReleaseCurrentSubTransaction();
	else
		RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
}

/* The rows of the keys locked without waiting, in a subtransaction; false if one was held */
static bool
lock_nowait(MoveRequest *req, Datum *values, SPITupleTable **report)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool locked = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		int			rc = SPI_execute_plan(lamin_table_plan(req->t, LP_LOCK_NOWAIT, req->nrows > 2),
										  values, NULL, false, 0);

		lamin_spi_check(rc, "locking the rows");
		*report = SPI_tuptable;
		end_subtransaction(true, cxt, owner);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		end_subtransaction(false, cxt, owner);
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			ReThrowError(edata);
		FlushErrorState();
		FreeErrorData(edata);
		locked = false;
	}
	PG_END_TRY();
	return locked;
}

/*
 * The fast path of a bulk move (see move_rows): LP_MOVE_FAST in a subtransaction of its own. It
 * is kept when it moved a row for every key, or when every other row of the keys can be locked
 * at once (FOR UPDATE NOWAIT). Otherwise the locking path must wait for a row, and a move never
 * waits for a row while it holds rows of higher keys (which is what keeps two bulk moves of
 * overlapping keys from deadlocking): the fast path is rolled back, its row locks with it, and
 * the locking path takes every lock in key order from scratch.
 */
static FastResult
move_fast(MoveRequest *req, Datum *values, int32 target, int32 guess, Oid caller,
		  ReturnSetInfo *rsinfo, SPITupleTable **report)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile FastResult result = FAST_NONE;
	FastReceiver r;
	MemoryContext old;

	/*
	 * The rows' report, made before the subtransaction: in the call's memory, and a file it
	 * spills to belongs to the call's resource owner (the store's at its creation), so it
	 * outlives the subtransaction when that is kept.
	 */
	memset(&r, 0, sizeof(r));
	r.pub.receiveSlot = fast_receive;
	r.pub.rStartup = fast_startup;
	r.pub.rShutdown = fast_nothing;
	r.pub.rDestroy = fast_nothing;
	r.pub.mydest = DestNone;
	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	r.store = tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0, false, work_mem);
	r.verb = CStringGetTextDatum(bulk_verb(req, false));
	MemoryContextSwitchTo(old);
	r.desc = rsinfo->setDesc;
	r.relid = req->t->relid;
	r.from = Int32GetDatum(guess);
	r.to = target;
	r.writable = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		Datum		args[4];

		args[0] = req->keys;
		args[1] = Int32GetDatum(target);
		args[2] = Int32GetDatum(guess);
		args[3] = ObjectIdGetDatum(caller);
		run_in_key_order(req->t, args, &r);
		/* rows in a space the caller may not write: the locking path names them */
		if (r.rows == (uint64) req->nrows && r.writable)
			result = FAST_ALL;
		else if (lock_nowait(req, values, report))
			result = FAST_LOCKED;
		end_subtransaction(result != FAST_NONE, cxt, owner);
	}
	PG_CATCH();
	{
		end_subtransaction(false, cxt, owner);
		PG_RE_THROW();
	}
	PG_END_TRY();

	/* kept: the rows are the first of the call's result; undone: so is their report */
	if (result != FAST_NONE && r.rows > 0)
	{
		if (tuplestore_tuple_count(rsinfo->setResult) != 0)
			elog(ERROR, "the result of a bulk move has rows before its fast path's");
		tuplestore_end(rsinfo->setResult);
		rsinfo->setResult = r.store;
	}
	else
		tuplestore_end(r.store);
	return result;
}

/*
 * One row of a bulk move's result from a statement's row: its key text and uid first. verb is
 * bulk_verb()'s text, made once per call.
 */
static void
report_moved_row(ReturnSetInfo *rsinfo, LaminTable *t, HeapTuple row, TupleDesc desc,
				 Datum verb, Datum from, bool from_null, int32 target, bool purge)
{
	bool		key_null;
	bool		uid_null;
	Datum		key = SPI_getbinval(row, desc, 1, &key_null);
	Datum		uid = SPI_getbinval(row, desc, 2, &uid_null);

	put_result_row(rsinfo->setResult, rsinfo->setDesc, t->relid, key, key_null, uid, uid_null,
				   verb, from, from_null, target, purge);
}

/* Does a row on branch from move (rather than stay) when it is moved to target? */
static bool
row_moves(MoveRequest *req, int32 from, int32 target, bool purge)
{
	return purge || (from != target && !(req->action == MOVE_DELETE && from == LAMIN_BRANCH_TRASH));
}

/* A bulk move's refusals, whichever path found them */
static void
error_keys_missing(LaminTable *t, const char *keys)
{
	ereport(ERROR,
			(errcode(ERRCODE_NO_DATA_FOUND),
			 errmsg("keys of table %s do not exist: %s", t->qualname, keys),
			 errdetail("No row has them on any branch (at most five are named).")));
}

static void
error_rows_trashed(LaminTable *t, const char *keys)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("rows of table %s are in the trash: %s", t->qualname, keys),
			 errhint("Restore them first, then archive them.")));
}

/*
 * A bulk move on a Citus table. Citus runs no FOR UPDATE across shards, so rows are not locked
 * first. Every statement below is a plain one that Citus sends to the shards, each "... AND
 * branch_id = b": a row another transaction moves meanwhile no longer matches and stays where it
 * went, not moved and not reported, so no row moves without the caller's right for the move it
 * makes.
 *   1. The rows on the branch such a move usually takes rows from (main; trash for a restore)
 *      move in one UPDATE, when the caller may make that move.
 *   2. If any key is left, the keys' rows are read per branch (how many, a locked record),
 *      checked as move_rows checks them, and moved with one UPDATE (or DELETE) per branch they
 *      are on. An error undoes the call, step 1 included.
 * A Citus table has no base-table trigger: the statements stamp updated_at, and version heads
 * are not kept (README, Scale-out).
 */
static uint64
citus_statement(ReturnSetInfo *rsinfo, LaminTable *t, LaminPlan which, Datum *values,
				Datum verb, int32 from, int32 target, bool purge)
{
	int			rc = SPI_execute_plan(lamin_table_plan(t, which, true), values, NULL, false, 0);
	uint64		i;

	lamin_spi_check(rc, "moving the rows");
	for (i = 0; i < SPI_processed; i++)
		report_moved_row(rsinfo, t, SPI_tuptable->vals[i], SPI_tuptable->tupdesc, verb,
						 Int32GetDatum(from), false, target, purge);
	return SPI_processed;
}

static void
move_rows_citus(MoveRequest *req, ReturnSetInfo *rsinfo)
{
	LaminTable *t = req->t;
	LaminSavedUser saved;
	Oid			caller = GetUserId();
	bool		purge;
	int32		target = target_of(req, &purge);
	int32		guess = target == LAMIN_BRANCH_MAIN ? LAMIN_BRANCH_TRASH : LAMIN_BRANCH_MAIN;
	Datum		values[3];
	Datum		text_keys[1];
	int32		froms[8];
	char	   *locked[8];
	int			nfroms = 0;
	int64		found = 0;
	int64		nkeys;
	uint64		moved = 0;
	bool		isnull;
	int			rc;
	uint64		i;
	Datum		verb = CStringGetTextDatum(bulk_verb(req, purge));

	if (req->locking != LOCKING_WAIT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("locking => '%s' is not available on table %s", req->locking == LOCKING_NOWAIT ? "nowait" : "skip locked",
						t->qualname),
				 errdetail("The table is a Citus table, and Citus locks no rows across shards."),
				 errhint("Leave locking at 'wait'.")));
	PreventCommandDuringRecovery("moving rows between branches");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lamin_become_owner(t, &saved);

	/* the keys: as text for the statements that read no table, typed once for the others */
	text_keys[0] = req->keys;
	values[0] = req->keys;
	if (t->nkeys == 1)
	{
		Oid			argtype = TEXTARRAYOID;
		char	   *sql = psprintf("SELECT $1::pg_catalog.text[]::%s[]", format_type_be_qualified(t->key_type[0]));

		rc = SPI_execute_with_args(sql, 1, &argtype, text_keys, NULL, true, 1);
		lamin_spi_check(rc, "reading the keys");
		values[0] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	}
	rc = SPI_execute_plan(lamin_table_plan(t, LP_CITUS_NKEYS, true), text_keys, NULL, true, 1);
	lamin_spi_check(rc, "counting the keys");
	nkeys = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	/* 1. the rows on the usual branch, in one UPDATE */
	if (!purge && guess != target && nkeys > 0 &&
		(has_privs_of_role(caller, t->owner) || lamin_may_move(&req->e, guess, target, false, caller)))
	{
		values[1] = Int32GetDatum(target);
		values[2] = Int32GetDatum(guess);
		moved = citus_statement(rsinfo, t, LP_CITUS_MOVE, values, verb, guess, target, false);
	}

	/* 2. the others: where they are, checks, one statement per branch */
	if ((int64) moved < nkeys)
	{
		rc = SPI_execute_plan(lamin_table_plan(t, LP_CITUS_REPORT, true), values, NULL, false, 0);
		lamin_spi_check(rc, "reading the rows");
		if (SPI_processed > 8)
			elog(ERROR, "rows of table %s are on more than 8 branches", t->qualname);
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	row = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;

			froms[nfroms] = DatumGetInt32(SPI_getbinval(row, desc, 1, &isnull));
			found += DatumGetInt64(SPI_getbinval(row, desc, 2, &isnull));
			locked[nfroms] = text_col(row, desc, 3);
			nfroms++;
		}
		if (found < nkeys)
		{
			Datum		all[2];
			Datum	   *texts;
			uint64		nfound;

			rc = SPI_execute_plan(lamin_table_plan(t, LP_CITUS_FOUND, true), values, NULL, false, 0);
			lamin_spi_check(rc, "reading the keys");
			nfound = SPI_processed;
			texts = palloc(sizeof(Datum) * Max(nfound, 1));
			for (i = 0; i < nfound; i++)
				texts[i] = CStringGetTextDatum(text_col(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
			all[0] = req->keys;
			all[1] = PointerGetDatum(construct_array(texts, (int) nfound, TEXTOID, -1, false, TYPALIGN_INT));
			rc = SPI_execute_plan(lamin_table_plan(t, LP_CITUS_MISSING, true), all, NULL, true, 1);
			lamin_spi_check(rc, "naming the missing keys");
			error_keys_missing(t, text_col(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		}
		for (int k = 0; k < nfroms; k++)
		{
			if (target == LAMIN_BRANCH_ARCHIVE && froms[k] == LAMIN_BRANCH_TRASH && !purge)
			{
				rc = SPI_execute_plan(lamin_table_plan(t, LP_CITUS_TRASHED, true), values, NULL, true, 1);
				lamin_spi_check(rc, "naming the trashed keys");
				error_rows_trashed(t, text_col(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
			}
		}
		for (int k = 0; k < nfroms; k++)
		{
			bool		moves = row_moves(req, froms[k], target, purge);

			if (!moves)
				continue;
			if (!has_privs_of_role(caller, t->owner))
				lamin_check_move_right(&req->e, froms[k], target, purge, caller);
			if (locked[k])
				lamin_error_locked(t, locked[k]);
		}
		for (int k = 0; k < nfroms; k++)
		{
			bool		moves = row_moves(req, froms[k], target, purge);

			if (!moves)
				continue;
			if (purge)
			{
				values[1] = Int32GetDatum(froms[k]);
				(void) citus_statement(rsinfo, t, LP_CITUS_PURGE, values, verb, froms[k], target, true);
			}
			else
			{
				values[1] = Int32GetDatum(target);
				values[2] = Int32GetDatum(froms[k]);
				(void) citus_statement(rsinfo, t, LP_CITUS_MOVE, values, verb, froms[k], target, false);
			}
		}
	}
	lamin_restore_user(&saved);
	SPI_finish();
}

/*
 * The engine. Single requests fill *res; bulk requests put one row per moved row into the
 * tuplestore of rsinfo.
 */
static void
move_rows(MoveRequest *req, MoveResult *res, ReturnSetInfo *rsinfo, MemoryContext outcxt)
{
	LaminTable *t = req->t;
	LaminSavedUser saved;
	Oid			caller = GetUserId();
	Datum		values[2];
	int			rc = SPI_OK_UPDATE;
	uint64		i;
	bool		purge;
	int32		target = target_of(req, &purge);
	int32		single_from = 0;
	char	   *single_key = NULL;
	char	   *single_uid = NULL;
	char	   *single_keycol = NULL;
	bool		single_locked = false;
	bool		single_moved = false;	/* by the one guarded UPDATE (LP_ONE_MOVE_FROM) */
	int64		n_missing = 0;
	char	   *missing = NULL,
			   *trashed = NULL,
			   *unwritable = NULL;
	ArrayType  *froms = NULL;
	bool		isnull;
	int32		guess = LAMIN_BRANCH_MAIN;	/* the branch LP_MOVE_FAST takes rows from */
	bool		locking_path = true;	/* bulk: lock, check, then move what is left */
	FastResult	fast = FAST_NONE;
	SPITupleTable *report = NULL;	/* the locking statement's report */

	if (t->citus && !req->single)
	{
		move_rows_citus(req, rsinfo);
		return;
	}
	PreventCommandDuringRecovery("moving rows between branches");
	values[0] = req->keys;
	values[1] = ObjectIdGetDatum(caller);	/* the move statement takes the target here */

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lamin_become_owner(t, &saved);

	/*
	 * 1. The families first, in slot order, then the rows in key order: the order single-row
	 * paths take (family, then row), so that no two moves deadlock on each other.
	 */
	if (req->single)
	{
		/* one key: statements on the key alone, planned once */
		Datum		args[INDEX_MAX_KEYS + 2];

		memcpy(args, req->key, sizeof(Datum) * t->nkeys);

		/*
		 * Both statements below lock the row's family (lamin._lock_family in their WHERE
		 * clause) before they lock the row; an installed version without that function has
		 * the family locked here, by the uid the row has now.
		 */
		if (t->has_heads && !t->lock_in_scan)
		{
			rc = SPI_execute_plan(lamin_table_plan(t, LP_ONE_UID, false), args, NULL, true, 1);
			lamin_spi_check(rc, "finding the family");
			if (SPI_processed > 0)
			{
				char	   *uid = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

				if (uid)
					lamin_lock_family(t, uid);
			}
		}
		single_key = lamin_key_text(t, req->key);

		/*
		 * The row is usually on the branch such a move takes rows from (main; trash for a
		 * restore), unlocked, and the caller has the right for that move: one UPDATE guarded by
		 * that branch moves it. Otherwise (no such row, another branch, locked, spaces, a
		 * purge) it is locked and checked first, below.
		 */
		guess = target == LAMIN_BRANCH_MAIN ? LAMIN_BRANCH_TRASH : LAMIN_BRANCH_MAIN;
		if (!purge && guess != target && !t->citus && !t->spaces &&
			(has_privs_of_role(caller, t->owner) || lamin_may_move(&req->e, guess, target, false, caller)))
		{
			args[t->nkeys] = Int32GetDatum(target);
			args[t->nkeys + 1] = Int32GetDatum(guess);
			if (lamin_last_promoted)
				pfree(lamin_last_promoted);
			lamin_last_promoted = NULL;
			rc = SPI_execute_plan(lamin_table_plan(t, LP_ONE_MOVE_FROM, false), args, NULL, false, 0);
			lamin_spi_check(rc, "moving the row");
			if (SPI_processed == 1)
			{
				Datum		from = Int32GetDatum(guess);

				single_moved = true;
				single_from = guess;
				single_uid = text_col(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
				single_keycol = text_col(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
				froms = construct_array(&from, 1, INT4OID, 4, true, TYPALIGN_INT);
			}
		}
		if (!single_moved)
		{
			args[t->nkeys] = ObjectIdGetDatum(caller);
			rc = SPI_execute_plan(lamin_table_plan(t, LP_ONE_LOCK, false), args, NULL, false, 1);
			lamin_spi_check(rc, "locking the row");
			if (SPI_processed == 0)
				missing = single_key;
		}
		if (!single_moved && !missing)
		{
			HeapTuple	row = SPI_tuptable->vals[0];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			Datum		from;

			single_from = DatumGetInt32(SPI_getbinval(row, desc, 1, &isnull));
			single_locked = DatumGetBool(SPI_getbinval(row, desc, 2, &isnull));
			single_uid = text_col(row, desc, 3);
			single_keycol = text_col(row, desc, 4);
			if (!DatumGetBool(SPI_getbinval(row, desc, 5, &isnull)))
				unwritable = single_key;
			from = Int32GetDatum(single_from);
			froms = construct_array(&from, 1, INT4OID, 4, true, TYPALIGN_INT);
		}
	}
	else
	{
		/*
		 * The families first, in slot order, then the rows in key order: the order single-row
		 * paths take (family, then row), so that no two moves deadlock on each other.
		 */
		if (t->has_heads)
		{
			bool		wanted[LAMIN_FAMILY_SLOTS];

			rc = SPI_execute_plan(lamin_table_plan(t, LP_FAMILIES, req->nrows > 2), values, NULL, true, 0);
			lamin_spi_check(rc, "finding the families");
			memset(wanted, 0, sizeof(wanted));
			for (i = 0; i < SPI_processed; i++)
			{
				char	   *uid = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

				if (uid)
					wanted[lamin_family_slot(uid)] = true;
			}
			lamin_lock_family_slots(t, wanted);
		}

		/*
		 * Waiting for locked rows, and moving rather than purging: first lock and move in one
		 * UPDATE (LP_MOVE_FAST) the rows on the branch such a move usually takes rows from
		 * (main; trash for a restore), whose move the caller is known to have the right for.
		 * When it moved a row for every key given, the call is done; otherwise (a key missing
		 * or given twice, a row on another branch, a row another transaction moved meanwhile)
		 * the rows are locked (by move_fast when that needs no wait) and checked below, and
		 * the rest moved.
		 */
		guess = target == LAMIN_BRANCH_MAIN ? LAMIN_BRANCH_TRASH : LAMIN_BRANCH_MAIN;
		if (req->locking == LOCKING_WAIT && !purge && guess != target && req->nrows > 0 &&
			few_subtransactions() &&
			(has_privs_of_role(caller, t->owner) || lamin_may_move(&req->e, guess, target, false, caller)))
			fast = move_fast(req, values, target, guess, caller, rsinfo, &report);
		locking_path = fast != FAST_ALL;

		if (locking_path)
		{
			HeapTuple	row;
			TupleDesc	desc;
			Datum		d;

			if (fast != FAST_LOCKED)
			{
				rc = SPI_execute_plan(lamin_table_plan(t, req->locking == LOCKING_NOWAIT ? LP_LOCK_NOWAIT :
													   req->locking == LOCKING_SKIP ? LP_LOCK_SKIP : LP_LOCK_WAIT,
													   req->nrows > 2),
									  values, NULL, false, 0);
				lamin_spi_check(rc, "locking the rows");
				report = SPI_tuptable;
			}
			row = report->vals[0];
			desc = report->tupdesc;
			d = SPI_getbinval(row, desc, 1, &isnull);
			froms = isnull ? NULL : DatumGetArrayTypePCopy(d);
			n_missing = DatumGetInt64(SPI_getbinval(row, desc, 2, &isnull));
			trashed = text_col(row, desc, 3);
			unwritable = text_col(row, desc, 4);
			/* rows skipped because another transaction holds them are not moved */
			if (req->locking == LOCKING_SKIP)
			{
				d = SPI_getbinval(row, desc, 10, &isnull);
				if (isnull)
				{
					/* every row was skipped: nothing to move */
					req->nrows = 0;
					values[0] = PointerGetDatum(construct_empty_array(TEXTOID));
				}
				else
				{
					values[0] = PointerGetDatum(DatumGetArrayTypePCopy(d));
					req->nrows = DatumGetInt32(SPI_getbinval(row, desc, 11, &isnull));
				}
			}
			if (n_missing > 0)
			{
				Datum		all[1];

				all[0] = req->keys;
				rc = SPI_execute_plan(lamin_table_plan(t, LP_MISSING, true), all, NULL, false, 1);
				lamin_spi_check(rc, "naming the missing keys");
				missing = text_col(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
			}
		}
	}

	/* 2. Checks, from the rows as they are now that they are locked */
	if (missing)
	{

		if (req->single)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("%s with %s %s does not exist", t->label,
							t->nkeys == 1 ? t->key_name[0] : "key", missing),
					 errdetail("No row of table %s has that key on any branch.", t->qualname)));
		error_keys_missing(t, missing);
	}

	if (req->single)
	{
		if (req->action == MOVE_DELETE && single_from == LAMIN_BRANCH_TRASH && !purge)
		{
			if (req->permanent_null)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("%s is already in the trash", record_repr(t, single_key, single_uid, single_keycol)),
						 errdetail("Deleting it again removes it for good, which cannot be undone."),
						 errhint("To delete it for good, call it with permanent => true.")));
		}
		if (target == LAMIN_BRANCH_ARCHIVE && single_from == LAMIN_BRANCH_TRASH && !purge)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("%s is in the trash", record_repr(t, single_key, single_uid, single_keycol)),
					 errhint("Restore it first, then archive it.")));
	}
	else if (target == LAMIN_BRANCH_ARCHIVE && trashed && !purge)
		error_rows_trashed(t, trashed);

	/* the caller's right for each move the rows actually make */
	if (froms && !has_privs_of_role(caller, t->owner))
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n,
					k;

		deconstruct_array(froms, INT4OID, 4, true, TYPALIGN_INT, &elems, &nulls, &n);
		for (k = 0; k < n; k++)
			if (!nulls[k])
				lamin_check_move_right(&req->e, DatumGetInt32(elems[k]), target, purge, caller);
	}

	if (req->single)
	{
		bool		moves = row_moves(req, single_from, target, purge);

		if (moves && single_locked)
			lamin_error_locked(t, single_uid);
		if (moves && unwritable)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to change rows of table %s in this space", t->qualname),
					 errdetail("Role \"%s\" has no write access to the row's space.", GetUserNameFromId(caller, false)),
					 errhint("A space admin grants it: INSERT INTO lamin.space_access VALUES (space, role, 'write');")));
		if (!moves)
		{
			res->action = "unchanged";
			res->from_branch = single_from;
			res->to_branch = single_from;
			res->key = MemoryContextStrdup(outcxt, single_key);
			res->uid = single_uid ? MemoryContextStrdup(outcxt, single_uid) : NULL;
			lamin_restore_user(&saved);
			SPI_finish();
			return;
		}
	}
	else if (unwritable)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to change rows of table %s in their space: %s", t->qualname, unwritable),
				 errdetail("Role \"%s\" has no write access to their space.", GetUserNameFromId(caller, false))));

	/* 3. One statement moves them all (unless the guarded UPDATE moved the one row) */
	if (!single_moved)
	{
		if (lamin_last_promoted)
			pfree(lamin_last_promoted);
		lamin_last_promoted = NULL;
	}
	if (single_moved)
		rc = SPI_OK_UPDATE;
	else if (req->single)
	{
		Datum		args[INDEX_MAX_KEYS + 1];

		memcpy(args, req->key, sizeof(Datum) * t->nkeys);
		args[t->nkeys] = Int32GetDatum(target);
		rc = SPI_execute_plan(lamin_table_plan(t, purge ? LP_ONE_PURGE : LP_ONE_MOVE, false), args, NULL, false, 0);
	}
	else if (!locking_path)
		SPI_processed = 0;		/* LP_MOVE_FAST moved every row */
	else if (purge)
		rc = SPI_execute_plan(lamin_table_plan(t, LP_PURGE_KEYS, req->nrows > 2), values, NULL, false, 0);
	else
	{
		values[1] = Int32GetDatum(target);
		rc = SPI_execute_plan(lamin_table_plan(t, LP_MOVE_KEYS, req->nrows > 2), values, NULL, false, 0);
	}
	if (req->single || locking_path)
		lamin_spi_check(rc, "moving the rows");

	/* 4. Report */
	if (req->single)
	{
		const char *verb;

		res->from_branch = single_from;
		res->key = MemoryContextStrdup(outcxt, single_key);
		res->uid = single_uid ? MemoryContextStrdup(outcxt, single_uid) : NULL;
		res->promoted = lamin_last_promoted ? MemoryContextStrdup(outcxt, lamin_last_promoted) : NULL;
		if (purge)
		{
			res->action = "deleted";
			res->to_null = true;
			ereport(NOTICE,
					(errmsg("permanently deleted %s: %s", t->label,
							record_repr(t, single_key, single_uid, single_keycol))));
		}
		else
		{
			verb = target == LAMIN_BRANCH_TRASH ? "trashed" :
				target == LAMIN_BRANCH_MAIN ? "restored" :
				target == LAMIN_BRANCH_ARCHIVE ? "archived" : "moved";
			res->action = verb;
			res->to_branch = target;
			if (target == LAMIN_BRANCH_TRASH)
				ereport(NOTICE,
						(errmsg("moved %s to trash: %s", t->label,
								record_repr(t, single_key, single_uid, single_keycol))));
			else
				ereport(NOTICE,
						(errmsg("moved %s from %s to %s: %s", t->label, branch_word(single_from),
								branch_word(target), record_repr(t, single_key, single_uid, single_keycol))));
		}
	}
	else
	{
		Datum		verb = CStringGetTextDatum(bulk_verb(req, purge));

		/* the fast path's rows are in the result already (move_fast); then the locking path's */
		for (i = 0; locking_path && i < SPI_processed; i++)
		{
			HeapTuple	row = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		from_null = false;
			Datum		from = SPI_getbinval(row, desc, 3, &from_null);

			report_moved_row(rsinfo, t, row, desc, verb, from, from_null, target, purge);
		}
	}

	lamin_restore_user(&saved);
	SPI_finish();
}

/*
 * move_rows in an operation of its own (or the one open around it: a cascade, a trigger), so that
 * the move log shows everything the call moved under one id. cascade false: a restore does not
 * bring back the rows its rows' operation took along.
 */
static void
move_rows_logged(MoveRequest *req, MoveResult *res, ReturnSetInfo *rsinfo, MemoryContext outcxt, bool cascade)
{
	int64		saved = lamin_operation_begin();
	bool		saved_cascade_off = lamin_cascade_off;

	PG_TRY();
	{
		if (!cascade)
			lamin_cascade_off = true;
		move_rows(req, res, rsinfo, outcxt);
	}
	PG_FINALLY();
	{
		lamin_operation_end(saved);
		lamin_cascade_off = saved_cascade_off;
	}
	PG_END_TRY();
}

/* lamin.branch_change for the artifact functions, lamin.row_change for the generic ones */
static Datum
move_result_datum(FunctionCallInfo fcinfo, Oid relid, Datum id, MoveResult *res)
{
	TupleDesc	desc;
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};
	int			n = 0;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);
	if (OidIsValid(relid))
	{
		values[n++] = ObjectIdGetDatum(relid);
		values[n++] = CStringGetTextDatum(res->key);
	}
	else
		values[n++] = id;
	if (res->uid)
		values[n] = CStringGetTextDatum(res->uid);
	else
		nulls[n] = true;
	n++;
	values[n++] = CStringGetTextDatum(res->action);
	values[n++] = Int32GetDatum(res->from_branch);
	nulls[n] = res->to_null;
	values[n++] = Int32GetDatum(res->to_branch);
	if (res->promoted)
		values[n] = CStringGetTextDatum(res->promoted);
	else
		nulls[n] = true;
	n++;
	Assert(n == desc->natts);
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/* The right for the kind of move, checked before anything is read. */
static void
check_kind_right(MoveRequest *req)
{
	bool		purge;

	(void) target_of(req, &purge);
	lamin_check_view_right(&req->e, req->action == MOVE_RESTORE || purge, GetUserId());
}

/* A branch by id, checked against the branch catalog of the table. */
static int32
lamin_checked_branch(const LaminEnabled *e, int32 branch)
{
	if (!lamin_branch_exists(e, branch))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("branch %d does not exist", branch),
				 errhint("The branches are listed by: SELECT id, name FROM %s;",
						 lamin_qualified_name(e->branch_table))));
	return branch;
}

static Oid
artifact_table_oid(void)
{
	Oid			nsp = get_namespace_oid("lamin", false);
	Oid			relid = get_relname_relid("artifact_all", nsp);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"lamin.artifact_all\" does not exist")));
	return relid;
}

/* A move of one key, given as values of the key's types. */
static void
single_key_request(MoveRequest *req, Datum *key)
{
	memcpy(req->key, key, sizeof(Datum) * req->t->nkeys);
	req->keys = (Datum) 0;
	req->nrows = 1;
	req->single = true;
	req->locking = LOCKING_WAIT;
}

static Datum
artifact_move(FunctionCallInfo fcinfo, MoveAction action)
{
	MoveRequest req;
	MoveResult	res;
	Datum		key[1];

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("artifact id must not be null")));
	memset(&req, 0, sizeof(req));
	memset(&res, 0, sizeof(res));
	req.action = action;
	req.permanent_null = true;
	if (action == MOVE_DELETE && PG_NARGS() > 1 && !PG_ARGISNULL(1))
	{
		req.permanent_null = false;
		req.permanent = PG_GETARG_BOOL(1);
	}
	if (!lamin_registry_lookup(artifact_table_oid(), &req.e))
	{
		/* 0.1.0 had no registry: the artifact views by name (until ALTER EXTENSION UPDATE) */
		Oid			nsp = get_namespace_oid("lamin", false);

		req.e.relid = artifact_table_oid();
		req.e.main_view = get_relname_relid("artifact", nsp);
		req.e.archive_view = get_relname_relid("artifact_archive", nsp);
		req.e.trash_view = get_relname_relid("artifact_trash", nsp);
		req.e.branch_table = get_relname_relid("branch", nsp);
	}
	check_kind_right(&req);
	req.t = lamin_table_get(req.e.relid);
	key[0] = PG_GETARG_DATUM(0);
	single_key_request(&req, key);
	move_rows_logged(&req, &res, NULL, CurrentMemoryContext, true);
	return move_result_datum(fcinfo, InvalidOid, PG_GETARG_DATUM(0), &res);
}

MOVE_FUNCTION(lamin_artifact_delete, artifact_move, MOVE_DELETE)

MOVE_FUNCTION(lamin_artifact_restore, artifact_move, MOVE_RESTORE)

MOVE_FUNCTION(lamin_artifact_archive, artifact_move, MOVE_ARCHIVE)

static Datum
generic_move(FunctionCallInfo fcinfo, MoveAction action)
{
	MoveRequest req;
	MoveResult	res;
	Datum		key[INDEX_MAX_KEYS];

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("key must not be null")));
	memset(&req, 0, sizeof(req));
	memset(&res, 0, sizeof(res));
	req.action = action;
	req.permanent_null = true;
	req.e = lamin_enabled_table(PG_GETARG_OID(0));
	if (action == MOVE_DELETE && PG_NARGS() > 2 && !PG_ARGISNULL(2))
	{
		req.permanent_null = false;
		req.permanent = PG_GETARG_BOOL(2);
	}
	check_kind_right(&req);
	if (action == MOVE_TO)
	{
		if (PG_ARGISNULL(2))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("branch must not be null")));
		req.to = lamin_checked_branch(&req.e, PG_GETARG_INT32(2));
	}
	req.t = lamin_table_get(req.e.relid);
	lamin_key_from_datum(req.t, PG_GETARG_DATUM(1), get_fn_expr_argtype(fcinfo->flinfo, 1), key);
	single_key_request(&req, key);
	/* restore(tbl, key, cascade) */
	move_rows_logged(&req, &res, NULL, CurrentMemoryContext,
					 !(action == MOVE_RESTORE && PG_NARGS() > 2 && !PG_ARGISNULL(2) && !PG_GETARG_BOOL(2)));
	return move_result_datum(fcinfo, req.e.relid, (Datum) 0, &res);
}

MOVE_FUNCTION(lamin_delete, generic_move, MOVE_DELETE)

MOVE_FUNCTION(lamin_restore, generic_move, MOVE_RESTORE)

MOVE_FUNCTION(lamin_archive, generic_move, MOVE_ARCHIVE)

MOVE_FUNCTION(lamin_move, generic_move, MOVE_TO)

/*
 * The keys of a bulk call as one flat text[] of nkeys values per key, whatever their type: a
 * one-dimensional array for a one-column key, a two-dimensional one (a row per key) for several
 * columns.
 */
static Datum
keys_as_text(LaminTable *t, ArrayType *arr, int *nrows)
{
	Oid			elemtype = ARR_ELEMTYPE(arr);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i;
	Oid			out;
	bool		varlena;

	if (t->nkeys > 1 && (ARR_NDIM(arr) != 2 || ARR_DIMS(arr)[1] != t->nkeys))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("keys of table %s have %d columns", t->qualname, t->nkeys),
				 errhint("Pass one row per key: ARRAY[['1', 'a'], ['2', 'b']].")));
	if (t->nkeys == 1 && ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("keys of table %s must be a one-dimensional array", t->qualname)));

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
	getTypeOutputInfo(elemtype, &out, &varlena);
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("keys of table %s must not contain nulls", t->qualname)));
		elems[i] = CStringGetTextDatum(OidOutputFunctionCall(out, elems[i]));
	}
	*nrows = n / t->nkeys;
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

static Datum
move_many(FunctionCallInfo fcinfo, MoveAction action)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MoveRequest req;
	char	   *locking;
	int			locking_arg;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("keys must not be null")));
	PreventCommandDuringRecovery("moving rows between branches");
	memset(&req, 0, sizeof(req));
	req.action = action;
	req.permanent_null = true;
	req.e = lamin_enabled_table(PG_GETARG_OID(0));
	if (action == MOVE_DELETE && !PG_ARGISNULL(2))
	{
		req.permanent_null = false;
		req.permanent = PG_GETARG_BOOL(2);
	}
	/* how to treat rows another transaction has locked: the argument after keys and permanent or branch */
	locking_arg = action == MOVE_DELETE || action == MOVE_TO ? 3 : 2;
	locking = PG_ARGISNULL(locking_arg) ? "wait" : text_to_cstring(PG_GETARG_TEXT_PP(locking_arg));
	if (strcmp(locking, "wait") == 0)
		req.locking = LOCKING_WAIT;
	else if (strcmp(locking, "nowait") == 0)
		req.locking = LOCKING_NOWAIT;
	else if (strcmp(locking, "skip locked") == 0)
		req.locking = LOCKING_SKIP;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("locking must be 'wait', 'nowait' or 'skip locked', not \"%s\"", locking)));
	if (action == MOVE_TO)
	{
		if (PG_ARGISNULL(2))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("branch must not be null")));
		req.to = lamin_checked_branch(&req.e, PG_GETARG_INT32(2));
	}
	check_kind_right(&req);

	InitMaterializedSRF(fcinfo, 0);
	req.t = lamin_table_get(req.e.relid);
	req.keys = keys_as_text(req.t, PG_GETARG_ARRAYTYPE_P(1), &req.nrows);
	/* restore_many(tbl, keys, locking, cascade) */
	move_rows_logged(&req, NULL, rsinfo, CurrentMemoryContext,
					 !(action == MOVE_RESTORE && PG_NARGS() > 3 && !PG_ARGISNULL(3) && !PG_GETARG_BOOL(3)));
	return (Datum) 0;
}

MOVE_FUNCTION(lamin_delete_many, move_many, MOVE_DELETE)

MOVE_FUNCTION(lamin_restore_many, move_many, MOVE_RESTORE)

MOVE_FUNCTION(lamin_archive_many, move_many, MOVE_ARCHIVE)

MOVE_FUNCTION(lamin_move_many, move_many, MOVE_TO)
