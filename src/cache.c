/*
 * cache.c: what lamin_branch knows of each branch-enabled table (column numbers, key, owner,
 * quoted names, which branch columns the row trigger checks) and the statements the engine
 * runs on it, prepared once per table (cache entries and plans survive invalidations that
 * arrive while a statement uses them: see below). Also the keys: as users give them, as text.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/hash.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "commands/trigger.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "rewrite/rowsecurity.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_operator.h"
#include "utils/syscache.h"
#include "access/htup_details.h"
#include "catalog/partition.h"
#include "utils/array.h"
#include "utils/typcache.h"
#include "funcapi.h"

#include "lamin_branch.h"

/*
 * The cache: table OID -> the current LaminTable. A LaminTable is never freed while a statement
 * may still use it: a relcache invalidation (DDL, GRANT, ANALYZE, a sinval queue reset) only
 * marks the entry stale; the next lamin_table_get() builds a new LaminTable and retires the old
 * one, which is freed with its plans when the transaction ends. A caller keeps a consistent
 * LaminTable for as long as it runs, as ri_triggers.c keeps its constraint entries.
 */
typedef struct LaminTableEntry
{
	Oid			relid;			/* hash key */
	bool		valid;			/* false once the relcache says the table changed */
	LaminTable *table;			/* NULL until first built */
} LaminTableEntry;

static HTAB *table_cache = NULL;
static List *retired = NIL;		/* LaminTables and plans to free at transaction end */

/* Relcache invalidation: mark stale, free nothing. */
void
lamin_table_cache_invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	LaminTableEntry *e;

	if (table_cache == NULL)
		return;
	/* a change of the registry may change what is known of any table (spaces) */
	if (OidIsValid(relid) && !lamin_is_registry(relid))
	{
		e = hash_search(table_cache, &relid, HASH_FIND, NULL);
		if (e)
			e->valid = false;
		return;
	}
	hash_seq_init(&status, table_cache);
	while ((e = hash_seq_search(&status)) != NULL)
		e->valid = false;
}

/* A table version or a plan a running statement may still use: freed at transaction end. */
typedef struct Retired
{
	LaminTable *table;
	SPIPlanPtr	plan;
} Retired;

static void
retire(LaminTable *t, SPIPlanPtr plan)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	Retired    *r = palloc(sizeof(Retired));

	r->table = t;
	r->plan = plan;
	retired = lappend(retired, r);
	MemoryContextSwitchTo(old);
}

static void
free_retired(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (retired == NIL ||
		(event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		 event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT &&
		 event != XACT_EVENT_PREPARE))
		return;
	foreach(lc, retired)
	{
		Retired    *r = (Retired *) lfirst(lc);

		if (r->plan)
			SPI_freeplan(r->plan);
		if (r->table)
		{
			int			i;

			for (i = 0; i < 2 * LP_NUM_PLANS; i++)
				if (r->table->plans[i])
					SPI_freeplan(r->table->plans[i]);
			MemoryContextDelete(r->table->mcxt);
		}
	}
	list_free_deep(retired);
	retired = NIL;
}

void
lamin_table_cache_init(void)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(LaminTableEntry);
	table_cache = hash_create("lamin_branch tables", 32, &ctl, HASH_ELEM | HASH_BLOBS);
	RegisterXactCallback(free_retired, NULL);
}

/*
 * Does the foreign key conoid of rel check the rows written to rel? Its insert check trigger
 * (RI_FKey_check_ins) says so unless it is disabled; a key whose trigger is not found (a
 * partitioned table keeps its checks on the partitions) is taken to check.
 */
static bool
foreign_key_checks(Relation rel, Oid conoid)
{
	TriggerDesc *td = rel->trigdesc;

	if (td == NULL)
		return true;
	for (int i = 0; i < td->numtriggers; i++)
	{
		Trigger    *tg = &td->triggers[i];

		if (tg->tgconstraint == conoid && tg->tgfoid == F_RI_FKEY_CHECK_INS)
			return tg->tgenabled != TRIGGER_DISABLED;
	}
	return true;
}

static AttrNumber
column_of(Relation rel, const char *name)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->attnum;
	}
	return InvalidAttrNumber;
}

/* Check that an optional column, if present, has the type the extension relies on. */
static AttrNumber
typed_column(Relation rel, const char *name, Oid want, const char *want_name, bool required)
{
	AttrNumber	attno = column_of(rel, name);

	if (attno == InvalidAttrNumber)
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("table \"%s\" has no column \"%s\"", RelationGetRelationName(rel), name),
					 errhint("A branch-enabled table needs a \"%s\" column of type %s.", name, want_name)));
		return InvalidAttrNumber;
	}
	if (getBaseType(TupleDescAttr(RelationGetDescr(rel), attno - 1)->atttypid) != want)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of table \"%s\" must be of type %s",
						name, RelationGetRelationName(rel), want_name)));
	return attno;
}

/* OPERATOR(schema.op) for a type's default btree operator: never resolved through search_path */
char *
lamin_qualified_operator(Oid typid, int which)
{
	TypeCacheEntry *tc = lookup_type_cache(typid, which);
	Oid			opr = (which == TYPECACHE_EQ_OPR) ? tc->eq_opr : tc->gt_opr;
	HeapTuple	tup;
	Form_pg_operator form;
	char	   *result;

	if (!OidIsValid(opr))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("type %s has no default btree operator class", format_type_be(typid)),
				 errhint("lamin_branch compares primary key values; give the key a sortable type.")));
	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opr));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator %u", opr);
	form = (Form_pg_operator) GETSTRUCT(tup);
	result = psprintf("OPERATOR(%s.%s)",
					  quote_identifier(get_namespace_name(form->oprnamespace)),
					  NameStr(form->oprname));
	ReleaseSysCache(tup);
	return result;
}

