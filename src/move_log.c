/*
 * move_log.c: the record of every move (lamin.move_log), the operation a move belongs to, and
 * cascades from a parent table to the enabled tables that reference it.
 *
 * Owns:
 *   - the current operation: one id for everything one call or statement moves. The move
 *     functions (move.c) and the view trigger (view_trigger.c, once per statement) open one;
 *     a statement that runs outside any opens its own. Every statement nested in it (the move
 *     itself, cascades, foreign-key actions) logs under it.
 *   - lamin._move_log_trigger(): AFTER UPDATE and AFTER DELETE FOR EACH STATEMENT (FOR EACH
 *     ROW on partitioned tables). On UPDATE it takes the moves the row trigger noted while the
 *     statement ran (below); with transition tables (DELETE, and UPDATE on tables that cascade)
 *     it reads the old and new rows side by side. It keeps the rows whose branch changed (or
 *     that were deleted: purges, with the row as jsonb) and writes them straight into
 *     lamin.move_record's heap and indexes, as COPY does
 *     (no role needs to be granted the log, and no plan runs per statement): one record per
 *     pair of branches and 1000 keys, the keys as an array. lamin.move_log shows a row per moved row. With the argument
 *     'cascade', it then moves the rows of enabled child tables that reference the moved rows,
 *     as each child table's owner, under the same operation: rows leaving for trash or archive
 *     take the children that were on the branch they left with them; rows coming back take the
 *     children whose last move was the operation that took the parent away.
 *   - the moves noted while a statement runs. Postgres fills an UPDATE's transition tables with
 *     a copy of both versions of every updated row, which cost a bulk move more than the rest of
 *     the log together; the row trigger (row_trigger.c) already holds both versions, so it notes
 *     each row whose branch changes (its key, uid, from and to branch, the subtransaction), and
 *     the statement trigger, made without transition tables, writes what was noted for its table.
 *     A row is noted only while that trigger would fire. Where another BEFORE UPDATE row trigger
 *     fires after lamin_branch_row (triggers fire in name order) and so may still skip the row
 *     or change its branch, the row's branch is read again by key before it is logged. A
 *     subtransaction that aborts takes its notes with it; a statement nested in another
 *     (a trigger's) that moves rows of the same table also writes what the outer one noted so
 *     far, under its operation.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "executor/executor.h"
#include "parser/parse_relation.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"

#include "compat.h"
#include "lamin_branch.h"

/*
 * The operation the moves running now belong to: 0 when none is open, LAMIN_OPERATION_PENDING
 * when one is open but has moved nothing yet (its id is drawn by the first statement that logs
 * a row, so that a call that moves nothing, or runs where nothing may be written, draws none).
 */
static int64 current_operation = 0;

/* Set while a restore asked not to bring back the rows its parent's operation took along. */
bool		lamin_cascade_off = false;

/* lamin.NAME; InvalidOid if it does not exist and missing_ok */
static Oid
lamin_relid(const char *name, bool missing_ok)
{
	Oid			nsp = get_namespace_oid("lamin", false);
	Oid			relid = get_relname_relid(name, nsp);

	if (!OidIsValid(relid) && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"lamin.%s\" does not exist", name),
				 errhint("ALTER EXTENSION lamin_branch UPDATE brings it.")));
	return relid;
}

/*
 * The log's relations, looked up by name once and forgotten when Postgres invalidates any of
 * them (dropped, renamed, altered: a relcache invalidation), and the attribute numbers of
 * lamin.move_record's columns. A statement that moves one row pays no catalog look-up for them.
 */
typedef struct LogRelations
{
	Oid			record;			/* lamin.move_record */
	Oid			record_seq;		/* lamin.move_record_id_seq */
	Oid			inbox;			/* lamin.move_inbox, or InvalidOid before 0.4.0 */
	AttrNumber	att[12];		/* LOG_ATT_* of lamin.move_record */
	AttrNumber	inbox_att[12];	/* and of lamin.move_inbox */
} LogRelations;

enum
{
	LOG_ATT_ID, LOG_ATT_RELATION, LOG_ATT_KEYS, LOG_ATT_UIDS, LOG_ATT_COUNT, LOG_ATT_FROM,
	LOG_ATT_TO, LOG_ATT_ROLE, LOG_ATT_AT, LOG_ATT_TXID, LOG_ATT_OPERATION, LOG_ATT_ROWS
};

static const char *const log_att_names[] = {
	"id", "relation", "keys", "uids", "key_count", "from_branch", "to_branch", "role", "at",
	"txid", "operation", "row_data"
};

static LogRelations log_rels;

/*
 * lamin_branch.log_inbox: records go to lamin.move_inbox, for lamin.merge_log() to merge: always
 * (on), never (off), or where the module's merger serves this database (auto, merger.c).
 */
typedef enum LogInbox
{
	LOG_INBOX_OFF,
	LOG_INBOX_ON,
	LOG_INBOX_AUTO
} LogInbox;

static const struct config_enum_entry log_inbox_options[] = {
	{"auto", LOG_INBOX_AUTO, false},
	{"on", LOG_INBOX_ON, false},
	{"off", LOG_INBOX_OFF, false},
	{"true", LOG_INBOX_ON, true},
	{"false", LOG_INBOX_OFF, true},
	{"yes", LOG_INBOX_ON, true},
	{"no", LOG_INBOX_OFF, true},
	{"1", LOG_INBOX_ON, true},
	{"0", LOG_INBOX_OFF, true},
	{NULL, 0, false}
};

static int	log_inbox = LOG_INBOX_AUTO;

/*
 * The predicates of lamin.move_record's partial indexes, ready to run, by index. Postgres
 * prepares an index's predicate for every statement that inserts (ExecPrepareQual runs the
 * planner over it), which costs a single-row move about as much as the insert it guards; the
 * log prepares each once per backend. An index's predicate cannot change under its OID, so an
 * entry is never wrong; after a relcache invalidation of the log the list is no longer used,
 * and it is emptied at the end of the transaction, when no write can be using it (a write can
 * take an invalidation while it inserts).
 */
