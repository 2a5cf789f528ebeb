/*
 * heads.c: version families and their heads. A family is the rows whose uid share the first
 * LAMIN_UID_STEM_LEN characters (the stem); on every branch but trash each family has exactly one
 * head (is_latest), its newest version (created_at desc, key desc).
 *
 * Owns:
 *   - the family lock: a transaction-scoped advisory lock on (table, stem slot), taken before
 *     the row lock by every path that moves rows (move.c, view_trigger.c, the row trigger),
 *     asked of the lock manager once per slot and transaction;
 *   - lamin.branch_heads_trigger(): AFTER INSERT / UPDATE / DELETE FOR EACH STATEMENT, INSERT
 *     and DELETE with transition tables, UPDATE from the rows the row trigger noted (below).
 *     Once a statement has run, it finds in C the (stem, branch) pairs its rows left or joined
 *     (an UPDATE that changes neither branch nor uid stem moves nothing)
 *     and makes each such family's newest version its one head with one UPDATE that flips only
 *     the flags that are wrong. Running after the statement means a statement that moves several
 *     versions of one family never has the trigger rewrite a row it is about to move. A head
 *     moved to trash keeps is_latest unless a successor took over (as LaminDB does).
 *   - the rows an UPDATE moves between families, noted while it runs: Postgres would copy both
 *     versions of every updated row into transition tables, and the row trigger holds them
 *     anyway (the move log notes its moves the same way, move_log.c).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"

#include "compat.h"
#include "lamin_branch.h"

/*
 * The family lock is an advisory lock in a key space of its own (field4 = 0x4c42, "LB"), so it
 * never meets a lock an application takes with pg_advisory_lock(); pg_locks shows it as an
 * advisory lock with objsubid 19522. It is held until the transaction ends, so families share
 * LAMIN_FAMILY_SLOTS slots per table: a bulk statement over millions of rows takes at most that
 * many locks (the shared lock table holds max_locks_per_transaction per backend), at the price of
 * two unrelated families occasionally waiting for each other.
 */
#define LAMIN_LOCK_SPACE 0x4c42

int
lamin_family_slot(const char *uid)
{
	int			len = strnlen(uid, LAMIN_UID_STEM_LEN);

	return hash_bytes((const unsigned char *) uid, len) % LAMIN_FAMILY_SLOTS;
}

/*
 * The slots of one table this transaction is known to hold, so that a statement that moves many
 * rows of a family asks the lock manager for each slot once rather than once per row. Only a
 * slot locked in the current subtransaction, or in one still open around it, can be held: the
 * set is forgotten when a subtransaction aborts (taking the locks it acquired with it) and when
 * the transaction ends.
 */
static Oid	held_relid = InvalidOid;
static uint8 held_slots[LAMIN_FAMILY_SLOTS / 8];

static void
family_lock(Oid relid, int slot)
{
	LOCKTAG		tag;

	if (relid == held_relid && (held_slots[slot / 8] & (1 << (slot % 8))))
		return;
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, relid, slot, LAMIN_LOCK_SPACE);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	if (relid != held_relid)
	{
		memset(held_slots, 0, sizeof(held_slots));
		held_relid = relid;
	}
	held_slots[slot / 8] |= 1 << (slot % 8);
}

static LaminNotes heads_notes;	/* the rows an UPDATE moves between families, below */

static void
held_slots_xact_callback(XactEvent event, void *arg)
{
	held_relid = InvalidOid;
}

static void
held_slots_subxact_callback(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid,
							void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		held_relid = InvalidOid;
}

void
lamin_heads_init(void)
{
	RegisterXactCallback(held_slots_xact_callback, NULL);
	RegisterSubXactCallback(held_slots_subxact_callback, NULL);
	lamin_notes_register(&heads_notes);
}

void
lamin_lock_family(LaminTable *t, const char *uid)
{
	family_lock(t->query_relid, lamin_family_slot(uid));
}