static void
table_load(LaminTable *t)
{
	Relation	rel;
	Relation	root;
	Oid			pk_index;
	MemoryContext old;
	char	   *relname;
	size_t		len;
	int			i;

	rel = table_open(t->relid, AccessShareLock);
	old = MemoryContextSwitchTo(t->mcxt);

	/* a partition's family and statements span the whole partition tree */
	t->query_relid = t->relid;
	if (rel->rd_rel->relispartition)
		t->query_relid = llast_oid(get_partition_ancestors(t->relid));
	root = (t->query_relid == t->relid) ? rel : table_open(t->query_relid, AccessShareLock);

	t->owner = root->rd_rel->relowner;
	t->qualname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(root)),
											 RelationGetRelationName(root));
	relname = pstrdup(RelationGetRelationName(root));
	len = strlen(relname);
	if (len > 4 && strcmp(relname + len - 4, "_all") == 0)
		relname[len - 4] = '\0';
	/* a LaminDB instance's tables are lamindb_<record>: messages name the record */
	if (strncmp(relname, "lamindb_", 8) == 0 && relname[8] != '\0')
		relname += 8;
	t->label = relname;

	/* rows are identified by their primary key, of any type and any number of columns */
	list_free(RelationGetIndexList(rel));
	pk_index = rel->rd_pkindex;
	t->pk_index = pk_index;
	if (!OidIsValid(pk_index))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("table \"%s\" has no primary key", RelationGetRelationName(rel)),
				 errhint("lamin_branch identifies rows by their primary key; add one.")));
	{
		Relation	idx = index_open(pk_index, AccessShareLock);

		t->nkeys = idx->rd_index->indnkeyatts;
		for (i = 0; i < t->nkeys; i++)
		{
			Form_pg_attribute att;

			t->key_att[i] = idx->rd_index->indkey.values[i];
			att = TupleDescAttr(RelationGetDescr(rel), t->key_att[i] - 1);
			t->key_type[i] = att->atttypid;
			{
				Oid			out;
				bool		varlena;

				getTypeOutputInfo(att->atttypid, &out, &varlena);
				fmgr_info_cxt(out, &t->key_out[i], t->mcxt);
			}
			t->key_name[i] = pstrdup(quote_identifier(NameStr(att->attname)));
			t->key_eq[i] = lamin_qualified_operator(att->atttypid, TYPECACHE_EQ_OPR);
			t->key_gt[i] = lamin_qualified_operator(att->atttypid, TYPECACHE_GT_OPR);
		}
		index_close(idx, AccessShareLock);
	}

	t->att_branch = typed_column(rel, "branch_id", INT4OID, "integer", true);
	t->att_uid = column_of(rel, "uid");
	t->att_is_latest = typed_column(rel, "is_latest", BOOLOID, "boolean", false);
	t->att_is_locked = typed_column(rel, "is_locked", BOOLOID, "boolean", false);
	t->att_created_at = typed_column(rel, "created_at", TIMESTAMPTZOID, "timestamp with time zone", false);
	t->att_updated_at = typed_column(rel, "updated_at", TIMESTAMPTZOID, "timestamp with time zone", false);
	if (t->att_updated_at != InvalidAttrNumber)
	{
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), t->att_updated_at - 1);

		t->stamp_updated_at = lamin_stampable_updated_at(att);
	}
	t->att_key = column_of(rel, "key");
	t->has_heads = t->att_uid != InvalidAttrNumber && t->att_is_latest != InvalidAttrNumber;
	t->att_space = column_of(rel, "space_id");
	t->att_created_on = column_of(rel, "created_on_id");

	/*
	 * A branch column with a foreign key (a LaminDB instance's own catalog, or a table enabled
	 * before 0.4.0) is checked by it; one without is checked by the row trigger against
	 * lamin.branch, which costs no query for main, archive and trash. So is one whose key does
	 * not check this table's inserts: lamin.artifact_all keeps the key of created_on_id for
	 * pg_dump's order, with its check triggers disabled (see foreign_key_checks).
	 */
	t->check_branch = true;
	t->check_created_on = t->att_created_on != InvalidAttrNumber;
	{
		ListCell   *lc;

		foreach(lc, RelationGetFKeyList(root))
		{
			ForeignKeyCacheInfo *fk = lfirst_node(ForeignKeyCacheInfo, lc);

			if (fk->nkeys != 1 || !foreign_key_checks(root, fk->conoid))
				continue;
			if (fk->conkey[0] == t->att_branch)
				t->check_branch = false;
			if (fk->conkey[0] == t->att_created_on)
				t->check_created_on = false;
		}
	}
	/*
	 * spaces are on where the registry says so; its family index is scanned directly when it is
	 * what heads.c expects: a plain index of this table on (an expression, branch_id)
	 */
	{
		LaminEnabled e;
		bool		known = lamin_registry_lookup(t->query_relid, &e);

		t->spaces = known && e.spaces;
		t->citus = lamin_planned_elsewhere(t->query_relid);
		/*
		 * The single-row statements lock the row's family themselves where they can: not on
		 * Citus, which would send the function to a worker, where the table's OID is another;
		 * not where an installed version older than 0.4.0 lacks it (the move functions then
		 * look the uid up and lock the family first).
		 */
		if (t->has_heads && !t->citus)
		{
			Oid			argtypes[2] = {OIDOID, TEXTOID};

			t->lock_in_scan = OidIsValid(LookupFuncName(list_make2(makeString("lamin"), makeString("_lock_family")),
														2, argtypes, true));
		}
		t->family_index = InvalidOid;
		if (known && t->has_heads && OidIsValid(e.family_index) && t->query_relid == t->relid &&
			get_rel_relkind(e.family_index) == RELKIND_INDEX)
		{
			Relation	idx = index_open(e.family_index, AccessShareLock);

			if (idx->rd_index->indrelid == t->relid && idx->rd_index->indnkeyatts == 2 &&
				idx->rd_index->indkey.values[0] == 0 && idx->rd_index->indkey.values[1] == t->att_branch &&
				idx->rd_rel->relam == BTREE_AM_OID && idx->rd_opcintype[0] == TEXTOID &&
				idx->rd_opcintype[1] == INT4OID)
				t->family_index = e.family_index;
			index_close(idx, AccessShareLock);
		}
	}
	{
		TupleDesc	desc = RelationGetDescr(rel);

		t->natts = desc->natts;
		t->att_names = palloc0(sizeof(char *) * Max(desc->natts, 1));
		for (i = 0; i < desc->natts; i++)
			if (!TupleDescAttr(desc, i)->attisdropped)
				t->att_names[i] = pstrdup(NameStr(TupleDescAttr(desc, i)->attname));
	}

	MemoryContextSwitchTo(old);
	if (root != rel)
		table_close(root, AccessShareLock);
	table_close(rel, AccessShareLock);
}