typedef struct LogPredicate
{
	Oid			index;
	ExprState  *state;
} LogPredicate;

static MemoryContext log_pred_cxt = NULL;
static LogPredicate *log_preds = NULL;
static int	log_npreds = 0;
static bool log_preds_stale = false;

void
lamin_log_relations_invalidate(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || relid == log_rels.record || relid == log_rels.record_seq ||
		relid == log_rels.inbox)
	{
		memset(&log_rels, 0, sizeof(log_rels));
		log_preds_stale = true;
	}
}

static bool
user_function(Oid func, void *context)
{
	return func >= FirstNormalObjectId;
}

/* Does the expression call a function not built into Postgres (which could write the log)? */
static bool
calls_user_function(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (check_functions_in_node(node, user_function, context))
		return true;
	return expression_tree_walker(node, calls_user_function, context);
}

/* At the end of a transaction: empty the predicates an invalidation left unused. */
static void
log_predicates_tidy(void)
{
	if (!log_preds_stale)
		return;
	if (log_pred_cxt)
		MemoryContextReset(log_pred_cxt);
	log_preds = NULL;
	log_npreds = 0;
	log_preds_stale = false;
}

/*
 * Give each partial index of the log its prepared predicate, so that ExecInsertIndexTuples
 * does not prepare it again. The state lives as long as the backend; ExecQual runs it in the
 * caller's per-tuple context.
 */
static void
log_predicates(ResultRelInfo *rri)
{
	if (log_preds_stale)
		return;					/* ExecInsertIndexTuples prepares them, as it would */
	for (int i = 0; i < rri->ri_NumIndices; i++)
	{
		IndexInfo  *ii = rri->ri_IndexRelationInfo[i];
		Oid			index = RelationGetRelid(rri->ri_IndexRelationDescs[i]);
		int			k;

		if (ii->ii_Predicate == NIL || ii->ii_PredicateState != NULL)
			continue;
		for (k = 0; k < log_npreds && log_preds[k].index != index; k++)
			;
		if (k == log_npreds)
		{
			MemoryContext old;

			if (log_pred_cxt == NULL)
				log_pred_cxt = AllocSetContextCreate(TopMemoryContext, "lamin_branch move log predicates",
													 ALLOCSET_SMALL_SIZES);
			old = MemoryContextSwitchTo(log_pred_cxt);
			log_preds = log_preds ? repalloc(log_preds, sizeof(LogPredicate) * (log_npreds + 1))
				: palloc(sizeof(LogPredicate));
			log_preds[k].index = index;

			/*
			 * A predicate that calls a user's function is left to Postgres (NULL): a prepared
			 * state must not run again while it runs, and such a function could move rows.
			 */
			log_preds[k].state = calls_user_function((Node *) ii->ii_Predicate, NULL) ? NULL :
				ExecInitQual((List *) expression_planner((Expr *) copyObject(ii->ii_Predicate)), NULL);
			log_npreds++;
			MemoryContextSwitchTo(old);
		}
		ii->ii_PredicateState = log_preds[k].state;
	}
}

/* The numbers of the log's columns in relation lamin.NAME */
static void
log_attnums(Oid relid, const char *name, AttrNumber *att)
{
	Relation	rel = table_open(relid, AccessShareLock);

	for (int i = 0; i < lengthof(log_att_names); i++)
	{
		att[i] = attnameAttNum(rel, log_att_names[i], false);
		if (att[i] == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"lamin.%s\" does not exist",
							log_att_names[i], name),
					 errhint("ALTER EXTENSION lamin_branch UPDATE brings it.")));
	}
	table_close(rel, AccessShareLock);
}

/* lamin.move_record, its id sequence and its columns' numbers, looked up where not known */
static LogRelations *
log_relations(void)
{
	if (!OidIsValid(log_rels.record))
	{
		LogRelations r;

		memset(&r, 0, sizeof(r));
		r.record = lamin_relid("move_record", false);
		r.record_seq = lamin_relid("move_record_id_seq", false);
		r.inbox = lamin_relid("move_inbox", true);
		log_attnums(r.record, "move_record", r.att);
		if (OidIsValid(r.inbox))
			log_attnums(r.inbox, "move_inbox", r.inbox_att);
		log_rels = r;
	}
	return &log_rels;
}

/*
 * Open an operation unless one is open: returns what to give lamin_operation_end(). Callers end
 * it on error too (PG_FINALLY), so that a failed call caught by a savepoint leaves none open.
 */
int64
lamin_operation_begin(void)
{
	int64		saved = current_operation;

	if (current_operation == 0)
		current_operation = LAMIN_OPERATION_PENDING;
	return saved;
}

/*
 * The caller that opened the operation closes it; a nested one leaves it open, with the id it
 * may have drawn, for the rest of the outer call.
 */
void
lamin_operation_end(int64 saved)
{
	if (saved == 0)
		current_operation = 0;
}

/*
 * The id of the open operation. One that has none yet takes the id of the record about to be
 * written, its first (*record_id): one draw from the log's sequence, not two.
 */
static int64
operation_id(int64 *record_id)
{
	*record_id = 0;
	if (current_operation == LAMIN_OPERATION_PENDING)
	{
		*record_id = nextval_internal(log_relations()->record_seq, false);
		current_operation = *record_id;
	}
	return current_operation;
}

int64
lamin_operation_current(void)
{
	return current_operation;
}

/* Make op the current operation; returns the one before. */
int64
lamin_operation_set(int64 op)
{
	int64		saved = current_operation;

	current_operation = op;
	return saved;
}

/* Forget any operation when a transaction ends (a backstop: callers end theirs). */
static void
operation_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PREPARE)
		log_predicates_tidy();
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PARALLEL_COMMIT)
	{
		current_operation = 0;
		lamin_cascade_off = false;
		log_predicates_tidy();
	}
}

/*
 * The moves the row trigger noted and no statement trigger has written yet, in the order the rows
 * were updated (a list of notes, row_trigger.c).
 */