/*
 * lamin._lock_family(tbl, uid): lock the version family of uid in the enabled table tbl and
 * return true (true without a lock for a NULL uid). The single-row move statements call it in
 * their WHERE clause, after the key and branch conditions (cache.c: LP_ONE_MOVE_FROM,
 * LP_ONE_LOCK), so that the family is locked before the row, as every move path takes them,
 * without a query of its own for the row's uid. A role that may not update the table may not
 * lock its families.
 */
PG_FUNCTION_INFO_V1(lamin_lock_family_of);
Datum
lamin_lock_family_of(PG_FUNCTION_ARGS)
{
	Oid			relid;
	LaminTable *t;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_BOOL(true);
	relid = PG_GETARG_OID(0);
	t = lamin_table_get(relid);
	if (!t->has_heads)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table %s has no version families", t->qualname),
				 errdetail("Version families are kept for tables with columns uid and is_latest.")));
	if (GetUserId() != t->owner && pg_class_aclcheck(relid, GetUserId(), ACL_UPDATE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to lock the version families of table %s", t->qualname)));
	lamin_lock_family(t, text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_RETURN_BOOL(true);
}

/* Lock the family slots marked in wanted[LAMIN_FAMILY_SLOTS], in ascending order. */
void
lamin_lock_family_slots(LaminTable *t, const bool *wanted)
{
	int			i;

	for (i = 0; i < LAMIN_FAMILY_SLOTS; i++)
		if (wanted[i])
			family_lock(t->query_relid, i);
}

/* > 0 while the extension rewrites is_latest of other rows itself */
int			lamin_internal_depth = 0;

/* uid of the version promoted by the latest move, for the move functions to report (kept in
 * TopMemoryContext: the move functions clear it before each move) */
char	   *lamin_last_promoted = NULL;

/*
 * One row of the statement as the heads see it: its family (uid stem and branch) before and
 * after (an inserted row has no old side, a deleted one no new side), whether the new version
 * is head, and where its key is: in a slot (transition tables, a row trigger) or as values
 * (notes).
 */
typedef struct RowMove
{
	bool		has_old;
	bool		has_new;
	bool		old_uid;		/* the old row has a uid: old_stem */
	bool		new_uid;
	int32		old_branch;
	int32		new_branch;
	bool		new_latest;
	char		old_stem[LAMIN_UID_STEM_LEN + 1];
	char		new_stem[LAMIN_UID_STEM_LEN + 1];
	TupleTableSlot *slot;		/* the row (new, or old when deleted) */
	Datum	   *key;			/* or its key values */
} RowMove;

#define OLD_STEM(m) ((m)->old_uid ? (m)->old_stem : NULL)
#define NEW_STEM(m) ((m)->new_uid ? (m)->new_stem : NULL)

static void
set_stem(char *stem, bool *has, const char *uid)
{
	*has = uid != NULL;
	strlcpy(stem, uid ? uid : "", LAMIN_UID_STEM_LEN + 1);
}

/*
 * The rows an UPDATE moves between families, noted by the row trigger while the statement runs
 * (where the table's lamin_branch_heads_update trigger has no transition tables), in the order
 * they were updated: the statement trigger takes its table's notes once the statement has run.
 * A list of notes of row_trigger.c: a subtransaction that aborts takes its notes with it. A
 * statement nested in another (a trigger's) that moves rows of the same table takes what the
 * outer one noted so far as well, as the move log's trigger does: those families get their heads
 * then, and again after the outer statement if it moves more of their versions.
 */
typedef struct HeadsNote
{
	LaminNote	note;			/* the table, the subtransaction */
	RowMove		move;			/* both sides; its key the new row's, in the list's context */
	bool		recheck;		/* the new row is to be read again by key */
} HeadsNote;

static LaminNotes heads_notes = LAMIN_NOTES("lamin_branch heads notes", HeadsNote);

/* Note a row the running UPDATE moves to another branch or uid stem (the row trigger). */
void
lamin_heads_note(LaminTable *t, Relation rel, HeapTuple newtup, int32 old_branch, int32 new_branch,
				 const char *old_uid, const char *new_uid, bool recheck)
{
	TupleDesc	desc = RelationGetDescr(rel);
	HeadsNote  *n = lamin_notes_add(&heads_notes, RelationGetRelid(rel));
	RowMove    *m = &n->move;
	MemoryContext old = MemoryContextSwitchTo(heads_notes.cxt);
	bool		isnull;
	Datum		d;
	int			i;

	m->has_old = m->has_new = true;
	set_stem(m->old_stem, &m->old_uid, old_uid);
	set_stem(m->new_stem, &m->new_uid, new_uid);
	m->old_branch = old_branch;
	m->new_branch = new_branch;
	d = heap_getattr(newtup, t->att_is_latest, desc, &isnull);
	m->new_latest = !isnull && DatumGetBool(d);
	m->key = palloc(sizeof(Datum) * t->nkeys);
	for (i = 0; i < t->nkeys; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, t->key_att[i] - 1);

		d = heap_getattr(newtup, t->key_att[i], desc, &isnull);
		m->key[i] = isnull ? (Datum) 0 : datumCopy(d, att->attbyval, att->attlen);
	}
	n->recheck = recheck;
	MemoryContextSwitchTo(old);
}

/* A family on a branch, as the statement's rows left or joined it. */
typedef struct FamilyKey
{
	char		stem[LAMIN_UID_STEM_LEN + 1];
	int32		branch;
} FamilyKey;

typedef struct FamilyEntry
{
	FamilyKey	key;
	bool		promoted;		/* a version other than the moved ones became its head */
} FamilyEntry;

static char *
row_uid(LaminTable *t, TupleTableSlot *slot)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, t->att_uid, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static bool
row_is_latest(LaminTable *t, TupleTableSlot *slot)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, t->att_is_latest, &isnull);

	return !isnull && DatumGetBool(d);
}

