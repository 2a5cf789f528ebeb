/*
 * lamin_branch.h: what the C files of lamin_branch share, by the file that owns it: per-table
 * metadata and plans (cache.c), the registry and rights (rights.c), version families
 * (heads.c), the row trigger (row_trigger.c), the move log and cascades (move_log.c), the planner
 * hook (planner.c).
 */
#ifndef LAMIN_BRANCH_H
#define LAMIN_BRANCH_H

#include "postgres.h"

#include "access/htup.h"
#include "executor/spi.h"
#include "utils/rel.h"

/* Branch ids LaminDB reserves. */
#define LAMIN_BRANCH_TRASH		(-1)
#define LAMIN_BRANCH_ARCHIVE	0
#define LAMIN_BRANCH_MAIN		1

/* Version families share this many lock slots per table (see lamin_lock_family). */
#define LAMIN_FAMILY_SLOTS		256

/* Length of a uid's stem: the part all versions of a record share. */
#define LAMIN_UID_STEM_LEN		16

/*
 * Statements prepared once per table and kept (SPI_keepplan). Parameters $1..$nkeys are always
 * the row's key; others follow.
 */
typedef enum LaminPlan
{
	LP_HEADS,					/* make the newest version of families ($1 stems, $2 branches) head */
	LP_HEADS_SUSPECT,			/* of those families, the ones whose head may be wrong */
	LP_CLEAR_HEADS,				/* is_latest = false for keys ($1 text[]) */
	LP_FAMILY_WRONG,			/* versions of one family ($1 stem, $2 branch) whose is_latest is wrong */
	LP_SET_LATEST,				/* is_latest = $k+1 for one key */
	LP_TRASH_FROM,				/* move a key from a given branch to trash (view DELETE) */
	LP_SPACE_WRITABLE,			/* may role $k+1 write the row's space? (view DELETE) */
	/* the move engine: $1 the keys as one text[], $2 as noted */
	LP_FAMILIES,				/* uids of the keys' rows */
	LP_LOCK_WAIT,				/* lock the rows, report on them ($2 the caller, for spaces) */
	LP_LOCK_NOWAIT,				/* the same, failing on a row another transaction holds */
	LP_LOCK_SKIP,				/* the same, skipping such rows */
	LP_MISSING,					/* up to five of the keys no row has */
	/* the move engine for one key: $1..$k the key, $k+1 as noted */
	LP_ONE_UID,					/* the row's uid (no lock), where lamin._lock_family is missing */
	LP_ONE_BRANCH,				/* the row's branch (no lock) */
	LP_ONE_HEAD,				/* the row's branch, uid and is_latest (no lock) */
	LP_ONE_LOCK,				/* lock the row, report on it ($k+1 the caller, for spaces) */
	LP_ONE_MOVE,				/* move the row to branch $k+1 */
	LP_ONE_MOVE_FROM,			/* move the row to branch $k+1 if it is on branch $k+2 and not
								 * locked: its uid and key column */
	LP_ONE_PURGE,				/* delete the row for good */
	LP_MOVE_KEYS,				/* move the locked rows to branch $2 */
	LP_MOVE_FAST,				/* lock and move the rows on branch $3 to branch $2, in key order
								 * ($4 the caller, for spaces): one-column keys, = ANY */
	LP_MOVE_FAST_JOIN,			/* the same, joined to the keys: any key */
	LP_PURGE_KEYS,				/* delete the rows for good */
	/* a Citus table: statements Citus runs across shards (no FOR UPDATE, no LATERAL) */
	LP_CITUS_REPORT,			/* per branch the keys' rows are on: rows, a locked record's uid */
	LP_CITUS_NKEYS,				/* how many distinct keys were given (no table read) */
	LP_CITUS_FOUND,				/* the keys' rows, as key text */
	LP_CITUS_MISSING,			/* up to five keys not among $2 (no table read) */
	LP_CITUS_TRASHED,			/* up to five of the keys' rows in the trash */
	LP_CITUS_MOVE,				/* move the keys' rows on branch $3 to branch $2 */
	LP_CITUS_PURGE,				/* delete the keys' rows on branch $2 for good */
	LP_NUM_PLANS
} LaminPlan;

/* How a move treats rows another transaction has locked */
typedef enum LaminLocking
{
	LOCKING_WAIT,
	LOCKING_NOWAIT,
	LOCKING_SKIP
} LaminLocking;