typedef struct PendingMove
{
	LaminNote	note;			/* the table, the subtransaction */
	int32		from;
	int32		to;
	Datum		key;			/* text: the old row's key, as lamin_key_text() writes it */
	Datum		uid;			/* text, or 0 */
	Datum	   *check_key;		/* the new row's key values, when its branch is to be read again */
} PendingMove;

static LaminNotes pending = LAMIN_NOTES("lamin_branch pending moves", PendingMove);

/* Note a row the running UPDATE moves from one branch to another (the row trigger). */
void
lamin_move_log_note(LaminTable *t, Relation rel, HeapTuple oldtup, HeapTuple newtup,
					int32 from, int32 to, bool recheck)
{
	TupleDesc	desc = RelationGetDescr(rel);
	PendingMove *p = lamin_notes_add(&pending, RelationGetRelid(rel));
	MemoryContext old = MemoryContextSwitchTo(pending.cxt);
	Datum		key[INDEX_MAX_KEYS];
	bool		isnull;
	int			i;

	p->from = from;
	p->to = to;
	for (i = 0; i < t->nkeys; i++)
		key[i] = heap_getattr(oldtup, t->key_att[i], desc, &isnull);
	p->key = lamin_key_text_datum(t, key);
	p->uid = (Datum) 0;
	if (t->att_uid != InvalidAttrNumber)
	{
		Datum		d = heap_getattr(newtup, t->att_uid, desc, &isnull);

		/* the uid as text, whatever its string type */
		if (!isnull)
			p->uid = PointerGetDatum(pg_detoast_datum_copy((struct varlena *) DatumGetPointer(d)));
	}
	p->check_key = NULL;
	if (recheck)
	{
		p->check_key = palloc(sizeof(Datum) * t->nkeys);
		for (i = 0; i < t->nkeys; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, t->key_att[i] - 1);
			Datum		d = heap_getattr(newtup, t->key_att[i], desc, &isnull);

			p->check_key[i] = datumCopy(d, att->attbyval, att->attlen);
		}
	}
	MemoryContextSwitchTo(old);
}

void
lamin_move_log_init(void)
{
	DefineCustomEnumVariable("lamin_branch.log_inbox",
							 "Write the move log's records to lamin.move_inbox, for lamin.merge_log() to merge.",
							 "A moving statement then writes the record's heap row only; its index entries "
							 "are written when lamin.merge_log() moves it into lamin.move_record. auto: where "
							 "the module's merger serves this database (lamin_branch.merge_naptime).",
							 &log_inbox, LOG_INBOX_AUTO, log_inbox_options, PGC_USERSET, 0,
							 NULL, NULL, NULL);
	RegisterXactCallback(operation_xact_callback, NULL);
	lamin_notes_register(&pending);
}

/* What the trigger collects of the moved rows: parallel arrays, one entry per row */
typedef struct Moved
{
	int			n;
	int			size;
	Datum	   *keys;			/* text */
	Datum	   *uids;			/* text, or null */
	bool	   *uid_null;
	Datum	   *froms;			/* int4 */
	Datum	   *tos;			/* int4, or null (a purge) */
	bool	   *to_null;
	Datum	   *rows;			/* json of the deleted row, or null */
	bool	   *row_null;
	HeapTuple  *olds;			/* the old rows, for cascades */
} Moved;

static void
moved_grow(Moved *m)
{
	if (m->n < m->size)
		return;
	m->size = m->size ? m->size * 2 : 16;
#define GROW(f, type) m->f = m->f ? repalloc(m->f, sizeof(type) * m->size) : palloc(sizeof(type) * m->size)
	GROW(keys, Datum);
	GROW(uids, Datum);
	GROW(uid_null, bool);
	GROW(froms, Datum);
	GROW(tos, Datum);
	GROW(to_null, bool);
	GROW(rows, Datum);
	GROW(row_null, bool);
	GROW(olds, HeapTuple);
#undef GROW
}

/* The key of the row in slot as text, as lamin_key_text() writes it */
static Datum
row_key_text(LaminTable *t, TupleTableSlot *slot)
{
	Datum		key[INDEX_MAX_KEYS];

	lamin_slot_key(t, slot, key);
	return lamin_key_text_datum(t, key);
}

static void
note_row(LaminTable *t, Moved *m, TupleTableSlot *oldslot, TupleTableSlot *newslot, bool keep_old)
{
	bool		isnull;
	int32		from = lamin_slot_branch(t, oldslot);

	if (newslot && lamin_slot_branch(t, newslot) == from)
		return;
	moved_grow(m);
	m->keys[m->n] = row_key_text(t, oldslot);
	m->uid_null[m->n] = true;
	if (t->att_uid != InvalidAttrNumber)
	{
		Datum		d = slot_getattr(newslot ? newslot : oldslot, t->att_uid, &isnull);

		if (!isnull)
		{
			/* the uid as text, whatever its string type */
			m->uids[m->n] = CStringGetTextDatum(TextDatumGetCString(d));
			m->uid_null[m->n] = false;
		}
	}
	m->froms[m->n] = Int32GetDatum(from);
	m->to_null[m->n] = newslot == NULL;
	m->tos[m->n] = newslot ? Int32GetDatum(lamin_slot_branch(t, newslot)) : (Datum) 0;
	m->row_null[m->n] = newslot != NULL;
	if (newslot == NULL)
		m->rows[m->n] = DirectFunctionCall1(row_to_json, ExecFetchSlotHeapTupleDatum(oldslot));
	m->olds[m->n] = keep_old ? ExecCopySlotHeapTuple(oldslot) : NULL;
	m->n++;
}