/*
 * Run a statement that rewrites is_latest, which the row trigger then lets through. Under
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

static int
cmp_cstring(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static int
cmp_family(const void *a, const void *b)
{
	const FamilyKey *x = *(FamilyKey *const *) a;
	const FamilyKey *y = *(FamilyKey *const *) b;
	int			c = strcmp(x->stem, y->stem);

	if (c != 0)
		return c;
	return x->branch < y->branch ? -1 : x->branch > y->branch;
}

static bool
family_key(FamilyKey *k, const char *uid, int32 branch)
{
	if (uid == NULL)
		return false;
	memset(k, 0, sizeof(*k));
	strlcpy(k->stem, uid, sizeof(k->stem));
	k->branch = branch;
	return true;
}

static void
move_from_slots(LaminTable *t, RowMove *m, TupleTableSlot *oldslot, TupleTableSlot *newslot)
{
	memset(m, 0, sizeof(*m));
	m->has_old = oldslot != NULL;
	m->has_new = newslot != NULL;
	if (oldslot)
	{
		set_stem(m->old_stem, &m->old_uid, row_uid(t, oldslot));
		m->old_branch = lamin_slot_branch(t, oldslot);
	}
	if (newslot)
	{
		set_stem(m->new_stem, &m->new_uid, row_uid(t, newslot));
		m->new_branch = lamin_slot_branch(t, newslot);
		m->new_latest = row_is_latest(t, newslot);
	}
	m->slot = newslot ? newslot : oldslot;
}

static void
move_key(LaminTable *t, RowMove *m, Datum *key)
{
	if (m->slot)
		lamin_slot_key(t, m->slot, key);
	else
		memcpy(key, m->key, sizeof(Datum) * t->nkeys);
}

/* Did the row move between families: inserted, deleted, or a new branch or uid stem? */
static bool
row_moved(RowMove *m)
{
	if (!m->has_old || !m->has_new || m->old_branch != m->new_branch)
		return true;
	if (m->old_uid != m->new_uid)
		return true;
	return m->old_uid && strcmp(m->old_stem, m->new_stem) != 0;
}

/*
 * The statement's UPDATE moves the row trigger noted for this table, taken off the list. A row
 * noted where another row trigger fired after lamin_branch_row is read again by key, as the
 * table's owner: the branch, uid and flag it has now are its new side, and it is left out if it
 * no longer moved (or is not found: only its old family counts).
 */
