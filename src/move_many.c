/*
 * move_many.c: moving many rows by key in one statement: lamin.delete_many, restore_many,
 * archive_many, move_many. The keys become a set joined to the table; every row is locked in key
 * order first (so that bulk calls on overlapping keys wait for each other instead of
 * deadlocking; or, as the caller asks, fail at once on a locked row or skip it), then one UPDATE
 * or DELETE moves them. Bad input (a missing key, a trashed row to
 * archive, a space the caller may not write) fails the whole call before anything moves.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"

#include "lamin_branch.h"

typedef enum ManyAction
{
	MANY_TRASH,
	MANY_PURGE,
	MANY_RESTORE,
	MANY_ARCHIVE,
	MANY_MOVE
} ManyAction;

/*
 * The keys as one flat text[] of nkeys values per key, whatever their type: a one-dimensional
 * array for a one-column key, a two-dimensional one (a row per key) for several columns.
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

/* SELECT DISTINCT ($1)[(i-1)*k+1]::t1 AS k1, ... FROM generate_series(1, $2) i */
static char *
keyset_sql(LaminTable *t)
{
	StringInfoData s;
	int			i;

	initStringInfo(&s);
	appendStringInfoString(&s, "SELECT DISTINCT ");
	for (i = 0; i < t->nkeys; i++)
		appendStringInfo(&s, "%s($1)[(i OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog.*) %d OPERATOR(pg_catalog.+) %d]::%s AS %s",
						 i ? ", " : "", t->nkeys, i + 1, format_type_be_qualified(t->key_type[i]), t->key_name[i]);
	appendStringInfoString(&s, " FROM pg_catalog.generate_series(1, $2) i");
	return s.data;
}

/* t.k1 = k.k1 AND ... */
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

/* Run a check query (as owner); it returns one text: NULL when all is well. */
static char *
check_query(const char *sql, Datum *values, Oid *types, int nargs)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 1);
	bool		isnull;
	Datum		d;

	lamin_spi_check(rc, "checking the keys");
	if (SPI_processed == 0)
		return NULL;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? NULL : TextDatumGetCString(d);
}