static void
collect_rows(TriggerData *td, LaminTable *t, Moved *m, bool keep_old)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	TupleTableSlot *oldslot;
	TupleTableSlot *newslot = NULL;
	bool		update = TRIGGER_FIRED_BY_UPDATE(td->tg_event);

	if (TRIGGER_FIRED_FOR_ROW(td->tg_event))
	{
		oldslot = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
		ExecStoreHeapTuple(td->tg_trigtuple, oldslot, false);
		if (update)
		{
			newslot = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
			ExecStoreHeapTuple(td->tg_newtuple, newslot, false);
		}
		note_row(t, m, oldslot, newslot, keep_old);
	}
	else
	{
		/* an UPDATE stores both versions of a row together: the tables are read side by side */
		oldslot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
		tuplestore_rescan(td->tg_oldtable);
		if (update)
		{
			newslot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
			tuplestore_rescan(td->tg_newtable);
		}
		while (tuplestore_gettupleslot(td->tg_oldtable, true, false, oldslot))
		{
			if (update && !tuplestore_gettupleslot(td->tg_newtable, true, false, newslot))
				elog(ERROR, "transition tables of an UPDATE differ in length");
			note_row(t, m, oldslot, newslot, keep_old);
		}
	}
	ExecDropSingleTupleTableSlot(oldslot);
	if (newslot)
		ExecDropSingleTupleTableSlot(newslot);
}

/*
 * The moves the row trigger noted for this table, taken off the list. A row noted where another
 * row trigger fired after lamin_branch_row is logged with the branch it has now, read by key as
 * the table's owner, and not at all if that is the branch it left (or the row is not found).
 */
static void
collect_noted(TriggerData *td, LaminTable *t, Moved *m)
{
	Oid			relid = RelationGetRelid(td->tg_relation);
	bool		rechecked = false;
	int			i;

	for (i = 0; i < pending.n; i++)
	{
		PendingMove *p = lamin_note(&pending, i);
		int32		to = p->to;

		if (p->note.relid != relid)
			continue;
		if (p->check_key != NULL)
		{
			if (!lamin_notes_read_row(t, LP_ONE_BRANCH, p->check_key, &rechecked, "reading a moved row's branch"))
				continue;
			{
				bool		isnull;
				Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

				to = isnull ? LAMIN_BRANCH_MAIN : DatumGetInt32(d);
			}
			if (to == p->from)
				continue;
		}
		moved_grow(m);
		m->keys[m->n] = p->key;
		m->uids[m->n] = p->uid;
		m->uid_null[m->n] = p->uid == (Datum) 0;
		m->froms[m->n] = Int32GetDatum(p->from);
		m->tos[m->n] = Int32GetDatum(to);
		m->to_null[m->n] = false;
		m->row_null[m->n] = true;
		m->olds[m->n] = NULL;
		m->n++;
	}
	if (rechecked)
		SPI_finish();
}

/* The noted moves of a table, once written, leave the list. */
static void
forget_noted(Oid relid)
{
	lamin_notes_drop_relation(&pending, relid);
}

static Datum
array_of(Datum *values, bool *nulls, int n, Oid type)
{
	int			dims[1];
	int			lbs[1];
	int16		typlen;
	bool		typbyval;
	char		typalign;

	dims[0] = n;
	lbs[0] = 1;
	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs, type, typlen, typbyval, typalign));
}

/* Take the rights of the log's owner: only roles granted it read the log. */
static void
become_log_owner(LaminSavedUser *saved)
{
	lamin_become_role(lamin_relation_owner(log_relations()->record), saved);
}

/*
 * The most keys one record holds: a look-up by key reads (and decompresses) every record that
 * holds the key in full, so a bulk move of 30 000 rows writes 30 records, not one.
 */
#define LOG_RECORD_KEYS 1000

/*
 * Write the statement's records into lamin.move_record directly, as COPY does: the heap and the
 * indexes, no plan, no executor, no permission check (the log is the extension's own table and
 * nothing but this module writes it). One record per pair of branches the statement moved rows
 * between (a purge has no to_branch) and LOG_RECORD_KEYS rows, holding their keys, uids and
 * purged rows as arrays in the order the statement met them. The other columns take the values their defaults would: id
 * from the table's identity sequence (first_id, where the operation took the first record's id
 * already); at the statement's timestamp; txid the top transaction's.
 */
