/*
 * table_info.c: what lamin_branch knows of each branch-enabled table (column numbers, owner,
 * quoted names) and the statements it runs on it, prepared once per table and kept until the
 * relcache says the table changed. Also: running as the owner, and the version-family lock.
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
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "catalog/index.h"

#include "lamin_branch.h"

static HTAB *table_cache = NULL;

/* Relcache invalidation: forget what we knew; plans are dropped on next use. */
static void
table_cache_invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	LaminTable *t;

	if (table_cache == NULL)
		return;
	if (OidIsValid(relid))
	{
		t = hash_search(table_cache, &relid, HASH_FIND, NULL);
		if (t)
			t->valid = false;
		return;
	}
	hash_seq_init(&status, table_cache);
	while ((t = hash_seq_search(&status)) != NULL)
		t->valid = false;
}

void
lamin_table_cache_init(void)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(LaminTable);
	table_cache = hash_create("lamin_branch tables", 32, &ctl, HASH_ELEM | HASH_BLOBS);
	CacheRegisterRelcacheCallback(table_cache_invalidate, (Datum) 0);
}

static void
table_forget(LaminTable *t)
{
	int			i;

	for (i = 0; i < LP_NUM_PLANS; i++)
	{
		if (t->plans[i])
			SPI_freeplan(t->plans[i]);
		t->plans[i] = NULL;
	}
	if (t->mcxt)
		MemoryContextDelete(t->mcxt);
	t->mcxt = NULL;
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

static void
table_load(LaminTable *t)
{
	Relation	rel;
	List	   *indexes;
	Oid			pk_index = InvalidOid;
	MemoryContext old;
	char	   *relname;
	size_t		len;

	rel = table_open(t->relid, AccessShareLock);
	t->mcxt = AllocSetContextCreate(CacheMemoryContext, "lamin_branch table",
									ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(t->mcxt);

	t->owner = rel->rd_rel->relowner;
	t->qualname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
											 RelationGetRelationName(rel));
	relname = pstrdup(RelationGetRelationName(rel));
	len = strlen(relname);
	if (len > 4 && strcmp(relname + len - 4, "_all") == 0)
		relname[len - 4] = '\0';
	t->label = relname;

	/* the primary key: one column, used as the row's key by every statement */
	indexes = RelationGetIndexList(rel);
	pk_index = rel->rd_pkindex;
	list_free(indexes);
	if (!OidIsValid(pk_index))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("table \"%s\" has no primary key", RelationGetRelationName(rel)),
				 errhint("lamin_branch identifies rows by their primary key; add one.")));
	{
		Relation	idx = index_open(pk_index, AccessShareLock);

		if (idx->rd_index->indnkeyatts != 1 || idx->rd_index->indkey.values[0] == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("primary key of table \"%s\" has more than one column",
							RelationGetRelationName(rel))));
		t->att_pk = idx->rd_index->indkey.values[0];
		index_close(idx, AccessShareLock);
	}
	t->pk_type = TupleDescAttr(RelationGetDescr(rel), t->att_pk - 1)->atttypid;
	t->pk_name = pstrdup(quote_identifier(NameStr(TupleDescAttr(RelationGetDescr(rel), t->att_pk - 1)->attname)));

	t->att_branch = typed_column(rel, "branch_id", INT4OID, "integer", true);
	t->att_uid = column_of(rel, "uid");
	t->att_is_latest = typed_column(rel, "is_latest", BOOLOID, "boolean", false);
	t->att_is_locked = typed_column(rel, "is_locked", BOOLOID, "boolean", false);
	t->att_created_at = typed_column(rel, "created_at", TIMESTAMPTZOID, "timestamp with time zone", false);
	t->att_updated_at = typed_column(rel, "updated_at", TIMESTAMPTZOID, "timestamp with time zone", false);
	t->att_key = column_of(rel, "key");
	t->has_heads = t->att_uid != InvalidAttrNumber && t->att_is_latest != InvalidAttrNumber;
	{
		TupleDesc	desc = RelationGetDescr(rel);
		int			i;

		t->natts = desc->natts;
		t->att_names = palloc0(sizeof(char *) * Max(desc->natts, 1));
		for (i = 0; i < desc->natts; i++)
			if (!TupleDescAttr(desc, i)->attisdropped)
				t->att_names[i] = pstrdup(NameStr(TupleDescAttr(desc, i)->attname));
	}

	MemoryContextSwitchTo(old);
	table_close(rel, AccessShareLock);
	memset(t->plans, 0, sizeof(t->plans));
	t->valid = true;
}