static Datum
move_many(FunctionCallInfo fcinfo, ManyAction action)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	LaminEnabled e;
	LaminTable *t;
	LaminSavedUser saved;
	Oid			caller = GetUserId();
	Datum		values[3];
	Oid			types[3] = {TEXTARRAYOID, INT4OID, REGROLEOID};
	int			nrows;
	int32		target = 0;
	char	   *keyset,
			   *join,
			   *keytext,
			   *bad;
	StringInfoData sql;
	int			rc;
	uint64		i;
	char	   *locking;
	const char *lock_clause;
	bool		wanted[LAMIN_FAMILY_SLOTS];

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("keys must not be null")));
	PreventCommandDuringRecovery("moving rows between branches");
	e = lamin_enabled_table(PG_GETARG_OID(0));
	if (action == MANY_TRASH && !PG_ARGISNULL(2) && PG_GETARG_BOOL(2))
		action = MANY_PURGE;
	/* the last argument: how to treat rows another transaction has locked */
	locking = PG_ARGISNULL(PG_NARGS() - 1) ? "wait" : text_to_cstring(PG_GETARG_TEXT_PP(PG_NARGS() - 1));
	if (strcmp(locking, "wait") == 0)
		lock_clause = "";
	else if (strcmp(locking, "nowait") == 0)
		lock_clause = " NOWAIT";
	else if (strcmp(locking, "skip locked") == 0)
		lock_clause = " SKIP LOCKED";
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("locking must be 'wait', 'nowait' or 'skip locked', not \"%s\"", locking)));
	if (action == MANY_MOVE)
	{
		if (PG_ARGISNULL(2))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("branch must not be null")));
		target = lamin_checked_branch(e.relid, PG_GETARG_INT32(2));
	}
	else
		target = action == MANY_RESTORE ? LAMIN_BRANCH_MAIN :
			action == MANY_ARCHIVE ? LAMIN_BRANCH_ARCHIVE : LAMIN_BRANCH_TRASH;
	lamin_check_view_right(&e, action == MANY_PURGE || action == MANY_RESTORE);

	InitMaterializedSRF(fcinfo, 0);
	t = lamin_table_get(e.relid);
	values[0] = keys_as_text(t, PG_GETARG_ARRAYTYPE_P(1), &nrows);
	values[1] = Int32GetDatum(nrows);
	values[2] = ObjectIdGetDatum(caller);
	keyset = keyset_sql(t);
	join = join_sql(t, "t", "k");
	keytext = keytext_sql(t, "k");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lamin_become_owner(t, &saved);

	/*
	 * The families first, in slot order, then the rows in key order: the order single-row moves
	 * take (family, then row), so a bulk call and a single move cannot deadlock on each other.
	 */
	if (t->has_heads)
	{
		rc = SPI_execute_with_args(psprintf("SELECT DISTINCT t.uid::pg_catalog.text FROM (%s) k JOIN %s t ON %s",
											keyset, t->qualname, join),
								   2, types, values, NULL, true, 0);
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

	/* lock every row in key order: bulk calls on overlapping keys wait, they do not deadlock */
	initStringInfo(&sql);
	appendStringInfo(&sql, "WITH k AS (%s), locked AS MATERIALIZED (SELECT t.*, t.branch_id::pg_catalog.int4 AS lamin_from "
					 "FROM %s t JOIN k ON %s ORDER BY ", keyset, t->qualname, join);
	for (i = 0; i < t->nkeys; i++)
		appendStringInfo(&sql, "%st.%s", i ? ", " : "", t->key_name[i]);
	appendStringInfo(&sql, " FOR UPDATE OF t%s) ", lock_clause);

	/*
	 * Every key must exist: nothing is half-done on bad input. Checked once the rows are locked,
	 * so that a row deleted while we waited for it counts as missing. Rows skipped because
	 * another transaction holds them are not missing.
	 */
	if (strcmp(lock_clause, " SKIP LOCKED") == 0)
		bad = check_query(psprintf("SELECT pg_catalog.string_agg(%s, ', ') FROM (SELECT * FROM (%s) k "
								   "WHERE NOT EXISTS (SELECT 1 FROM %s t WHERE %s) LIMIT 5) k",
								   keytext, keyset, t->qualname, join),
						  values, types, 2);
	else
		bad = check_query(psprintf("%s SELECT pg_catalog.string_agg(%s, ', ') FROM (SELECT * FROM k "
								   "WHERE NOT EXISTS (SELECT 1 FROM locked t WHERE %s) LIMIT 5) k",
								   sql.data, keytext, join),
						  values, types, 2);
	if (bad)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("keys of table %s do not exist: %s", t->qualname, bad),
				 errdetail("No row has them on any branch (at most five are named).")));

	if (action == MANY_ARCHIVE)
	{
		bad = check_query(psprintf("%s SELECT pg_catalog.string_agg(%s, ', ') FROM locked k WHERE lamin_from OPERATOR(pg_catalog.=) -1",
								   sql.data, keytext), values, types, 2);
		if (bad)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("rows of table %s are in the trash: %s", t->qualname, bad),
					 errhint("Restore them first, then archive them.")));
	}
	if (t->spaces)
	{
		bad = check_query(psprintf("%s SELECT pg_catalog.string_agg(%s, ', ') FROM locked k "
								   "WHERE NOT (k.space_id OPERATOR(pg_catalog.=) ANY (lamin.writable_spaces($3)))",
								   sql.data, keytext), values, types, 3);
		if (bad)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to change rows of table %s in their space: %s", t->qualname, bad),
					 errdetail("Role \"%s\" has no write access to their space.", GetUserNameFromId(caller, false))));
	}

	if (action == MANY_PURGE)
		appendStringInfo(&sql, "DELETE FROM %s t USING locked k WHERE %s "
						 "RETURNING %s, %s, 'deleted', k.lamin_from, NULL::pg_catalog.int4",
						 t->qualname, join, keytext,
						 t->att_uid != InvalidAttrNumber ? "t.uid::pg_catalog.text" : "NULL::pg_catalog.text");
	else
		appendStringInfo(&sql, "UPDATE %s t SET branch_id = %d FROM locked k WHERE %s "
						 "AND k.lamin_from OPERATOR(pg_catalog.<>) %d "
						 "RETURNING %s, %s, '%s', k.lamin_from, t.branch_id::pg_catalog.int4",
						 t->qualname, target, join, target, keytext,
						 t->att_uid != InvalidAttrNumber ? "t.uid::pg_catalog.text" : "NULL::pg_catalog.text",
						 action == MANY_TRASH ? "trashed" : action == MANY_RESTORE ? "restored" :
						 action == MANY_ARCHIVE ? "archived" : "moved");
	rc = SPI_execute_with_args(sql.data, 2, types, values, NULL, false, 0);
	lamin_spi_check(rc, "moving the rows");

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		out[7];
		bool		nulls[7];
		int			c;

		out[0] = ObjectIdGetDatum(t->relid);
		nulls[0] = false;
		for (c = 1; c <= 5; c++)
			out[c] = SPI_getbinval(row, desc, c, &nulls[c]);
		out[6] = (Datum) 0;
		nulls[6] = true;
		/* text values live in SPI memory: the tuplestore copies them */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, nulls);
	}

	lamin_restore_user(&saved);
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(lamin_delete_many);
Datum
lamin_delete_many(PG_FUNCTION_ARGS)
{
	return move_many(fcinfo, MANY_TRASH);
}

PG_FUNCTION_INFO_V1(lamin_restore_many);
Datum
lamin_restore_many(PG_FUNCTION_ARGS)
{
	return move_many(fcinfo, MANY_RESTORE);
}

PG_FUNCTION_INFO_V1(lamin_archive_many);
Datum
lamin_archive_many(PG_FUNCTION_ARGS)
{
	return move_many(fcinfo, MANY_ARCHIVE);
}

PG_FUNCTION_INFO_V1(lamin_move_many);
Datum
lamin_move_many(PG_FUNCTION_ARGS)
{
	return move_many(fcinfo, MANY_MOVE);
}