static RowMove *
take_notes(LaminTable *t, Relation rel, int *count)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			relid = RelationGetRelid(rel);
	RowMove    *moves = palloc(sizeof(RowMove) * Max(heads_notes.n, 1));
	bool		connected = false;
	int			n = 0;
	int			i,
				k;

	for (i = 0; i < heads_notes.n; i++)
	{
		HeadsNote  *note = lamin_note(&heads_notes, i);
		RowMove    *m = &moves[n];

		if (note->note.relid != relid)
			continue;
		/* the key is copied out: the list's memory goes once its notes are taken */
		*m = note->move;
		m->key = palloc(sizeof(Datum) * t->nkeys);
		for (k = 0; k < t->nkeys; k++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, t->key_att[k] - 1);

			m->key[k] = datumCopy(note->move.key[k], att->attbyval, att->attlen);
		}
		if (note->recheck)
		{
			if (!lamin_notes_read_row(t, LP_ONE_HEAD, m->key, &connected, "reading a moved row's version family"))
				m->has_new = false;
			else
			{
				HeapTuple	row = SPI_tuptable->vals[0];
				TupleDesc	rdesc = SPI_tuptable->tupdesc;
				bool		isnull;
				Datum		d = SPI_getbinval(row, rdesc, 1, &isnull);
				char	   *uid;

				m->new_branch = isnull ? LAMIN_BRANCH_MAIN : DatumGetInt32(d);
				d = SPI_getbinval(row, rdesc, 2, &isnull);
				uid = isnull ? NULL : TextDatumGetCString(d);
				set_stem(m->new_stem, &m->new_uid, uid);
				d = SPI_getbinval(row, rdesc, 3, &isnull);
				m->new_latest = !isnull && DatumGetBool(d);
			}
			if (!row_moved(m))
				continue;
		}
		n++;
	}
	if (connected)
		SPI_finish();
	lamin_notes_drop_relation(&heads_notes, relid);
	*count = n;
	return moves;
}

/*
 * The rows of the statement that moved between families: the noted ones (moves, n), or those of
 * the trigger's rows: a trigger made by an older lamin.enable() fires FOR EACH ROW and gives one
 * pair, a statement trigger with transition tables has them read side by side (an UPDATE stores
 * both versions of a row together).
 */
typedef void (*RowCallback) (LaminTable *t, RowMove *m, void *arg);

static void
scan_moved_rows(TriggerData *td, LaminTable *t, RowMove *noted, int nnoted, RowCallback cb, void *arg)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	TupleTableSlot *oldslot = NULL;
	TupleTableSlot *newslot = NULL;
	RowMove		m;
	int			i;

	if (noted)
	{
		for (i = 0; i < nnoted; i++)
			cb(t, &noted[i], arg);
		return;
	}
	if (TRIGGER_FIRED_FOR_ROW(td->tg_event))
	{
		if (!TRIGGER_FIRED_BY_INSERT(td->tg_event))
		{
			oldslot = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
			ExecStoreHeapTuple(td->tg_trigtuple, oldslot, false);
		}
		if (!TRIGGER_FIRED_BY_DELETE(td->tg_event))
		{
			newslot = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
			ExecStoreHeapTuple(TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple,
							   newslot, false);
		}
		move_from_slots(t, &m, oldslot, newslot);
		if (row_moved(&m))
			cb(t, &m, arg);
	}
	else
	{
		if (td->tg_oldtable)
		{
			oldslot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
			tuplestore_rescan(td->tg_oldtable);
		}
		if (td->tg_newtable)
		{
			newslot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
			tuplestore_rescan(td->tg_newtable);
		}
		for (;;)
		{
			bool		have_old = oldslot && tuplestore_gettupleslot(td->tg_oldtable, true, false, oldslot);
			bool		have_new = newslot && tuplestore_gettupleslot(td->tg_newtable, true, false, newslot);

			if (!have_old && !have_new)
				break;
			move_from_slots(t, &m, have_old ? oldslot : NULL, have_new ? newslot : NULL);
			if (row_moved(&m))
				cb(t, &m, arg);
		}
	}
	if (oldslot)
		ExecDropSingleTupleTableSlot(oldslot);
	if (newslot)
		ExecDropSingleTupleTableSlot(newslot);
}