/* A new LaminTable for a table, in a memory context of its own. */
static LaminTable *
table_build(Oid relid)
{
	MemoryContext cxt = AllocSetContextCreate(CacheMemoryContext, "lamin_branch table",
											  ALLOCSET_SMALL_SIZES);
	LaminTable *t = MemoryContextAllocZero(cxt, sizeof(LaminTable));

	t->relid = relid;
	t->mcxt = cxt;
	PG_TRY();
	{
		table_load(t);
	}
	PG_CATCH();
	{
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return t;
}

LaminTable *
lamin_table_get(Oid relid)
{
	LaminTableEntry *e;
	bool		found;

	e = hash_search(table_cache, &relid, HASH_ENTER, &found);
	if (!found)
	{
		e->table = NULL;
		e->valid = false;
	}
	/* an invalidation that arrives while the table is read makes us read it again */
	while (!e->valid)
	{
		LaminTable *t;

		e->valid = true;
		PG_TRY();
		{
			t = table_build(relid);
		}
		PG_CATCH();
		{
			e->valid = false;
			PG_RE_THROW();
		}
		PG_END_TRY();
		if (e->table)
			retire(e->table, NULL);
		e->table = t;
	}
	return e->table;
}


/* "k1 = $first AND k2 = $first+1 ..." */
static void
append_key_match(StringInfo sql, LaminTable *t, int first)
{
	int			i;

	for (i = 0; i < t->nkeys; i++)
		appendStringInfo(sql, "%s%s %s $%d", i ? " AND " : "", t->key_name[i], t->key_eq[i], first + i);
}

/*
 * " AND lamin._lock_family(table, uid)" for a table with version families: the row's family
 * locked in the scan, before the row is (the function costs more than any other condition, so
 * the planner runs it last, on the row that passed them).
 */
static void
append_family_lock(StringInfo sql, LaminTable *t)
{
	if (t->lock_in_scan)
		appendStringInfo(sql, " AND lamin._lock_family(%u::pg_catalog.oid, uid::pg_catalog.text)", t->relid);
}

/*
 * The keys of a request: $1 holds nkeys text values per key, in key order. One unnest, so the
 * work is linear in the keys (subscripting a long text[] is not):
 *   SELECT DISTINCT v::t1 AS k1 FROM unnest($1) v                      (one key column)
 *   SELECT DISTINCT min(v) FILTER (WHERE n % k = 1)::t1 AS k1, ...
 *     FROM unnest($1) WITH ORDINALITY u(v, n) GROUP BY (n - 1) / k     (several)
 */
static char *
keyset_sql(LaminTable *t)
{
	StringInfoData s;
	int			i;

	initStringInfo(&s);
	if (t->nkeys == 1)
	{
		appendStringInfo(&s, "SELECT DISTINCT v::%s AS %s FROM pg_catalog.unnest($1::pg_catalog.text[]) v",
						 format_type_be_qualified(t->key_type[0]), t->key_name[0]);
		return s.data;
	}
	appendStringInfoString(&s, "SELECT DISTINCT ");
	for (i = 0; i < t->nkeys; i++)
		appendStringInfo(&s, "%spg_catalog.min(v) FILTER (WHERE n OPERATOR(pg_catalog.%%) %d OPERATOR(pg_catalog.=) %d)::%s AS %s",
						 i ? ", " : "", t->nkeys, (i + 1) % t->nkeys, format_type_be_qualified(t->key_type[i]),
						 t->key_name[i]);
	appendStringInfo(&s, " FROM pg_catalog.unnest($1::pg_catalog.text[]) WITH ORDINALITY u(v, n) "
					 "GROUP BY (n OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog./) %d", t->nkeys);
	return s.data;
}

/*
 * May a statement that moves rows set this updated_at column? A plain timestamptz column: a
 * generated or identity one is the table's own. (The planner's DELETE rewrite asks too.)
 */
bool
lamin_stampable_updated_at(Form_pg_attribute att)
{
	return att->atttypid == TIMESTAMPTZOID && att->attgenerated == '\0' && att->attidentity == '\0';
}

/*
 * What a statement that moves rows sets besides branch_id: updated_at, where the table has it.
 * The row trigger stamps a row whose updated_at the statement left alone, with a copy of the
 * whole row; a row the statement stamped itself it lets through as it is. A Citus table has no
 * row trigger, so there the statement is the only stamp.
 */
const char *
lamin_stamp_sql(LaminTable *t)
{
	return t->stamp_updated_at ? ", updated_at = pg_catalog.statement_timestamp()" : "";
}

/*
 * A one-column key: "a.k = ANY ($1::text[]::type[])", which an index scans in key order (a
 * btree sorts the array and drops duplicates); NULL for a key of several columns.
 */
static char *
key_any_sql(LaminTable *t, const char *a)
{
	if (t->nkeys != 1)
		return NULL;
	return psprintf("%s.%s %s ANY ($1::pg_catalog.text[]::%s[])", a, t->key_name[0], t->key_eq[0],
					format_type_be_qualified(t->key_type[0]));
}

/*
 * The rows of the keys in $1, as Citus runs it across shards: for one key column "t.k = ANY ($1)",
 * $1 an array of the key's type (cast once, not on every shard), or for several columns
 * "(t.k1, t.k2) IN (keys)", $1 the keys as text.
 */
static char *
citus_match_sql(LaminTable *t)
{
	StringInfoData s;
	int			i;

	if (t->nkeys == 1)
		return psprintf("t.%s %s ANY ($1)", t->key_name[0], t->key_eq[0]);
	initStringInfo(&s);
	appendStringInfoString(&s, "(");
	for (i = 0; i < t->nkeys; i++)
		appendStringInfo(&s, "%st.%s", i ? ", " : "", t->key_name[i]);
	appendStringInfo(&s, ") IN (%s)", keyset_sql(t));
	return s.data;
}

/* The type of $1 in the statements citus_match_sql writes */
static Oid
citus_keys_type(LaminTable *t)
{
	return t->nkeys == 1 ? get_array_type(t->key_type[0]) : TEXTARRAYOID;
}

/* a.k1 = b.k1 AND ... */
static char *
join_sql(LaminTable *t, const char *a, const char *b)
{
	StringInfoData s;
	int			i;

	initStringInfo(&s);
	for (i = 0; i < t->nkeys; i++)
		appendStringInfo(&s, "%s%s.%s %s %s.%s", i ? " AND " : "", a, t->key_name[i], t->key_eq[i],
						 b, t->key_name[i]);
	return s.data;
}

/* the key as text, as lamin_key_text() writes it */
static char *
keytext_sql(LaminTable *t, const char *a)
{
	StringInfoData s;
	int			i;

	initStringInfo(&s);
	if (t->nkeys > 1)
		appendStringInfoString(&s, "'(' OPERATOR(pg_catalog.||) ");
	for (i = 0; i < t->nkeys; i++)
		appendStringInfo(&s, "%s%s.%s::pg_catalog.text", i ? " OPERATOR(pg_catalog.||) ',' OPERATOR(pg_catalog.||) " : "",
						 a, t->key_name[i]);
	if (t->nkeys > 1)
		appendStringInfoString(&s, " OPERATOR(pg_catalog.||) ')'");
	return s.data;
}

/* "k1, k2" or "k1 DESC, k2 DESC": the key columns, to order by */
static char *
key_order(LaminTable *t, const char *direction)
{
	StringInfoData s;
	int			i;

	initStringInfo(&s);
	for (i = 0; i < t->nkeys; i++)
		appendStringInfo(&s, "%s%s%s", i ? ", " : "", t->key_name[i], direction);
	return s.data;
}

/* the keys of the rows locked, as a request takes them: one text[] and its number of keys */
static char *
locked_keys_sql(LaminTable *t)
{
	StringInfoData s;
	int			i;

	initStringInfo(&s);
	appendStringInfoString(&s, "(SELECT pg_catalog.array_agg(v) FROM locked, LATERAL pg_catalog.unnest(ARRAY[");
	for (i = 0; i < t->nkeys; i++)
		appendStringInfo(&s, "%slocked.%s::pg_catalog.text", i ? ", " : "", t->key_name[i]);
	appendStringInfoString(&s, "]) v), (SELECT pg_catalog.count(*)::pg_catalog.int4 FROM locked)");
	return s.data;
}

/*
 * A statement on the table, prepared once and kept. `many`: for a set of keys or families
 * larger than a handful, the statement is planned for the values of each call (a custom plan:
 * the planner then sees how many keys there are); for one or two, one generic plan is made
 * once and reused, which keeps a single move from paying a planning per statement.
 */
SPIPlanPtr
lamin_table_plan(LaminTable *t, LaminPlan which, bool many)
{
	int			slot = which + (many ? LP_NUM_PLANS : 0);

	StringInfoData sql;
	Oid			argtypes[INDEX_MAX_KEYS + 4];
	int			n = t->nkeys;	/* parameters after the key */
	int			i;
	SPIPlanPtr	plan;

	/* a plan Postgres invalidated is replaced; the old one may be running: retired, not freed */
	if (t->plans[slot])
	{
		if (SPI_plan_is_valid(t->plans[slot]))
			return t->plans[slot];
		retire(NULL, t->plans[slot]);
		t->plans[slot] = NULL;
	}

	for (i = 0; i < t->nkeys; i++)
		argtypes[i] = t->key_type[i];
	initStringInfo(&sql);

	switch (which)
	{
		case LP_HEADS:
			/*
			 * The versions of the families whose is_latest is wrong, made right: usually none,
			 * and then nothing is written. Each family is read through the family index
			 * (LATERAL), so the work is linear in the families whatever plan the statement
			 * gets. Returns the key, uid, new flag and branch of each version changed.
			 */
			appendStringInfoString(&sql, "WITH f AS MATERIALIZED (SELECT DISTINCT s, b FROM ROWS FROM "
								   "(pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.int4[])) u(s, b)), "
								   "w AS MATERIALIZED (SELECT * FROM (SELECT ");
			for (i = 0; i < t->nkeys; i++)
				appendStringInfo(&sql, "x.%s, ", t->key_name[i]);
			appendStringInfoString(&sql, "x.is_latest, pg_catalog.row_number() OVER (PARTITION BY f.s, f.b ORDER BY ");
			if (t->att_created_at != InvalidAttrNumber)
				appendStringInfoString(&sql, "x.created_at DESC NULLS LAST, ");
			for (i = 0; i < t->nkeys; i++)
				appendStringInfo(&sql, "%sx.%s DESC", i ? ", " : "", t->key_name[i]);
			appendStringInfo(&sql, ") OPERATOR(pg_catalog.=) 1 AS lamin_head FROM f CROSS JOIN LATERAL "
							 "(SELECT * FROM %s x WHERE pg_catalog.substr(x.uid::pg_catalog.text, 1, 16) OPERATOR(pg_catalog.=) f.s "
							 "AND x.branch_id OPERATOR(pg_catalog.=) f.b) x) v "
							 "WHERE v.is_latest IS DISTINCT FROM v.lamin_head) "
							 "UPDATE %s t SET is_latest = w.lamin_head FROM w WHERE %s "
							 "RETURNING %s, t.uid::pg_catalog.text, t.is_latest, t.branch_id::pg_catalog.int4",
							 t->qualname, t->qualname, join_sql(t, "t", "w"), keytext_sql(t, "t"));
			argtypes[0] = TEXTARRAYOID;
			argtypes[1] = INT4ARRAYOID;
			n = 2;
			break;
		case LP_HEADS_SUSPECT:
			/*
			 * The families whose head may be wrong: all but those with no version on the
			 * branch, or one version that is head, which is what most families are. Reads at
			 * most two index entries of each, which costs less than LP_HEADS's numbering.
			 */
			appendStringInfo(&sql, "SELECT u.s, u.b FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), "
							 "pg_catalog.unnest($2::pg_catalog.int4[])) u(s, b) "
							 "WHERE (SELECT pg_catalog.count(*) OPERATOR(pg_catalog.=) 0 OR (pg_catalog.count(*) OPERATOR(pg_catalog.=) 1 "
							 "AND pg_catalog.bool_and(x.is_latest)) FROM (SELECT x.is_latest FROM %s x "
							 "WHERE pg_catalog.substr(x.uid::pg_catalog.text, 1, 16) OPERATOR(pg_catalog.=) u.s "
							 "AND x.branch_id OPERATOR(pg_catalog.=) u.b LIMIT 2) x) IS NOT TRUE",
							 t->qualname);
			argtypes[0] = TEXTARRAYOID;
			argtypes[1] = INT4ARRAYOID;
			n = 2;
			break;
		case LP_FAMILY_WRONG:
			/*
			 * One family's versions whose is_latest is wrong (usually none): key columns, key
			 * as text, uid, the flag it should have. For a statement that touched one or two
			 * families, a read that costs less than LP_HEADS.
			 */
			appendStringInfoString(&sql, "SELECT ");
			for (i = 0; i < t->nkeys; i++)
				appendStringInfo(&sql, "%s, ", t->key_name[i]);
			appendStringInfo(&sql, "%s, uid::pg_catalog.text, lamin_head FROM (SELECT *, "
							 "pg_catalog.row_number() OVER (ORDER BY ", keytext_sql(t, "f"));
			if (t->att_created_at != InvalidAttrNumber)
				appendStringInfoString(&sql, "created_at DESC NULLS LAST, ");
			appendStringInfo(&sql, "%s) OPERATOR(pg_catalog.=) 1 AS lamin_head FROM %s "
							 "WHERE pg_catalog.substr(uid::pg_catalog.text, 1, 16) OPERATOR(pg_catalog.=) $1 "
							 "AND branch_id OPERATOR(pg_catalog.=) $2) f "
							 "WHERE is_latest IS DISTINCT FROM lamin_head",
							 key_order(t, " DESC"), t->qualname);
			argtypes[0] = TEXTOID;
			argtypes[1] = INT4OID;
			n = 2;
			break;
		case LP_SET_LATEST:
			/* $1..$k key, $k+1 the value */
			appendStringInfo(&sql, "UPDATE %s SET is_latest = $%d WHERE ", t->qualname, n + 1);
			append_key_match(&sql, t, 1);
			argtypes[n++] = BOOLOID;
			break;
		case LP_CLEAR_HEADS:
			appendStringInfo(&sql, "UPDATE %s t SET is_latest = false FROM (%s) k WHERE t.is_latest AND %s",
							 t->qualname, keyset_sql(t), join_sql(t, "t", "k"));
			argtypes[0] = TEXTARRAYOID;
			n = 1;
			break;
		case LP_SPACE_WRITABLE:
			appendStringInfo(&sql, "SELECT space_id OPERATOR(pg_catalog.=) ANY (lamin.writable_spaces($%d)) "
							 "FROM %s WHERE ", n + 1, t->qualname);
			append_key_match(&sql, t, 1);
			argtypes[n++] = REGROLEOID;
			break;
		case LP_TRASH_FROM:
			appendStringInfo(&sql, "UPDATE %s SET branch_id = -1%s WHERE branch_id OPERATOR(pg_catalog.=) $%d AND ",
							 t->qualname, lamin_stamp_sql(t), n + 1);
			append_key_match(&sql, t, 1);
			argtypes[n++] = INT4OID;
			break;
		case LP_FAMILIES:
			/*
			 * The keys drive index look-ups of their rows (LATERAL ... OFFSET 0), here and
			 * below: the work stays linear in the keys whatever the planner thinks of the
			 * table's size.
			 */
			if (t->nkeys == 1)
				appendStringInfo(&sql, "SELECT %s::pg_catalog.text FROM %s t WHERE %s",
								 t->att_uid != InvalidAttrNumber ? "t.uid" : "NULL", t->qualname,
								 key_any_sql(t, "t"));
			else
				appendStringInfo(&sql, "SELECT DISTINCT t.lamin_uid FROM (%s) k CROSS JOIN LATERAL "
								 "(SELECT %s::pg_catalog.text AS lamin_uid FROM %s t WHERE %s OFFSET 0) t",
								 keyset_sql(t), t->att_uid != InvalidAttrNumber ? "t.uid" : "NULL", t->qualname,
								 join_sql(t, "t", "k"));
			argtypes[0] = TEXTARRAYOID;
			n = 1;
			break;
		case LP_LOCK_WAIT:
		case LP_LOCK_NOWAIT:
		case LP_LOCK_SKIP:
			/*
			 * Lock every row in key order (bulk moves on overlapping keys wait, they do not
			 * deadlock), then report in one row: the branches the rows are on, how many keys are
			 * missing (a row deleted while we waited for it counts as missing; one skipped
			 * because another transaction holds it does not), up to five keys of rows in the
			 * trash or in a space role $2 may not write, for a single key its state, and when
			 * skipping, the keys of the rows locked.
			 */
			appendStringInfo(&sql, "WITH k AS MATERIALIZED (SELECT * FROM (%s) k ORDER BY %s), "
							 "locked AS MATERIALIZED (SELECT t.* FROM k CROSS JOIN LATERAL (SELECT ",
							 keyset_sql(t), key_order(t, ""));
			for (i = 0; i < t->nkeys; i++)
				appendStringInfo(&sql, "t.%s, ", t->key_name[i]);
			appendStringInfo(&sql, "t.branch_id::pg_catalog.int4 AS lamin_from, %s AS lamin_locked, "
							 "%s::pg_catalog.text AS lamin_uid, %s::pg_catalog.text AS lamin_keycol, %s AS lamin_writable "
							 "FROM %s t WHERE %s OFFSET 0 FOR UPDATE%s) t) SELECT "
							 "(SELECT pg_catalog.array_agg(DISTINCT lamin_from) FROM locked), ",
							 t->att_is_locked != InvalidAttrNumber ? "t.is_locked" : "false",
							 t->att_uid != InvalidAttrNumber ? "t.uid" : "NULL",
							 t->att_key != InvalidAttrNumber ? "t.key" : "NULL",
							 t->spaces ? "t.space_id OPERATOR(pg_catalog.=) ANY (lamin.writable_spaces($2))" : "true",
							 t->qualname, join_sql(t, "t", "k"),
							 which == LP_LOCK_NOWAIT ? " NOWAIT" : which == LP_LOCK_SKIP ? " SKIP LOCKED" : "");
			if (which == LP_LOCK_SKIP)
				appendStringInfo(&sql, "(SELECT pg_catalog.count(*) FROM k) OPERATOR(pg_catalog.-) "
								 "(SELECT pg_catalog.count(*) FROM k CROSS JOIN LATERAL (SELECT 1 FROM %s t WHERE %s OFFSET 0) e), ",
								 t->qualname, join_sql(t, "t", "k"));
			else
				appendStringInfoString(&sql, "(SELECT pg_catalog.count(*) FROM k) OPERATOR(pg_catalog.-) "
									   "(SELECT pg_catalog.count(*) FROM locked), ");
			appendStringInfo(&sql, "(SELECT pg_catalog.string_agg(%s, ', ') FROM (SELECT * FROM locked k "
							 "WHERE lamin_from OPERATOR(pg_catalog.=) -1 ORDER BY %s LIMIT 5) k), "
							 "(SELECT pg_catalog.string_agg(%s, ', ') FROM (SELECT * FROM locked k "
							 "WHERE NOT lamin_writable ORDER BY %s LIMIT 5) k), "
							 "l.lamin_from, l.lamin_locked, l.lamin_uid, l.lamin_keycol, %s, %s "
							 "FROM (SELECT 1) one LEFT JOIN (SELECT * FROM locked LIMIT 1) l ON true",
							 keytext_sql(t, "k"), key_order(t, ""), keytext_sql(t, "k"), key_order(t, ""),
							 keytext_sql(t, "l"),
							 which == LP_LOCK_SKIP ? locked_keys_sql(t) : "NULL::pg_catalog.text[], 0");
			argtypes[0] = TEXTARRAYOID;
			argtypes[1] = REGROLEOID;
			n = 2;
			break;
		case LP_MISSING:
			/* up to five keys no row has, in key order */
			appendStringInfo(&sql, "SELECT pg_catalog.string_agg(%s, ', ') FROM (SELECT k.* FROM (%s) k "
							 "LEFT JOIN LATERAL (SELECT true AS lamin_found FROM %s t WHERE %s OFFSET 0) x ON true "
							 "WHERE x.lamin_found IS NULL ORDER BY %s LIMIT 5) k",
							 keytext_sql(t, "k"), keyset_sql(t), t->qualname, join_sql(t, "t", "k"),
							 key_order(t, ""));
			argtypes[0] = TEXTARRAYOID;
			n = 1;
			break;
		case LP_MOVE_KEYS:
			/* the rows are locked: their branch is the one they leave */
			appendStringInfo(&sql, "UPDATE %s t SET branch_id = $2%s FROM (SELECT k.*, x.lamin_from FROM (%s) k "
							 "CROSS JOIN LATERAL (SELECT x.branch_id::pg_catalog.int4 AS lamin_from FROM %s x WHERE %s OFFSET 0) x) k "
							 "WHERE %s AND k.lamin_from OPERATOR(pg_catalog.<>) $2 RETURNING %s, %s::pg_catalog.text, k.lamin_from",
							 t->qualname, lamin_stamp_sql(t), keyset_sql(t), t->qualname, join_sql(t, "x", "k"), join_sql(t, "t", "k"),
							 keytext_sql(t, "k"), t->att_uid != InvalidAttrNumber ? "t.uid" : "NULL");
			argtypes[0] = TEXTARRAYOID;
			argtypes[1] = INT4OID;
			n = 2;
			break;
		case LP_MOVE_FAST:
		case LP_MOVE_FAST_JOIN:
			/*
			 * Lock and move in one statement the rows that are on the branch a move usually
			 * takes rows from (the caller's guess, $3): the UPDATE a user would write. With a
			 * one-column key, "key = ANY (keys)", which an index scan of the primary key reads in
			 * key order (the caller checks that the plan is one); else joined to the keys in key
			 * order (a sorted sub-query is never pulled up; the caller plans the join as a nested
			 * loop). Either way rows are locked in key order. A row another transaction moves
			 * meanwhile fails the recheck of its branch and is left to the locking path.
			 */
			if (which == LP_MOVE_FAST && t->nkeys == 1)
				appendStringInfo(&sql, "UPDATE %s t SET branch_id = $2%s WHERE %s AND t.branch_id OPERATOR(pg_catalog.=) $3 "
								 "RETURNING %s, ",
								 t->qualname, lamin_stamp_sql(t), key_any_sql(t, "t"), keytext_sql(t, "t"));
			else
			{
				if (t->nkeys == 1)
					appendStringInfo(&sql, "UPDATE %s t SET branch_id = $2%s FROM (SELECT pg_catalog.unnest($1::pg_catalog.text[]::%s[]) AS %s "
									 "ORDER BY 1) k",
									 t->qualname, lamin_stamp_sql(t), format_type_be_qualified(t->key_type[0]), t->key_name[0]);
				else
					appendStringInfo(&sql, "UPDATE %s t SET branch_id = $2%s FROM (SELECT * FROM (%s) k ORDER BY %s) k",
									 t->qualname, lamin_stamp_sql(t), keyset_sql(t), key_order(t, ""));
				appendStringInfo(&sql, " WHERE %s AND t.branch_id OPERATOR(pg_catalog.=) $3 RETURNING %s, ",
								 join_sql(t, "t", "k"), keytext_sql(t, "k"));
			}
			appendStringInfo(&sql, "%s::pg_catalog.text, %s",
							 t->att_uid != InvalidAttrNumber ? "t.uid" : "NULL",
							 t->spaces ? "t.space_id OPERATOR(pg_catalog.=) ANY ((SELECT lamin.writable_spaces($4)))" : "true");
			argtypes[0] = TEXTARRAYOID;
			argtypes[1] = INT4OID;
			argtypes[2] = INT4OID;
			argtypes[3] = REGROLEOID;
			n = 4;
			break;
		case LP_ONE_UID:
			appendStringInfo(&sql, "SELECT %s::pg_catalog.text FROM %s WHERE ",
							 t->att_uid != InvalidAttrNumber ? "uid" : "NULL", t->qualname);
			append_key_match(&sql, t, 1);
			break;
		case LP_ONE_BRANCH:
			appendStringInfo(&sql, "SELECT branch_id::pg_catalog.int4 FROM %s WHERE ", t->qualname);
			append_key_match(&sql, t, 1);
			break;
		case LP_ONE_HEAD:
			appendStringInfo(&sql, "SELECT branch_id::pg_catalog.int4, uid::pg_catalog.text, is_latest FROM %s WHERE ",
							 t->qualname);
			append_key_match(&sql, t, 1);
			break;
		case LP_ONE_LOCK:
			appendStringInfo(&sql, "SELECT branch_id::pg_catalog.int4, %s, %s::pg_catalog.text, %s::pg_catalog.text, %s "
							 "FROM %s WHERE ",
							 t->att_is_locked != InvalidAttrNumber ? "is_locked" : "false",
							 t->att_uid != InvalidAttrNumber ? "uid" : "NULL",
							 t->att_key != InvalidAttrNumber ? "key" : "NULL",
							 t->spaces ? psprintf("space_id OPERATOR(pg_catalog.=) ANY (lamin.writable_spaces($%d))", n + 1) : "true",
							 t->qualname);
			append_key_match(&sql, t, 1);
			append_family_lock(&sql, t);
			appendStringInfoString(&sql, " FOR UPDATE");
			argtypes[n++] = REGROLEOID;
			break;
		case LP_ONE_MOVE:
			appendStringInfo(&sql, "UPDATE %s SET branch_id = $%d%s WHERE ", t->qualname, n + 1, lamin_stamp_sql(t));
			append_key_match(&sql, t, 1);
			argtypes[n++] = INT4OID;
			break;
		case LP_ONE_MOVE_FROM:
			appendStringInfo(&sql, "UPDATE %s SET branch_id = $%d%s WHERE branch_id OPERATOR(pg_catalog.=) $%d%s AND ",
							 t->qualname, n + 1, lamin_stamp_sql(t), n + 2, t->att_is_locked != InvalidAttrNumber ? " AND NOT is_locked" : "");
			append_key_match(&sql, t, 1);
			append_family_lock(&sql, t);
			appendStringInfo(&sql, " RETURNING %s::pg_catalog.text, %s::pg_catalog.text",
							 t->att_uid != InvalidAttrNumber ? "uid" : "NULL",
							 t->att_key != InvalidAttrNumber ? "key" : "NULL");
			argtypes[n++] = INT4OID;
			argtypes[n++] = INT4OID;
			break;
		case LP_ONE_PURGE:
			appendStringInfo(&sql, "DELETE FROM %s WHERE ", t->qualname);
			append_key_match(&sql, t, 1);
			break;
		case LP_PURGE_KEYS:
			appendStringInfo(&sql, "DELETE FROM %s t USING (%s) k WHERE %s "
							 "RETURNING %s, %s::pg_catalog.text, t.branch_id::pg_catalog.int4",
							 t->qualname, keyset_sql(t), join_sql(t, "t", "k"), keytext_sql(t, "k"),
							 t->att_uid != InvalidAttrNumber ? "t.uid" : "NULL");
			argtypes[0] = TEXTARRAYOID;
			n = 1;
			break;
		case LP_CITUS_REPORT:
			appendStringInfo(&sql, "SELECT t.branch_id::pg_catalog.int4, pg_catalog.count(*), "
							 "pg_catalog.min(%s::pg_catalog.text) FROM %s t WHERE %s GROUP BY 1",
							 t->att_is_locked == InvalidAttrNumber ? "NULL" :
							 (t->att_uid != InvalidAttrNumber ? "CASE WHEN t.is_locked THEN t.uid END" :
							  psprintf("CASE WHEN t.is_locked THEN %s END", keytext_sql(t, "t"))),
							 t->qualname, citus_match_sql(t));
			argtypes[0] = citus_keys_type(t);
			n = 1;
			break;
		case LP_CITUS_NKEYS:
			appendStringInfo(&sql, "SELECT pg_catalog.count(*) FROM (%s) k", keyset_sql(t));
			argtypes[0] = TEXTARRAYOID;
			n = 1;
			break;
		case LP_CITUS_FOUND:
			appendStringInfo(&sql, "SELECT %s FROM %s t WHERE %s", keytext_sql(t, "t"), t->qualname,
							 citus_match_sql(t));
			argtypes[0] = citus_keys_type(t);
			n = 1;
			break;
		case LP_CITUS_MISSING:
			appendStringInfo(&sql, "SELECT pg_catalog.string_agg(x, ', ') FROM (SELECT %s AS x FROM (%s) k "
							 "WHERE %s OPERATOR(pg_catalog.<>) ALL ($2::pg_catalog.text[]) ORDER BY %s LIMIT 5) k",
							 keytext_sql(t, "k"), keyset_sql(t), keytext_sql(t, "k"), key_order(t, ""));
			argtypes[0] = TEXTARRAYOID;
			argtypes[1] = TEXTARRAYOID;
			n = 2;
			break;
		case LP_CITUS_TRASHED:
			appendStringInfo(&sql, "SELECT pg_catalog.string_agg(x, ', ') FROM (SELECT %s AS x, %s FROM %s t "
							 "WHERE %s AND t.branch_id OPERATOR(pg_catalog.=) -1 ORDER BY %s LIMIT 5) k",
							 keytext_sql(t, "t"), key_order(t, ""), t->qualname, citus_match_sql(t),
							 key_order(t, ""));
			argtypes[0] = citus_keys_type(t);
			n = 1;
			break;
		case LP_CITUS_MOVE:
			appendStringInfo(&sql, "UPDATE %s t SET branch_id = $2%s WHERE %s AND t.branch_id OPERATOR(pg_catalog.=) $3%s "
							 "RETURNING %s, %s::pg_catalog.text, $3",
							 t->qualname, lamin_stamp_sql(t),
							 citus_match_sql(t),
							 t->att_is_locked != InvalidAttrNumber ? " AND t.is_locked IS NOT TRUE" : "",
							 keytext_sql(t, "t"),
							 t->att_uid != InvalidAttrNumber ? "t.uid" : "NULL");
			argtypes[0] = citus_keys_type(t);
			argtypes[1] = INT4OID;
			argtypes[2] = INT4OID;
			n = 3;
			break;
		case LP_CITUS_PURGE:
			appendStringInfo(&sql, "DELETE FROM %s t WHERE %s AND t.branch_id OPERATOR(pg_catalog.=) $2 "
							 "RETURNING %s, %s::pg_catalog.text, $2",
							 t->qualname, citus_match_sql(t), keytext_sql(t, "t"),
							 t->att_uid != InvalidAttrNumber ? "t.uid" : "NULL");
			argtypes[0] = citus_keys_type(t);
			argtypes[1] = INT4OID;
			n = 2;
			break;
		default:
			elog(ERROR, "unknown lamin_branch plan %d", (int) which);
	}

	plan = SPI_prepare_cursor(sql.data, n, argtypes, many ? CURSOR_OPT_CUSTOM_PLAN : CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql.data, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep plan \"%s\"", sql.data);
	t->plans[slot] = plan;
	pfree(sql.data);
	return plan;
}

/* The key values of the row in slot, in key column order */
void
lamin_slot_key(LaminTable *t, TupleTableSlot *slot, Datum *key)
{
	int			i;

	for (i = 0; i < t->nkeys; i++)
	{
		bool		isnull;

		key[i] = slot_getattr(slot, t->key_att[i], &isnull);
	}
}

/* The branch of a row of the table (main where the column is NULL) */
int32
lamin_slot_branch(LaminTable *t, TupleTableSlot *slot)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, t->att_branch, &isnull);

	return isnull ? LAMIN_BRANCH_MAIN : DatumGetInt32(d);
}