static void
write_log(LaminTable *t, Moved *m, int64 operation, int64 first_id)
{
	LogRelations *lr = log_relations();
	bool		to_inbox = OidIsValid(lr->inbox) &&
		(log_inbox == LOG_INBOX_ON || (log_inbox == LOG_INBOX_AUTO && lamin_merger_serves()));
	const AttrNumber *att = to_inbox ? lr->inbox_att : lr->att;
	Relation	rel = table_open(to_inbox ? lr->inbox : lr->record, RowExclusiveLock);
	Oid			seq = lr->record_seq;
	TupleDesc	desc = RelationGetDescr(rel);
	EState	   *estate = CreateExecutorState();
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);
	CommandId	cid = GetCurrentCommandId(true);
	AttrNumber	a_id = att[LOG_ATT_ID],
				a_relation = att[LOG_ATT_RELATION],
				a_keys = att[LOG_ATT_KEYS],
				a_uids = att[LOG_ATT_UIDS],
				a_count = att[LOG_ATT_COUNT],
				a_from = att[LOG_ATT_FROM],
				a_to = att[LOG_ATT_TO],
				a_role = att[LOG_ATT_ROLE],
				a_at = att[LOG_ATT_AT],
				a_txid = att[LOG_ATT_TXID],
				a_operation = att[LOG_ATT_OPERATION],
				a_rows = att[LOG_ATT_ROWS];
	Datum		at = TimestampTzGetDatum(GetCurrentStatementStartTimestamp());
	Datum		txid = Int64GetDatum((int64) U64FromFullTransactionId(GetTopFullTransactionId()));
	bool	   *done = palloc0(sizeof(bool) * m->n);
	Datum	   *keys = palloc(sizeof(Datum) * m->n);
	Datum	   *uids = palloc(sizeof(Datum) * m->n);
	bool	   *uid_null = palloc(sizeof(bool) * m->n);
	Datum	   *rows = palloc(sizeof(Datum) * m->n);
	int			first;

	if (to_inbox)
		lamin_merger_wrote();
	InitResultRelInfo(rri, rel, 1, NULL, 0);
	ExecOpenIndices(rri, false);
	log_predicates(rri);
	first = 0;
	while (first < m->n)
	{
		int			n = 0,
					i;
		bool		purge = m->to_null[first];
		bool		any_uid = false;

		/* the rows moved between the same two branches as this one, LOG_RECORD_KEYS at most */
		for (i = first; i < m->n && n < LOG_RECORD_KEYS; i++)
		{
			if (done[i] || m->froms[i] != m->froms[first] || m->to_null[i] != purge ||
				(!purge && m->tos[i] != m->tos[first]))
				continue;
			done[i] = true;
			keys[n] = m->keys[i];
			uids[n] = m->uids[i];
			uid_null[n] = m->uid_null[i];
			any_uid |= !m->uid_null[i];
			if (purge)
				rows[n] = DirectFunctionCall1(jsonb_in, CStringGetDatum(TextDatumGetCString(m->rows[i])));
			n++;
		}
		ExecClearTuple(slot);
		memset(slot->tts_isnull, true, desc->natts * sizeof(bool));
#define SET(att, value, isnull) (slot->tts_values[(att) - 1] = (value), slot->tts_isnull[(att) - 1] = (isnull))
		SET(a_id, Int64GetDatum(first_id != 0 ? first_id : nextval_internal(seq, false)), false);
		first_id = 0;
		SET(a_relation, ObjectIdGetDatum(t->query_relid), false);
		SET(a_keys, array_of(keys, NULL, n, TEXTOID), false);
		SET(a_uids, any_uid ? array_of(uids, uid_null, n, TEXTOID) : (Datum) 0, !any_uid);
		SET(a_count, Int32GetDatum(n), false);
		SET(a_from, m->froms[first], false);
		SET(a_to, m->tos[first], purge);
		SET(a_role, ObjectIdGetDatum(GetOuterUserId()), false);
		SET(a_at, at, false);
		SET(a_txid, txid, false);
		SET(a_operation, Int64GetDatum(operation), false);
		SET(a_rows, purge ? array_of(rows, NULL, n, JSONBOID) : (Datum) 0, !purge);
#undef SET
		ExecStoreVirtualTuple(slot);
		table_tuple_insert(rel, slot, cid, 0, NULL);
		if (rri->ri_NumIndices > 0)
			(void) lamin_insert_index_tuples(rri, slot, estate);
		ResetPerTupleExprContext(estate);
		/* the next row no record holds yet: of this pair, if it has more than a record holds */
		while (first < m->n && done[first])
			first++;
	}
	ExecCloseIndices(rri);
	ExecDropSingleTupleTableSlot(slot);
	FreeExecutorState(estate);
	table_close(rel, NoLock);
	/* what later statements of this trigger (cascades) read includes these records */
	CommandCounterIncrement();
}

/* Is the branch one rows leave main for, to come back later (trash or archive)? */
static bool
away(int32 branch)
{
	return branch == LAMIN_BRANCH_TRASH || branch == LAMIN_BRANCH_ARCHIVE;
}

/*
 * The records of the keys $2 of table $1, found through the GIN index on the keys: every record
 * in order, or the latest of each key. Columns as lamin._moves_of() returns them.
 */
#define MOVES_OF_SQL(distinct, order) \
	"SELECT " distinct " k.key, r.from_branch, r.to_branch, r.role, r.at, r.operation, r.id " \
	"FROM lamin.move_record r CROSS JOIN LATERAL pg_catalog.unnest(r.keys) AS k(key) " \
	"WHERE r.relation OPERATOR(pg_catalog.=) $1 AND r.keys OPERATOR(pg_catalog.&&) $2 " \
	"AND k.key IN (SELECT pg_catalog.unnest($2)) ORDER BY k.key, r.id" order
#define LATEST_MOVES_SQL MOVES_OF_SQL("DISTINCT ON (k.key)", " DESC")
#define ALL_MOVES_SQL MOVES_OF_SQL("", "")

/*
 * For each restored row, the operation that took it to the branch it came from: its latest
 * record before this statement's. Read as the log's owner, before the statement's own records
 * are written. Returns an operation per row, 0 where there is none.
 */
static int64 *
parent_operations(LaminTable *t, Moved *m)
{
	int64	   *ops = palloc0(sizeof(int64) * m->n);
	Datum		args[2];
	HASHCTL		ctl;
	HTAB	   *h;
	int			rc;
	uint64		r;
	int			i;
	typedef struct
	{
		char		key[NAMEDATALEN * 4];
		int64		op;
		int32		to;
		bool		to_null;
	}			OpEntry;

	args[0] = ObjectIdGetDatum(t->query_relid);
	args[1] = array_of(m->keys, NULL, m->n, TEXTOID);
	rc = SPI_execute_with_args(LATEST_MOVES_SQL, 2, (Oid[]) {REGCLASSOID, TEXTARRAYOID}, args, NULL, true, 0);
	lamin_spi_check(rc, "finding the operations that took the rows away");
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = NAMEDATALEN * 4;
	ctl.entrysize = sizeof(OpEntry);
	ctl.hcxt = CurrentMemoryContext;
	h = hash_create("lamin_branch parent operations", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		char	   *key = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
		Datum		op = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 6, &isnull);
		OpEntry    *e;

		if (isnull || strlen(key) >= NAMEDATALEN * 4)
			continue;
		e = hash_search(h, key, HASH_ENTER, NULL);
		e->op = DatumGetInt64(op);
		e->to = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 3, &e->to_null));
	}
	for (i = 0; i < m->n; i++)
	{
		char	   *key = TextDatumGetCString(m->keys[i]);
		OpEntry    *e = strlen(key) < NAMEDATALEN * 4 ? hash_search(h, key, HASH_FIND, NULL) : NULL;

		/* the record must be the one that took the row where it comes from */
		ops[i] = e && !e->to_null && e->to == DatumGetInt32(m->froms[i]) ? e->op : 0;
	}
	return ops;
}