typedef struct HeadsState
{
	HTAB	   *families;		/* FamilyKey -> FamilyEntry: families rows left or joined */
	bool		trashed_heads;	/* a head went to trash */
	HTAB	   *promoted;		/* key text -> PromotedEntry: versions that became head */
	List	   *to_clear;		/* Datum[nkeys] (text) of trashed heads that hand over */
	bool		connected;		/* recompute_heads connected to SPI as the table's owner */
	LaminSavedUser saved;		/* the user before that, restored by the trigger */
} HeadsState;

typedef struct PromotedEntry
{
	char		keytext[NAMEDATALEN * 4];
	char	   *uid;
	int32		branch;
	bool		moved;			/* one of the statement's own rows: not announced */
} PromotedEntry;

static void
family_add(HTAB *families, const char *uid, int32 branch)
{
	FamilyKey	k;
	FamilyEntry *f;
	bool		found;

	if (branch == LAMIN_BRANCH_TRASH || !family_key(&k, uid, branch))
		return;
	f = hash_search(families, &k, HASH_ENTER, &found);
	if (!found)
		f->promoted = false;
}

/* pass 1: the families rows left and joined */
static void
note_families(LaminTable *t, RowMove *m, void *arg)
{
	HeadsState *st = (HeadsState *) arg;

	if (m->has_old)
		family_add(st->families, OLD_STEM(m), m->old_branch);
	if (m->has_new)
	{
		family_add(st->families, NEW_STEM(m), m->new_branch);
		if (m->has_old && m->new_branch == LAMIN_BRANCH_TRASH && m->old_branch != LAMIN_BRANCH_TRASH &&
			m->new_latest)
			st->trashed_heads = true;
	}
}

/* pass 2, when versions were promoted: which were the statement's own rows, and who hands over */
static void
note_promotions(LaminTable *t, RowMove *m, void *arg)
{
	HeadsState *st = (HeadsState *) arg;
	PromotedEntry *p;
	Datum		key[INDEX_MAX_KEYS];
	char	   *keytext;
	char		hkey[NAMEDATALEN * 4];

	move_key(t, m, key);
	keytext = lamin_key_text(t, key);
	strlcpy(hkey, keytext, sizeof(hkey));
	p = hash_search(st->promoted, hkey, HASH_FIND, NULL);
	if (p)
		p->moved = true;

	if (st->trashed_heads && m->has_old && m->has_new && m->new_branch == LAMIN_BRANCH_TRASH &&
		m->old_branch != LAMIN_BRANCH_TRASH && m->new_latest)
	{
		FamilyKey	k;
		FamilyEntry *f;

		if (family_key(&k, OLD_STEM(m), m->old_branch) &&
			(f = hash_search(st->families, &k, HASH_FIND, NULL)) != NULL && f->promoted)
		{
			Datum	   *clear = palloc(sizeof(Datum) * t->nkeys);
			int			i;

			for (i = 0; i < t->nkeys; i++)
				clear[i] = CStringGetTextDatum(OutputFunctionCall(&t->key_out[i], key[i]));
			st->to_clear = lappend(st->to_clear, clear);
		}
	}
}

/* A version that became head: remembered, its family marked promoted. Returns 1, or 0. */
static int
note_promoted(HeadsState *st, const char *keytext, const char *uid, int32 branch)
{
	char		hkey[NAMEDATALEN * 4];
	PromotedEntry *p;
	FamilyKey	k;
	FamilyEntry *f;

	if (uid == NULL || keytext == NULL)
		return 0;
	strlcpy(hkey, keytext, sizeof(hkey));
	p = hash_search(st->promoted, hkey, HASH_ENTER, NULL);
	p->uid = pstrdup(uid);
	p->branch = branch;
	p->moved = false;
	if (family_key(&k, uid, branch) && (f = hash_search(st->families, &k, HASH_FIND, NULL)) != NULL)
		f->promoted = true;
	return 1;
}