/* The key as users write it: the value, or (v1,v2) for a key of several columns. */
static void
append_key_text(StringInfo s, LaminTable *t, Datum *key)
{
	int			i;

	if (t->nkeys > 1)
		appendStringInfoChar(s, '(');
	for (i = 0; i < t->nkeys; i++)
	{
		char	   *v = OutputFunctionCall(&t->key_out[i], key[i]);

		if (i > 0)
			appendStringInfoChar(s, ',');
		appendStringInfoString(s, v);
		pfree(v);
	}
	if (t->nkeys > 1)
		appendStringInfoChar(s, ')');
}

char *
lamin_key_text(LaminTable *t, Datum *key)
{
	StringInfoData s;

	initStringInfo(&s);
	append_key_text(&s, t, key);
	return s.data;
}

/*
 * The same as text, in the current memory context: what the move log holds. Made in a buffer kept
 * for the backend, as the row trigger calls it for every row a statement moves.
 */
Datum
lamin_key_text_datum(LaminTable *t, Datum *key)
{
	static StringInfoData buf;

	if (buf.data == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		initStringInfo(&buf);
		MemoryContextSwitchTo(old);
	}
	resetStringInfo(&buf);
	append_key_text(&buf, t, key);
	return PointerGetDatum(cstring_to_text_with_len(buf.data, buf.len));
}