/* The child keys (as text) whose latest record belongs to one of the operations, with it. */
static void
children_of_operations(Oid child, Datum ops, Datum *keys, Datum *keyops)
{
	Datum		args[2];
	int			rc;

	args[0] = ObjectIdGetDatum(child);
	args[1] = ops;
	rc = SPI_execute_with_args("WITH c AS MATERIALIZED (SELECT k.key, r.operation, r.id FROM lamin.move_record r "
							   "CROSS JOIN LATERAL pg_catalog.unnest(r.keys) AS k(key) WHERE r.relation OPERATOR(pg_catalog.=) $1 "
							   "AND r.operation OPERATOR(pg_catalog.=) ANY ($2) AND r.to_branch OPERATOR(pg_catalog.<=) 0), "
							   "last AS (SELECT DISTINCT ON (k.key) k.key, r.id FROM lamin.move_record r "
							   "CROSS JOIN LATERAL pg_catalog.unnest(r.keys) AS k(key) WHERE r.relation OPERATOR(pg_catalog.=) $1 "
							   "AND r.keys OPERATOR(pg_catalog.&&) (SELECT pg_catalog.array_agg(c.key) FROM c) "
							   "AND k.key IN (SELECT c.key FROM c) ORDER BY k.key, r.id DESC) "
							   "SELECT pg_catalog.array_agg(c.key), pg_catalog.array_agg(c.operation) "
							   "FROM c JOIN last ON last.key OPERATOR(pg_catalog.=) c.key AND last.id OPERATOR(pg_catalog.=) c.id",
							   2, (Oid[]) {REGCLASSOID, INT8ARRAYOID}, args, NULL, true, 0);
	lamin_spi_check(rc, "finding the rows of an operation");
	{
		bool		isnull;

		*keys = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (isnull)
		{
			*keys = (Datum) 0;
			return;
		}
		*keys = PointerGetDatum(DatumGetArrayTypePCopy(*keys));
		*keyops = PointerGetDatum(DatumGetArrayTypePCopy(SPI_getbinval(SPI_tuptable->vals[0],
																		 SPI_tuptable->tupdesc, 2, &isnull)));
	}
}

/* One foreign key of an enabled child table that references the parent */
typedef struct ChildKey
{
	Oid			child;
	int			ncols;
	AttrNumber	conkey[INDEX_MAX_KEYS];	/* child columns */
	AttrNumber	confkey[INDEX_MAX_KEYS];	/* parent columns */
} ChildKey;

static List *
child_keys(LaminTable *t)
{
	Datum		args[2];
	int			rc;
	uint64		r;
	List	   *out = NIL;

	/*
	 * Only into tables the parent's owner has the rights of: enabling a table with cascade
	 * must not let its owner move the rows of someone else's table.
	 */
	args[0] = ObjectIdGetDatum(t->query_relid);
	args[1] = ObjectIdGetDatum(t->owner);
	rc = SPI_execute_with_args("SELECT c.conrelid, c.conkey, c.confkey FROM pg_catalog.pg_constraint c "
							   "JOIN lamin.enabled_table e ON e.relation OPERATOR(pg_catalog.=) c.conrelid "
							   "JOIN pg_catalog.pg_class r ON r.oid OPERATOR(pg_catalog.=) c.conrelid "
							   "WHERE c.confrelid OPERATOR(pg_catalog.=) $1 AND c.contype OPERATOR(pg_catalog.=) 'f' "
							   "AND pg_catalog.pg_has_role($2, r.relowner, 'USAGE') "
							   "ORDER BY c.conrelid, c.conname",
							   2, (Oid[]) {OIDOID, OIDOID}, args, NULL, true, 0);
	lamin_spi_check(rc, "finding the tables that reference it");
	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	row = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		ChildKey   *k = palloc0(sizeof(ChildKey));
		Datum	   *elems;
		int			n,
					i;

		k->child = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
		deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(row, desc, 2, &isnull)), INT2OID, 2, true,
						  TYPALIGN_SHORT, &elems, NULL, &n);
		k->ncols = n;
		for (i = 0; i < n; i++)
			k->conkey[i] = DatumGetInt16(elems[i]);
		deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(row, desc, 3, &isnull)), INT2OID, 2, true,
						  TYPALIGN_SHORT, &elems, NULL, &n);
		for (i = 0; i < n; i++)
			k->confkey[i] = DatumGetInt16(elems[i]);
		out = lappend(out, k);
	}
	return out;
}

/*
 * Move the rows of one child table that reference the moved rows. rows[] selects the parent
 * rows this pass takes (leaving, or coming back); for rows coming back, pairs[] are the child
 * keys and the operations that may come back with them.
 */