/*
 * Of n families (stems[i], branches[i]), keep in place those whose head may be wrong: all but
 * those with no version on the branch, or one version that is head. Reads at most two entries
 * of each family in the family index, directly (LP_HEADS_SUSPECT is the same in SQL, for tables
 * whose index this cannot use), as the family is now: the statement's own rows included, and
 * under REPEATABLE READ versions committed since the transaction began, as LP_HEADS reads it.
 * Returns how many families are kept.
 */
static long
suspect_families(LaminTable *t, Datum *stems, Datum *branches, long n)
{
	Relation	heap = table_open(t->relid, AccessShareLock);
	Relation	index = index_open(t->family_index, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	ScanKeyData keys[2];
	IndexScanDesc scan;
	Snapshot	snapshot;
	long		i,
				kept = 0;

	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = lamin_index_beginscan(heap, index, snapshot, 2);
	for (i = 0; i < n; i++)
	{
		int			versions = 0;
		bool		head = true;

		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_TEXTEQ, stems[i]);
		keys[0].sk_collation = index->rd_indcollation[0];
		ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT4EQ, branches[i]);
		index_rescan(scan, keys, 2, NULL, 0);
		while (versions < 2 && index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			bool		isnull;
			Datum		d = slot_getattr(slot, t->att_is_latest, &isnull);

			versions++;
			head = head && !isnull && DatumGetBool(d);
		}
		if (versions > 1 || (versions == 1 && !head))
		{
			stems[kept] = stems[i];
			branches[kept] = branches[i];
			kept++;
		}
	}
	index_endscan(scan);
	UnregisterSnapshot(snapshot);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);
	return kept;
}

/*
 * Make the newest version of every family the statement's rows left or joined its one head,
 * with one UPDATE that flips only the flags that are wrong. Returns how many versions became
 * head; they are in st->promoted.
 */