static Datum
convert_value(Datum value, Oid from, Oid to)
{
	Oid			out,
				in,
				ioparam;
	bool		varlena;

	if (from == to)
		return value;
	getTypeOutputInfo(from, &out, &varlena);
	getTypeInputInfo(to, &in, &ioparam);
	return OidInputFunctionCall(in, OidOutputFunctionCall(out, value), ioparam, -1);
}

/*
 * A key given by a caller: a value for a one-column key, an array or a row of values for a key of
 * several columns. Values of another type are converted through their text form (42 for a bigint
 * key, '42' for a text key), so a bad value fails with the key type's own input error.
 */
void
lamin_key_from_datum(LaminTable *t, Datum value, Oid type, Datum *key)
{
	Oid			elemtype = get_element_type(type);

	/* a one-column key is the value itself, unless an array is given for a non-array key */
	if (t->nkeys == 1 && (!OidIsValid(elemtype) || OidIsValid(get_element_type(t->key_type[0]))) &&
		!type_is_rowtype(type))
	{
		key[0] = convert_value(value, type, t->key_type[0]);
		return;
	}

	if (OidIsValid(elemtype))
	{
		ArrayType  *arr = DatumGetArrayTypeP(value);
		Datum	   *elems;
		bool	   *nulls;
		int			n,
					i;
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
		deconstruct_array(arr, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
		if (n != t->nkeys)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key of table %s has %d columns, not %d", t->qualname, t->nkeys, n)));
		for (i = 0; i < n; i++)
		{
			if (nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("key of table %s must not contain nulls", t->qualname)));
			key[i] = convert_value(elems[i], elemtype, t->key_type[i]);
		}
		return;
	}
	if (type_is_rowtype(type))
	{
		HeapTupleHeader rec = DatumGetHeapTupleHeader(value);
		TupleDesc	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(rec),
												  HeapTupleHeaderGetTypMod(rec));
		HeapTupleData tmp;
		int			i;

		if (desc->natts != t->nkeys)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key of table %s has %d columns, not %d", t->qualname, t->nkeys, desc->natts)));
		tmp.t_len = HeapTupleHeaderGetDatumLength(rec);
		tmp.t_data = rec;
		for (i = 0; i < t->nkeys; i++)
		{
			bool		isnull;
			Datum		d = heap_getattr(&tmp, i + 1, desc, &isnull);

			if (isnull)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("key of table %s must not contain nulls", t->qualname)));
			key[i] = convert_value(d, TupleDescAttr(desc, i)->atttypid, t->key_type[i]);
		}
		ReleaseTupleDesc(desc);
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("key of table %s has %d columns", t->qualname, t->nkeys),
			 errhint("Pass the key as an array or a row: ARRAY['1', 'a'] or ROW(1, 'a').")));
}

void
lamin_spi_check(int rc, const char *what)
{
	if (rc < 0)
		elog(ERROR, "lamin_branch: %s failed: %s", what, SPI_result_code_string(rc));
}