static void
cascade_child(LaminTable *t, Relation prel, Moved *m, bool *take, int64 *ops, ChildKey *k,
			  bool back)
{
	TupleDesc	pdesc = RelationGetDescr(prel);
	AttrNumber	patt[INDEX_MAX_KEYS];
	LaminTable *ct = lamin_table_get(k->child);
	int			nargs = 3 + k->ncols + (back ? 2 : 0);
	Datum	   *args = palloc(sizeof(Datum) * nargs);
	Oid		   *types = palloc(sizeof(Oid) * nargs);
	Datum	  **vals = palloc(sizeof(Datum *) * k->ncols);
	bool	  **vnull = palloc(sizeof(bool *) * k->ncols);
	Datum	   *froms = palloc(sizeof(Datum) * m->n);
	Datum	   *tos = palloc(sizeof(Datum) * m->n);
	Datum	   *opsd = palloc(sizeof(Datum) * m->n);
	StringInfoData sql;
	LaminSavedUser saved;
	int			i,
				c,
				n = 0,
				rc;

	for (c = 0; c < k->ncols; c++)
	{
		vals[c] = palloc(sizeof(Datum) * m->n);
		vnull[c] = palloc(sizeof(bool) * m->n);
		/* the key names the root's columns; a partition's rows may number them otherwise */
		patt[c] = RelationGetRelid(prel) == t->query_relid ? k->confkey[c] :
			get_attnum(RelationGetRelid(prel), get_attname(t->query_relid, k->confkey[c], false));
	}
	for (i = 0; i < m->n; i++)
	{
		bool		skip = false;

		if (!take[i])
			continue;
		for (c = 0; c < k->ncols; c++)
		{
			Form_pg_attribute att = TupleDescAttr(pdesc, patt[c] - 1);
			bool		isnull;
			Datum		d = heap_getattr(m->olds[i], patt[c], pdesc, &isnull);
			Oid			out;
			bool		varlena;

			if (isnull)
			{
				skip = true;
				break;
			}
			getTypeOutputInfo(att->atttypid, &out, &varlena);
			vals[c][n] = CStringGetTextDatum(OidOutputFunctionCall(out, d));
			vnull[c][n] = false;
		}
		if (skip)
			continue;
		froms[n] = m->froms[i];
		tos[n] = m->tos[i];
		opsd[n] = Int64GetDatum(ops ? ops[i] : 0);
		n++;
	}
	if (n == 0)
		return;

	args[0] = array_of(froms, NULL, n, INT4OID);
	types[0] = INT4ARRAYOID;
	args[1] = array_of(tos, NULL, n, INT4OID);
	types[1] = INT4ARRAYOID;
	args[2] = array_of(opsd, NULL, n, INT8OID);
	types[2] = INT8ARRAYOID;
	for (c = 0; c < k->ncols; c++)
	{
		args[3 + c] = array_of(vals[c], vnull[c], n, TEXTOID);
		types[3 + c] = TEXTARRAYOID;
	}
	if (back)
	{
		Datum		keys,
					keyops;
		LaminSavedUser logsaved;

		/* which child rows the parents' operations took along, read as the log's owner */
		become_log_owner(&logsaved);
		children_of_operations(ct->query_relid, args[2], &keys, &keyops);
		lamin_restore_user(&logsaved);
		if (keys == (Datum) 0)
			return;
		args[3 + k->ncols] = keys;
		types[3 + k->ncols] = TEXTARRAYOID;
		args[4 + k->ncols] = keyops;
		types[4 + k->ncols] = INT8ARRAYOID;
	}

	initStringInfo(&sql);
	appendStringInfo(&sql, "UPDATE %s c SET branch_id = x.t%s FROM ROWS FROM (pg_catalog.unnest($1), "
					 "pg_catalog.unnest($2), pg_catalog.unnest($3)", ct->qualname, lamin_stamp_sql(ct));
	for (c = 0; c < k->ncols; c++)
		appendStringInfo(&sql, ", pg_catalog.unnest($%d)", 4 + c);
	appendStringInfoString(&sql, ") AS x(f, t, op");
	for (c = 0; c < k->ncols; c++)
		appendStringInfo(&sql, ", v%d", c);
	appendStringInfoString(&sql, ") WHERE c.branch_id OPERATOR(pg_catalog.=) x.f");
	for (c = 0; c < k->ncols; c++)
	{
		Oid			type = ct->att_names[k->conkey[c] - 1] ?
			get_atttype(ct->relid, k->conkey[c]) : InvalidOid;

		appendStringInfo(&sql, " AND c.%s %s x.v%d::%s", quote_identifier(ct->att_names[k->conkey[c] - 1]),
						 lamin_qualified_operator(type, TYPECACHE_EQ_OPR), c, format_type_be_qualified(type));
	}
	if (back)
	{
		appendStringInfoString(&sql, " AND (");
		if (ct->nkeys > 1)
			appendStringInfoString(&sql, "'(' OPERATOR(pg_catalog.||) ");
		for (i = 0; i < ct->nkeys; i++)
			appendStringInfo(&sql, "%sc.%s::pg_catalog.text", i ? " OPERATOR(pg_catalog.||) ',' OPERATOR(pg_catalog.||) " : "",
							 ct->key_name[i]);
		if (ct->nkeys > 1)
			appendStringInfoString(&sql, " OPERATOR(pg_catalog.||) ')'");
		appendStringInfo(&sql, ", x.op) IN (SELECT * FROM ROWS FROM (pg_catalog.unnest($%d), pg_catalog.unnest($%d)))",
						 4 + k->ncols, 5 + k->ncols);
	}

	/* as the child table's owner, as Postgres's own foreign-key actions run */
	lamin_become_owner(ct, &saved);
	rc = SPI_execute_with_args(sql.data, nargs, types, args, NULL, false, 0);
	lamin_spi_check(rc, "moving the rows that reference the moved rows");
	lamin_restore_user(&saved);
}

static void
run_cascades(LaminTable *t, Relation prel, Moved *m, int64 *ops)
{
	bool	   *leaving = palloc0(sizeof(bool) * m->n);
	bool	   *back = palloc0(sizeof(bool) * m->n);
	bool		any_leaving = false,
				any_back = false;
	List	   *keys;
	ListCell   *lc;
	int			i;

	for (i = 0; i < m->n; i++)
	{
		int32		from = DatumGetInt32(m->froms[i]);

		if (m->to_null[i])
			continue;
		if (away(DatumGetInt32(m->tos[i])))
			any_leaving |= leaving[i] = true;
		else if (away(from) && ops && ops[i] != 0)
			any_back |= back[i] = true;
	}
	if (!any_leaving && !any_back)
		return;
	keys = child_keys(t);
	foreach(lc, keys)
	{
		ChildKey   *k = lfirst(lc);

		if (any_leaving)
			cascade_child(t, prel, m, leaving, NULL, k, false);
		if (any_back)
			cascade_child(t, prel, m, back, ops, k, true);
	}
}