static int
recompute_heads(LaminTable *t, HeadsState *st)
{
	long		n = hash_get_num_entries(st->families);
	FamilyKey **keys;
	Datum	   *stems;
	Datum	   *branches;
	Datum		args[2];
	HASH_SEQ_STATUS status;
	FamilyEntry *f;
	long		i = 0;
	uint64		r;
	int			rc;
	int			npromoted = 0;
	HASHCTL		ctl;

	if (n == 0)
		return 0;

	/*
	 * In the family index's order (stems byte-wise, as in the C collation, then branch): each
	 * family's probe then lands on or next to the index pages the one before it read, where the
	 * hash table's order sends every probe to a page of its own.
	 */
	keys = palloc(sizeof(FamilyKey *) * n);
	hash_seq_init(&status, st->families);
	while ((f = hash_seq_search(&status)) != NULL)
		keys[i++] = &f->key;
	qsort(keys, n, sizeof(FamilyKey *), cmp_family);
	stems = palloc(sizeof(Datum) * n);
	branches = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
	{
		stems[i] = CStringGetTextDatum(keys[i]->stem);
		branches[i] = Int32GetDatum(keys[i]->branch);
	}
	/*
	 * only the families whose head may be wrong are numbered (usually none): read from the
	 * family index directly, or, for three families or more, with one plan made once
	 */
	if (OidIsValid(t->family_index))
	{
		n = suspect_families(t, stems, branches, n);
		if (n == 0)
			return 0;
	}

	/* what follows reads and writes through SPI, as the table's owner */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lamin_become_owner(t, &st->saved);
	st->connected = true;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = NAMEDATALEN * 4;
	ctl.entrysize = sizeof(PromotedEntry);
	ctl.hcxt = CurrentMemoryContext;
	st->promoted = hash_create("lamin_branch promoted", 16, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	if (!OidIsValid(t->family_index) && n > 2)
	{
		args[0] = PointerGetDatum(construct_array(stems, n, TEXTOID, -1, false, TYPALIGN_INT));
		args[1] = PointerGetDatum(construct_array(branches, n, INT4OID, 4, true, TYPALIGN_INT));
		/*
		 * the family as it is now, the statement's own rows included (not read-only: a new
		 * command and snapshot), also under REPEATABLE READ, as LP_HEADS reads it
		 */
		if (IsolationUsesXactSnapshot())
			rc = SPI_execute_snapshot(lamin_table_plan(t, LP_HEADS_SUSPECT, false), args, NULL,
									  GetLatestSnapshot(), InvalidSnapshot, false, false, 0);
		else
			rc = SPI_execute_plan(lamin_table_plan(t, LP_HEADS_SUSPECT, false), args, NULL, false, 0);
		lamin_spi_check(rc, "reading the version heads");
		n = (long) SPI_processed;
		for (i = 0; i < n; i++)
		{
			bool		isnull;

			stems[i] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
			branches[i] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);
		}
		if (n == 0)
			return 0;
	}

	if (n <= 2)
	{
		/* one or two families (a single move): read each, write only what is wrong */
		for (i = 0; i < n; i++)
		{
			Datum		fargs[2];
			uint64		nwrong;
			HeapTuple  *rows;
			TupleDesc	desc;

			fargs[0] = stems[i];
			fargs[1] = branches[i];
			/* as the family is now, also under REPEATABLE READ: a version committed since counts */
			if (IsolationUsesXactSnapshot())
				rc = SPI_execute_snapshot(lamin_table_plan(t, LP_FAMILY_WRONG, false), fargs, NULL,
										  GetLatestSnapshot(), InvalidSnapshot, false, false, 0);
			else
				rc = SPI_execute_plan(lamin_table_plan(t, LP_FAMILY_WRONG, false), fargs, NULL, false, 0);
			lamin_spi_check(rc, "reading the version heads");
			nwrong = SPI_processed;
			if (nwrong == 0)
				continue;
			/* copy the rows out: the writes below replace SPI_tuptable */
			rows = palloc(sizeof(HeapTuple) * nwrong);
			for (r = 0; r < nwrong; r++)
				rows[r] = SPI_copytuple(SPI_tuptable->vals[r]);
			desc = CreateTupleDescCopy(SPI_tuptable->tupdesc);
			for (r = 0; r < nwrong; r++)
			{
				Datum		wargs[INDEX_MAX_KEYS + 1];
				bool		isnull;
				bool		head = DatumGetBool(SPI_getbinval(rows[r], desc, t->nkeys + 3, &isnull));
				int			k;

				for (k = 0; k < t->nkeys; k++)
					wargs[k] = SPI_getbinval(rows[r], desc, k + 1, &isnull);
				wargs[t->nkeys] = BoolGetDatum(head);
				rc = exec_internal(lamin_table_plan(t, LP_SET_LATEST, false), wargs);
				lamin_spi_check(rc, "keeping the version heads");
				if (head)
					npromoted += note_promoted(st, SPI_getvalue(rows[r], desc, t->nkeys + 1),
											   SPI_getvalue(rows[r], desc, t->nkeys + 2),
											   DatumGetInt32(branches[i]));
			}
		}
		return npromoted;
	}

	args[0] = PointerGetDatum(construct_array(stems, n, TEXTOID, -1, false, TYPALIGN_INT));
	args[1] = PointerGetDatum(construct_array(branches, n, INT4OID, 4, true, TYPALIGN_INT));
	rc = exec_internal(lamin_table_plan(t, LP_HEADS, true), args);
	lamin_spi_check(rc, "keeping the version heads");
	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	row = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		if (DatumGetBool(SPI_getbinval(row, desc, 3, &isnull)))
			npromoted += note_promoted(st, SPI_getvalue(row, desc, 1), SPI_getvalue(row, desc, 2),
									   DatumGetInt32(SPI_getbinval(row, desc, 4, &isnull)));
	}
	return npromoted;
}