/* What lamin_branch knows of one branch-enabled table. */
typedef struct LaminTable
{
	Oid			relid;
	MemoryContext mcxt;			/* this struct and everything it points to live here */
	Oid			owner;
	char	   *qualname;		/* quoted "schema"."table" */
	char	   *label;			/* table name without _all, for messages */
	Oid			query_relid;	/* the table statements run on: the root of a partition tree */
	int			nkeys;			/* primary key columns */
	Oid			pk_index;
	AttrNumber	key_att[INDEX_MAX_KEYS];
	Oid			key_type[INDEX_MAX_KEYS];
	FmgrInfo	key_out[INDEX_MAX_KEYS];	/* output functions of the key columns */
	char	   *key_name[INDEX_MAX_KEYS];	/* quoted */
	char	   *key_eq[INDEX_MAX_KEYS];	/* OPERATOR(schema.=) */
	char	   *key_gt[INDEX_MAX_KEYS];	/* OPERATOR(schema.>) */
	AttrNumber	att_branch;
	AttrNumber	att_uid;		/* InvalidAttrNumber when absent */
	AttrNumber	att_is_latest;
	AttrNumber	att_is_locked;
	AttrNumber	att_created_at;
	AttrNumber	att_updated_at;
	bool		stamp_updated_at;	/* updated_at, neither generated nor identity: statements may set it */
	AttrNumber	att_key;
	bool		has_heads;		/* uid and is_latest: version families */
	bool		lock_in_scan;	/* single-row statements lock families (lamin._lock_family; not Citus) */
	Oid			family_index;	/* the registry's family index, when heads.c may scan it */
	AttrNumber	att_space;
	bool		spaces;			/* enabled with spaces: moves check the caller's space rights */
	AttrNumber	att_created_on;	/* created_on_id, InvalidAttrNumber when absent */
	/* branch columns without a foreign key: the row trigger checks them against lamin.branch */
	bool		check_branch;
	bool		check_created_on;
	bool		citus;			/* planned by Citus (lamin_planned_elsewhere): no multi-shard locks */
	int			natts;
	char	  **att_names;	/* column names by attnum - 1 (NULL for dropped) */
	SPIPlanPtr	plans[2 * LP_NUM_PLANS];	/* generic, then custom (see lamin_table_plan) */
} LaminTable;

/* cache.c: what is known of each branch-enabled table, its prepared statements, its keys */
extern void lamin_table_cache_init(void);
extern void lamin_table_cache_invalidate(Datum arg, Oid relid);
extern LaminTable *lamin_table_get(Oid relid);
extern SPIPlanPtr lamin_table_plan(LaminTable *t, LaminPlan which, bool many);
extern bool lamin_stampable_updated_at(Form_pg_attribute att);
extern const char *lamin_stamp_sql(LaminTable *t);
extern char *lamin_key_text(LaminTable *t, Datum *key);
extern Datum lamin_key_text_datum(LaminTable *t, Datum *key);
extern int32 lamin_slot_branch(LaminTable *t, TupleTableSlot *slot);
extern void lamin_slot_key(LaminTable *t, TupleTableSlot *slot, Datum *key);
extern void lamin_key_from_datum(LaminTable *t, Datum value, Oid type, Datum *key);
extern void lamin_spi_check(int rc, const char *what);
extern char *lamin_qualified_operator(Oid typid, int which);

/* rights.c: a branch-enabled table as the registry knows it, and who may move its rows */
typedef struct LaminEnabled
{
	Oid			relid;
	Oid			main_view;
	Oid			archive_view;
	Oid			trash_view;
	Oid			branch_table;
	bool		spaces;
	char		mode;			/* 'r'ename, 'v'iews or 'e'xtension */
	Oid			family_index;	/* (substr(uid, 1, 16), branch_id), or InvalidOid */
} LaminEnabled;
extern void lamin_registry_invalidate(Datum arg, Oid relid);
extern LaminEnabled lamin_enabled_table(Oid given);
extern bool lamin_registry_lookup(Oid given, LaminEnabled *out);
extern List *lamin_registry_tables(void);
extern bool lamin_is_registry(Oid relid);
extern void lamin_check_view_right(const LaminEnabled *e, bool on_trash, Oid role);
extern char *lamin_qualified_name(Oid relid);
extern void lamin_check_move_right(const LaminEnabled *e, int32 from, int32 to, bool purge, Oid role);
extern bool lamin_may_move(const LaminEnabled *e, int32 from, int32 to, bool purge, Oid role);
extern void lamin_check_update_right(const LaminEnabled *e, int32 branch);
extern void lamin_check_space(LaminTable *t, Datum *key, Oid caller);
extern void lamin_check_space_value(LaminTable *t, HeapTuple tup, TupleDesc desc, Oid caller);