PG_FUNCTION_INFO_V1(lamin_move_log_trigger);
Datum
lamin_move_log_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	LaminTable *t;
	Moved		m;
	bool		cascade;
	bool		noted;
	int64		saved_op;
	int64		op,
				first_id;
	int64	   *volatile ops = NULL;
	LaminSavedUser saved;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("lamin._move_log_trigger() was not called by the trigger manager")));
	noted = TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) && TRIGGER_FIRED_BY_UPDATE(td->tg_event) &&
		td->tg_oldtable == NULL && td->tg_newtable == NULL;
	if (!TRIGGER_FIRED_AFTER(td->tg_event) ||
		(!TRIGGER_FIRED_BY_UPDATE(td->tg_event) && !TRIGGER_FIRED_BY_DELETE(td->tg_event)) ||
		(TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) && !noted &&
		 (td->tg_oldtable == NULL || (TRIGGER_FIRED_BY_UPDATE(td->tg_event) && td->tg_newtable == NULL))))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("lamin._move_log_trigger() must be fired AFTER UPDATE or DELETE with transition tables, or AFTER UPDATE FOR EACH STATEMENT"),
				 errhint("lamin._move_log_triggers() creates it.")));

	t = lamin_table_get(RelationGetRelid(td->tg_relation));
	cascade = td->tg_trigger->tgnargs > 0 && strcmp(td->tg_trigger->tgargs[0], "cascade") == 0 &&
		TRIGGER_FIRED_BY_UPDATE(td->tg_event);
	memset(&m, 0, sizeof(m));
	if (noted)
	{
		/* cascades need the old rows: their trigger keeps the transition tables */
		if (cascade)
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("lamin._move_log_trigger('cascade') must be fired with transition tables"),
					 errhint("lamin._move_log_triggers() creates it.")));
		collect_noted(td, t, &m);
	}
	else
		collect_rows(td, t, &m, cascade);
	if (m.n == 0)
	{
		if (noted)
			forget_noted(RelationGetRelid(td->tg_relation));
		return PointerGetDatum(NULL);
	}

	/* the record is written directly (write_log); cascades read and move through SPI */
	if (cascade && SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	saved_op = lamin_operation_begin();
	PG_TRY();
	{
		if (cascade && !lamin_cascade_off)
		{
			become_log_owner(&saved);
			ops = parent_operations(t, &m);
			lamin_restore_user(&saved);
		}
		op = operation_id(&first_id);
		write_log(t, &m, op, first_id);
		if (cascade)
			run_cascades(t, td->tg_relation, &m, lamin_cascade_off ? NULL : ops);
	}
	PG_FINALLY();
	{
		lamin_operation_end(saved_op);
	}
	PG_END_TRY();
	if (cascade)
		SPI_finish();
	/* written: the notes (which the records were made from) may go */
	if (noted)
		forget_noted(RelationGetRelid(td->tg_relation));
	return PointerGetDatum(NULL);
}

/*
 * lamin._move_log_record_trashed(tbl, keys, uids): records for rows found in the trash of a table
 * when its log begins (lamin.enable, the update to 0.4.0), from_branch, role and operation
 * unknown. Only for the table's owner, who read the rows; written as the log's owner.
 */
PG_FUNCTION_INFO_V1(lamin_move_log_seed);
Datum
lamin_move_log_seed(PG_FUNCTION_ARGS)
{
	Oid			relid;
	LaminSavedUser saved;
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	int			rc;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_VOID();
	relid = PG_GETARG_OID(0);
	if (!has_privs_of_role(GetUserId(), lamin_relation_owner(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table %s", lamin_qualified_name(relid))));
	args[0] = ObjectIdGetDatum(relid);
	args[1] = PG_GETARG_DATUM(1);
	args[2] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	if (PG_ARGISNULL(2))
		nulls[2] = 'n';
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	become_log_owner(&saved);
	rc = SPI_execute_with_args("INSERT INTO lamin.move_record (relation, keys, uids, key_count, to_branch) "
							   "SELECT $1, pg_catalog.array_agg(x.k ORDER BY x.i), CASE WHEN pg_catalog.bool_or(x.u IS NOT NULL) "
							   "THEN pg_catalog.array_agg(x.u ORDER BY x.i) END, pg_catalog.count(*), -1 "
							   "FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)) WITH ORDINALITY AS x(k, u, i) "
							   "WHERE x.k IS NOT NULL GROUP BY (x.i OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog./) "
							   CppAsString2(LOG_RECORD_KEYS) " ORDER BY pg_catalog.min(x.i)",
							   3, (Oid[]) {REGCLASSOID, TEXTARRAYOID, TEXTARRAYOID}, args, nulls, false, 0);
	lamin_spi_check(rc, "recording the rows in the trash");
	lamin_restore_user(&saved);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * lamin._moves_of(tbl, keys, latest): the records of the given keys of a table, or the latest
 * record of each, for a role that may read the table's trash view or lamin.move_log, and none
 * for any other role (as lamin.trash shows it nothing of the table). Read as the log's owner
 * through the GIN index on the keys: what retention and cascade purges ask of the log for a
 * batch of rows, without reading the table's whole log.
 */
PG_FUNCTION_INFO_V1(lamin_moves_of);
Datum
lamin_moves_of(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid = PG_GETARG_OID(0);
	Datum		args[2];
	bool		latest = PG_GETARG_BOOL(2);
	LaminEnabled e;
	LaminSavedUser saved;
	Oid			logview;
	uint64		r;
	int			rc;

	InitMaterializedSRF(fcinfo, 0);
	if (!lamin_registry_lookup(relid, &e))
		PG_RETURN_VOID();
	logview = get_relname_relid("move_log", get_namespace_oid("lamin", false));
	if (pg_class_aclcheck(e.trash_view, GetUserId(), ACL_SELECT) != ACLCHECK_OK &&
		(!OidIsValid(logview) || pg_class_aclcheck(logview, GetUserId(), ACL_SELECT) != ACLCHECK_OK))
		PG_RETURN_VOID();

	args[0] = ObjectIdGetDatum(e.relid);
	args[1] = PG_GETARG_DATUM(1);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	become_log_owner(&saved);
	rc = SPI_execute_with_args(latest ? LATEST_MOVES_SQL : ALL_MOVES_SQL, 2,
							   (Oid[]) {REGCLASSOID, TEXTARRAYOID}, args, NULL, true, 0);
	lamin_restore_user(&saved);
	lamin_spi_check(rc, "reading the records of the keys");
	for (r = 0; r < SPI_processed; r++)
	{
		Datum		values[7];
		bool		nulls[7];
		int			c;

		for (c = 0; c < 7; c++)
			values[c] = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, c + 1, &nulls[c]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	PG_RETURN_VOID();
}