static void
check_heads_call(FunctionCallInfo fcinfo)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("lamin.branch_heads_trigger() was not called by the trigger manager")));
	/* an UPDATE's statement trigger takes the row trigger's notes, or both transition tables */
	if (!TRIGGER_FIRED_AFTER(td->tg_event) ||
		(TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) &&
		 ((TRIGGER_FIRED_BY_INSERT(td->tg_event) && td->tg_newtable == NULL) ||
		  (TRIGGER_FIRED_BY_DELETE(td->tg_event) && td->tg_oldtable == NULL) ||
		  (TRIGGER_FIRED_BY_UPDATE(td->tg_event) && (td->tg_oldtable == NULL) != (td->tg_newtable == NULL)))))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("lamin.branch_heads_trigger() must be fired AFTER ... FOR EACH STATEMENT with transition tables"),
				 errhint("lamin.enable() creates it: REFERENCING NEW TABLE AS lamin_new for INSERT, OLD TABLE AS lamin_old for DELETE, none for UPDATE.")));
	if (!TRIGGER_FIRED_BY_INSERT(td->tg_event) && !TRIGGER_FIRED_BY_UPDATE(td->tg_event) &&
		!TRIGGER_FIRED_BY_DELETE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("lamin.branch_heads_trigger() must be fired for INSERT, UPDATE or DELETE")));
}

PG_FUNCTION_INFO_V1(lamin_branch_heads_trigger);
Datum
lamin_branch_heads_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	LaminTable *t;
	HASHCTL		ctl;
	HeadsState	st;
	RowMove    *noted = NULL;
	int			nnoted = 0;

	check_heads_call(fcinfo);
	t = lamin_table_get(RelationGetRelid(td->tg_relation));
	if (TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) && TRIGGER_FIRED_BY_UPDATE(td->tg_event) &&
		td->tg_oldtable == NULL)
		noted = take_notes(t, td->tg_relation, &nnoted);
	if (!t->has_heads)
		return PointerGetDatum(NULL);

	memset(&st, 0, sizeof(st));
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(FamilyKey);
	ctl.entrysize = sizeof(FamilyEntry);
	ctl.hcxt = CurrentMemoryContext;
	st.families = hash_create("lamin_branch families", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	scan_moved_rows(td, t, noted, nnoted, note_families, &st);
	if (hash_get_num_entries(st.families) == 0)
		return PointerGetDatum(NULL);

	/* SPI and the owner's rights only where a family's head may be wrong (recompute_heads) */
	if (recompute_heads(t, &st) > 0)
	{
		HASH_SEQ_STATUS status;
		PromotedEntry *p;
		char	  **announce = palloc(sizeof(char *) * hash_get_num_entries(st.promoted));
		int			nannounce = 0;
		int			i;

		scan_moved_rows(td, t, noted, nnoted, note_promotions, &st);

		/* versions other than the statement's own rows that became head: LaminDB's NOTICE */
		hash_seq_init(&status, st.promoted);
		while ((p = hash_seq_search(&status)) != NULL)
			if (!p->moved)
				announce[nannounce++] = p->uid;
		qsort(announce, nannounce, sizeof(char *), cmp_cstring);
		for (i = 0; i < nannounce; i++)
		{
			ereport(NOTICE,
					(errmsg("new latest %s version is: %s", t->label, announce[i])));
			if (lamin_last_promoted)
				pfree(lamin_last_promoted);
			lamin_last_promoted = MemoryContextStrdup(TopMemoryContext, announce[i]);
		}

		/* a head that went to trash hands over where a successor took over; the last keeps it */
		if (st.to_clear != NIL)
		{
			Datum	   *keys = palloc(sizeof(Datum) * t->nkeys * list_length(st.to_clear));
			int			n = 0;
			ListCell   *lc;
			Datum		args[1];
			int			rc;

			foreach(lc, st.to_clear)
				memcpy(keys + (n++) * t->nkeys, lfirst(lc), sizeof(Datum) * t->nkeys);
			args[0] = PointerGetDatum(construct_array(keys, n * t->nkeys, TEXTOID, -1, false, TYPALIGN_INT));
			rc = exec_internal(lamin_table_plan(t, LP_CLEAR_HEADS, n > 2), args);
			lamin_spi_check(rc, "clearing the head of a trashed version");
		}
	}
	if (st.connected)
	{
		lamin_restore_user(&st.saved);
		SPI_finish();
	}
	return PointerGetDatum(NULL);
}