/* Run SQL as the table's owner: the caller's rights and RLS policies do not apply (rights.c). */
typedef struct LaminSavedUser
{
	Oid			userid;
	int			sec_context;
} LaminSavedUser;
extern void lamin_become_role(Oid role, LaminSavedUser *saved);
extern void lamin_become_owner(LaminTable *t, LaminSavedUser *saved);
extern void lamin_restore_user(LaminSavedUser *saved);

/* heads.c: version families, their lock, and their heads */
extern int	lamin_internal_depth;	/* > 0 while the extension rewrites is_latest */
extern char *lamin_last_promoted;	/* uid the latest move promoted, for the move functions */
extern void lamin_heads_init(void);
extern void lamin_lock_family(LaminTable *t, const char *uid);
extern int	lamin_family_slot(const char *uid);
extern void lamin_lock_family_slots(LaminTable *t, const bool *wanted);
extern void lamin_heads_note(LaminTable *t, Relation rel, HeapTuple newtup, int32 old_branch,
							 int32 new_branch, const char *old_uid, const char *new_uid, bool recheck);

/* row_trigger.c */
extern void lamin_error_locked(LaminTable *t, const char *uid);

/*
 * Notes the row trigger makes while an UPDATE runs, for a statement trigger to take after it (the
 * version heads, the move log): a list per kind of note, in a child of the transaction's memory
 * context, in the order the rows were updated. Every note begins with a LaminNote. The notes of a
 * subtransaction that aborts go with it; the list is forgotten when the transaction ends
 * (committed, aborted or prepared).
 */
typedef struct LaminNote
{
	Oid			relid;			/* the table whose statement trigger takes it */
	SubTransactionId subid;		/* the subtransaction that made it */
} LaminNote;

typedef struct LaminNotes
{
	const char *name;			/* its memory context's identifier (a string constant) */
	Size		note_size;
	MemoryContext cxt;			/* where the notes and what they point to live, or NULL */
	char	   *notes;
	int			n;
	int			size;
} LaminNotes;

#define LAMIN_NOTES(name, type) {(name), sizeof(type), NULL, NULL, 0, 0}
#define lamin_note(list, i) ((void *) ((list)->notes + (Size) (i) * (list)->note_size))
extern void lamin_notes_register(LaminNotes *list);
extern void *lamin_notes_add(LaminNotes *list, Oid relid);
extern void lamin_notes_drop_relation(LaminNotes *list, Oid relid);
extern bool lamin_notes_read_row(LaminTable *t, LaminPlan plan, Datum *key, bool *connected,
								 const char *what);

/* move_log.c: the move log, the operation moves belong to, cascades */
#define LAMIN_OPERATION_PENDING	(-1)	/* an operation is open, its id not drawn yet */
extern bool lamin_cascade_off;
extern int64 lamin_operation_begin(void);
extern void lamin_operation_end(int64 saved);
extern int64 lamin_operation_current(void);
extern int64 lamin_operation_set(int64 op);
extern void lamin_move_log_init(void);

extern void lamin_log_relations_invalidate(Datum arg, Oid relid);
extern void lamin_move_log_note(LaminTable *t, Relation rel, HeapTuple oldtup, HeapTuple newtup,
								int32 from, int32 to, bool recheck);

/* merger.c */
extern void lamin_merger_init(void);
extern bool lamin_merger_serves(void);
extern void lamin_merger_wrote(void);
/* branches.c: the current branch, merging */
extern void lamin_branches_init(void);
extern void lamin_visible_invalidate(Datum arg, Oid relid);
extern Node *lamin_bake_current_branch(Node *qual);
extern int32 lamin_current_branch_for(Oid given);
extern bool lamin_current_branch_unset(void);
extern void lamin_current_branch_dependencies(struct PlannedStmt *stmt);
extern List *lamin_current_branch_swap(List *catalogs);

/* planner.c */
extern void lamin_planner_init(void);
extern bool lamin_planned_elsewhere(Oid relid);

/* held_keys.c: an INSERT through a main view whose key a row off the view holds */
extern void lamin_check_held_keys(Query *q);

/* utility.c: DDL aimed at the main view of a table enabled in rename mode goes to the table */
extern void lamin_utility_init(void);
extern int	lamin_defining_view;	/* CREATE VIEW statements running */

/* lamin_branch.c: the branch catalogs; a relation's owner */
extern Oid	lamin_relation_owner(Oid relid);
extern bool lamin_branch_exists(const LaminEnabled *e, int32 branch);
extern void lamin_check_branch_value(LaminTable *t, const char *column, int32 branch,
									 bool refuse_merged);


#endif							/* LAMIN_BRANCH_H */