LaminTable *
lamin_table_get(Oid relid)
{
	LaminTable *t;
	bool		found;

	t = hash_search(table_cache, &relid, HASH_ENTER, &found);
	if (!found)
	{
		t->mcxt = NULL;
		memset(t->plans, 0, sizeof(t->plans));
		t->valid = false;
	}
	if (!t->valid)
	{
		table_forget(t);
		PG_TRY();
		{
			table_load(t);
		}
		PG_CATCH();
		{
			table_forget(t);
			hash_search(table_cache, &relid, HASH_REMOVE, NULL);
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	return t;
}

/* The family of a row: its uid stem, compared as the family index stores it. */
#define STEM_EXPR "pg_catalog.substr(%s::pg_catalog.text, 1, 16)"

SPIPlanPtr
lamin_table_plan(LaminTable *t, LaminPlan which)
{
	StringInfoData sql;
	Oid			argtypes[4];
	int			nargs = 0;
	char	   *stem;
	const char *uid = "uid";
	const char *order_by;
	SPIPlanPtr	plan;

	if (t->plans[which])
		return t->plans[which];

	initStringInfo(&sql);
	stem = psprintf(STEM_EXPR, uid);
	order_by = (t->att_created_at != InvalidAttrNumber)
		? psprintf("created_at DESC, %s DESC", t->pk_name)
		: psprintf("%s DESC", t->pk_name);

	switch (which)
	{
		case LP_FIND_SUCCESSOR:
			appendStringInfo(&sql,
							 "SELECT %s, uid::pg_catalog.text FROM %s "
							 "WHERE %s OPERATOR(pg_catalog.=) $1 AND branch_id OPERATOR(pg_catalog.=) $2 "
							 "AND %s OPERATOR(pg_catalog.<>) $3 ORDER BY %s LIMIT 1 FOR UPDATE",
							 t->pk_name, t->qualname, stem, t->pk_name, order_by);
			argtypes[0] = TEXTOID;
			argtypes[1] = INT4OID;
			argtypes[2] = t->pk_type;
			nargs = 3;
			break;
		case LP_SET_HEAD:
			appendStringInfo(&sql, "UPDATE %s SET is_latest = true WHERE %s OPERATOR(pg_catalog.=) $1",
							 t->qualname, t->pk_name);
			argtypes[0] = t->pk_type;
			nargs = 1;
			break;
		case LP_NEWER_EXISTS:
			if (t->att_created_at != InvalidAttrNumber)
				appendStringInfo(&sql,
								 "SELECT 1 FROM %s "
								 "WHERE %s OPERATOR(pg_catalog.=) $1 AND branch_id OPERATOR(pg_catalog.=) $2 "
								 "AND %s OPERATOR(pg_catalog.<>) $3 "
								 "AND (created_at OPERATOR(pg_catalog.>) $4 OR (created_at OPERATOR(pg_catalog.=) $4 "
								 "AND %s OPERATOR(pg_catalog.>) $3)) LIMIT 1",
								 t->qualname, stem, t->pk_name, t->pk_name);
			else
				appendStringInfo(&sql,
								 "SELECT 1 FROM %s "
								 "WHERE %s OPERATOR(pg_catalog.=) $1 AND branch_id OPERATOR(pg_catalog.=) $2 "
								 "AND %s OPERATOR(pg_catalog.>) $3 AND $4 IS NULL LIMIT 1",
								 t->qualname, stem, t->pk_name);
			argtypes[0] = TEXTOID;
			argtypes[1] = INT4OID;
			argtypes[2] = t->pk_type;
			argtypes[3] = TIMESTAMPTZOID;
			nargs = 4;
			break;
		case LP_DEMOTE:
			appendStringInfo(&sql,
							 "UPDATE %s SET is_latest = false "
							 "WHERE %s OPERATOR(pg_catalog.=) $1 AND branch_id OPERATOR(pg_catalog.=) $2 "
							 "AND %s OPERATOR(pg_catalog.<>) $3 AND is_latest",
							 t->qualname, stem, t->pk_name);
			argtypes[0] = TEXTOID;
			argtypes[1] = INT4OID;
			argtypes[2] = t->pk_type;
			nargs = 3;
			break;
		case LP_GET_UID:
			appendStringInfo(&sql, "SELECT %s::pg_catalog.text FROM %s WHERE %s OPERATOR(pg_catalog.=) $1",
							 t->att_uid != InvalidAttrNumber ? "uid" : "NULL", t->qualname, t->pk_name);
			argtypes[0] = t->pk_type;
			nargs = 1;
			break;
		case LP_LOCK_ROW:
			appendStringInfo(&sql,
							 "SELECT branch_id::pg_catalog.int4, %s, %s::pg_catalog.text, %s::pg_catalog.text "
							 "FROM %s WHERE %s OPERATOR(pg_catalog.=) $1 FOR UPDATE",
							 t->att_is_locked != InvalidAttrNumber ? "is_locked" : "false",
							 t->att_uid != InvalidAttrNumber ? "uid" : "NULL",
							 t->att_key != InvalidAttrNumber ? "key" : "NULL",
							 t->qualname, t->pk_name);
			argtypes[0] = t->pk_type;
			nargs = 1;
			break;
		case LP_SET_BRANCH:
			appendStringInfo(&sql, "UPDATE %s SET branch_id = $2 WHERE %s OPERATOR(pg_catalog.=) $1",
							 t->qualname, t->pk_name);
			argtypes[0] = t->pk_type;
			argtypes[1] = INT4OID;
			nargs = 2;
			break;
		case LP_PURGE:
			appendStringInfo(&sql, "DELETE FROM %s WHERE %s OPERATOR(pg_catalog.=) $1",
							 t->qualname, t->pk_name);
			argtypes[0] = t->pk_type;
			nargs = 1;
			break;
		case LP_TRASH_FROM:
			appendStringInfo(&sql,
							 "UPDATE %s SET branch_id = -1 "
							 "WHERE %s OPERATOR(pg_catalog.=) $1 AND branch_id OPERATOR(pg_catalog.=) $2",
							 t->qualname, t->pk_name);
			argtypes[0] = t->pk_type;
			argtypes[1] = INT4OID;
			nargs = 2;
			break;
		default:
			elog(ERROR, "unknown lamin_branch plan %d", (int) which);
	}

	plan = SPI_prepare(sql.data, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql.data, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep plan \"%s\"", sql.data);
	t->plans[which] = plan;
	pfree(sql.data);
	return plan;
}

void
lamin_become_owner(LaminTable *t, LaminSavedUser *saved)
{
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(t->owner,
						   saved->sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
}

void
lamin_restore_user(LaminSavedUser *saved)
{
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

/*
 * The family lock is an advisory lock in a key space of its own (field4 = 0x4c42, "LB"), so it
 * never meets a lock an application takes with pg_advisory_lock(). It shows in pg_locks as an
 * advisory lock with objsubid 19522.
 */
#define LAMIN_LOCK_SPACE 0x4c42

void
lamin_lock_family(LaminTable *t, const char *uid)
{
	LOCKTAG		tag;
	uint32		h;
	int			len = strnlen(uid, LAMIN_UID_STEM_LEN);

	h = hash_bytes((const unsigned char *) uid, len);
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, t->relid, h, LAMIN_LOCK_SPACE);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

char *
lamin_stem(const char *uid)
{
	return pnstrdup(uid, LAMIN_UID_STEM_LEN);
}

void
lamin_spi_check(int rc, const char *what)
{
	if (rc < 0)
		elog(ERROR, "lamin_branch: %s failed: %s", what, SPI_result_code_string(rc));
}
