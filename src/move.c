/*
 * move.c: moving rows between branches, one key at a time. The artifact functions
 * (artifact_delete, _restore, _archive), their generic counterparts for any branch-enabled table
 * (lamin.delete, .restore, .archive, .move), and the INSTEAD OF DELETE trigger of main and archive
 * views. Each locks the version family, then the row, then decides; the base-table trigger keeps
 * the heads right.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "lamin_branch.h"

typedef enum MoveAction
{
	MOVE_DELETE,				/* to trash; from trash: for good, if asked */
	MOVE_RESTORE,				/* to main */
	MOVE_ARCHIVE,				/* to archive */
	MOVE_TO						/* to a given branch */
} MoveAction;

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

/*
 * Move one row by key. Runs as the table's owner; the right to call it is EXECUTE on the
 * calling function.
 */
static void
move_row(LaminTable *t, Datum *keyvals, MoveAction action, int32 to, bool permanent_null,
		 bool permanent, MoveResult *res, MemoryContext outcxt)
{
	LaminSavedUser saved;
	Datum		values[INDEX_MAX_KEYS + 1];
	bool		isnull;
	char	   *key_text = lamin_key_text(t, keyvals);
	char	   *uid = NULL;
	char	   *key = NULL;
	int32		branch;
	bool		locked;
	int			rc;
	int32		target = 0;
	bool		purge = false;
	const char *verb = NULL;

	Oid			caller = GetUserId();

	PreventCommandDuringRecovery("moving rows between branches");
	memset(res, 0, sizeof(*res));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lamin_become_owner(t, &saved);

	memcpy(values, keyvals, sizeof(Datum) * t->nkeys);
	/* the family first, then the row: the order every lamin path takes */
	rc = SPI_execute_plan(lamin_table_plan(t, LP_GET_UID), values, NULL, false, 1);
	lamin_spi_check(rc, "looking up the row");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s with %s %s does not exist", t->label,
						t->nkeys == 1 ? t->key_name[0] : "key", key_text),
				 errdetail("No row of table %s has that key on any branch.", t->qualname)));
	uid = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (uid && t->has_heads)
		lamin_lock_family(t, uid);

	rc = SPI_execute_plan(lamin_table_plan(t, LP_LOCK_ROW), values, NULL, false, 1);
	lamin_spi_check(rc, "locking the row");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s with %s %s does not exist", t->label,
						t->nkeys == 1 ? t->key_name[0] : "key", key_text),
				 errdetail("It was deleted by a concurrent transaction.")));
	branch = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	locked = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	uid = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	key = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);

	switch (action)
	{
		case MOVE_DELETE:
			if (!permanent_null && permanent)
				purge = true;
			else if (branch == LAMIN_BRANCH_TRASH)
			{
				if (permanent_null)
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("%s is already in the trash", record_repr(t, key_text, uid, key)),
							 errdetail("Deleting it again removes it for good, which cannot be undone."),
							 errhint("To delete it for good, call it with permanent => true.")));
				/* permanent => false on a trashed row: nothing to do */
			}
			else
				target = LAMIN_BRANCH_TRASH;
			break;
		case MOVE_RESTORE:
			target = LAMIN_BRANCH_MAIN;
			break;
		case MOVE_ARCHIVE:
			if (branch == LAMIN_BRANCH_TRASH)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("%s is in the trash", record_repr(t, key_text, uid, key)),
						 errhint("Restore it first, then archive it.")));
			target = LAMIN_BRANCH_ARCHIVE;
			break;
		case MOVE_TO:
			target = to;
			break;
	}
	if (!purge && (action != MOVE_DELETE || target == LAMIN_BRANCH_TRASH) && target != branch)
		verb = target == LAMIN_BRANCH_TRASH ? "trashed" :
			target == LAMIN_BRANCH_MAIN ? "restored" :
			target == LAMIN_BRANCH_ARCHIVE ? "archived" : "moved";

	if ((verb || purge) && locked)
		lamin_error_locked(t, uid);
	if (verb || purge)
		lamin_check_space(t, values, caller);

	if (lamin_last_promoted)
		pfree(lamin_last_promoted);
	lamin_last_promoted = NULL;

	if (purge)
	{
		rc = SPI_execute_plan(lamin_table_plan(t, LP_PURGE), values, NULL, false, 0);
		lamin_spi_check(rc, "deleting the row");
		res->action = "deleted";
		res->to_null = true;
		ereport(NOTICE,
				(errmsg("permanently deleted %s: %s", t->label, record_repr(t, key_text, uid, key))));
	}
	else if (verb)
	{
		values[t->nkeys] = Int32GetDatum(target);
		rc = SPI_execute_plan(lamin_table_plan(t, LP_SET_BRANCH), values, NULL, false, 0);
		lamin_spi_check(rc, "moving the row");
		res->action = verb;
		res->to_branch = target;
		if (target == LAMIN_BRANCH_TRASH)
			ereport(NOTICE,
					(errmsg("moved %s to trash: %s", t->label, record_repr(t, key_text, uid, key))));
		else
			ereport(NOTICE,
					(errmsg("moved %s from %s to %s: %s", t->label, branch_word(branch),
							branch_word(target), record_repr(t, key_text, uid, key))));
	}
	else
	{
		res->action = "unchanged";
		res->to_branch = branch;
	}
	res->from_branch = branch;
	res->key = MemoryContextStrdup(outcxt, key_text);
	res->uid = uid ? MemoryContextStrdup(outcxt, uid) : NULL;
	res->promoted = lamin_last_promoted ? MemoryContextStrdup(outcxt, lamin_last_promoted) : NULL;

	lamin_restore_user(&saved);
	SPI_finish();
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

/*
 * The branch-enabled table a caller names: the base table, or one of its views. Read from the
 * registry lamin.enabled_table, with the table's main and trash views.
 */
LaminEnabled
lamin_enabled_table(Oid given)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	LaminEnabled e = {InvalidOid, InvalidOid, InvalidOid, InvalidOid};
	bool		isnull;
	int			rc;

	values[0] = ObjectIdGetDatum(given);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args("SELECT relation::pg_catalog.oid, main_view::pg_catalog.oid, trash_view::pg_catalog.oid, "
							   "archive_view::pg_catalog.oid "
							   "FROM lamin.enabled_table "
							   "WHERE $1 OPERATOR(pg_catalog.=) ANY (ARRAY[relation::pg_catalog.oid, "
							   "main_view::pg_catalog.oid, archive_view::pg_catalog.oid, "
							   "trash_view::pg_catalog.oid])",
							   1, argtypes, values, NULL, true, 1);
	lamin_spi_check(rc, "reading lamin.enabled_table");
	if (SPI_processed > 0)
	{
		e.relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		e.main_view = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		e.trash_view = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
		e.archive_view = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	}
	SPI_finish();
	if (!OidIsValid(e.relid))
	{
		char	   *name = get_rel_name(given) ?
			quote_qualified_identifier(get_namespace_name(get_rel_namespace(given)), get_rel_name(given)) :
			psprintf("%u", given);

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table %s is not branch-enabled", name),
				 errhint("Enable it with SELECT lamin.enable('%s');", name)));
	}
	return e;
}

/*
 * Which table a move may touch is a privilege on one of its views, as for a DELETE through
 * them: moving rows out of main (to trash, archive or a user branch) needs DELETE on the main
 * view, bringing them back or deleting them for good needs DELETE on the trash view. What kind
 * of move a role may make at all is EXECUTE on the function. The table's owner may do anything.
 */
void
lamin_check_view_right(LaminEnabled *e, bool on_trash)
{
	Oid			view = on_trash ? e->trash_view : e->main_view;

	if (OidIsValid(view) && pg_class_aclcheck(view, GetUserId(), ACL_DELETE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to move rows of %s", get_rel_name(e->relid)),
				 errdetail("Moving rows %s needs DELETE on view %s.",
						   on_trash ? "back from the trash, or out of it for good," : "out of main",
						   quote_qualified_identifier(get_namespace_name(get_rel_namespace(view)), get_rel_name(view))),
				 errhint("The owner grants it: GRANT DELETE ON %s TO %s;",
						 quote_qualified_identifier(get_namespace_name(get_rel_namespace(view)), get_rel_name(view)),
						 quote_identifier(GetUserNameFromId(GetUserId(), false)))));
}

/*
 * Changing a row in place on a branch other than main is a right on that branch's view: UPDATE
 * on the trash view for a trashed row, on the archive view for an archived one, on the main view
 * for a row of a user branch. No view shows a role rows beyond its grants, but an upsert through
 * the main view meets the row that holds its key whatever its branch, and from PostgreSQL 18 on
 * Postgres no longer refuses to update a conflicting row the view does not show.
 */
void
lamin_check_update_right(LaminEnabled *e, int32 branch)
{
	Oid			view = branch == LAMIN_BRANCH_TRASH ? e->trash_view :
		branch == LAMIN_BRANCH_ARCHIVE ? e->archive_view : e->main_view;
	char	   *vname;

	if (!OidIsValid(view) || pg_class_aclcheck(view, GetUserId(), ACL_UPDATE) == ACLCHECK_OK)
		return;
	vname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(view)), get_rel_name(view));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to change rows of %s in the %s", get_rel_name(e->relid),
					branch == LAMIN_BRANCH_TRASH ? "trash" : branch == LAMIN_BRANCH_ARCHIVE ? "archive" : "branch"),
			 errdetail("Changing a row on branch %d in place needs UPDATE on view %s.", branch, vname),
			 errhint("Restore the row first, or have the owner grant it: GRANT UPDATE ON %s TO %s;",
					 vname, quote_identifier(GetUserNameFromId(GetUserId(), false)))));
}

static Datum
artifact_move(FunctionCallInfo fcinfo, MoveAction action)
{
	LaminTable *t;
	MoveResult	res;
	bool		permanent_null = true;
	bool		permanent = false;
	Datum		key[1];

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("artifact id must not be null")));
	if (action == MOVE_DELETE && PG_NARGS() > 1 && !PG_ARGISNULL(1))
	{
		permanent_null = false;
		permanent = PG_GETARG_BOOL(1);
	}
	t = lamin_table_get(artifact_table_oid());
	{
		LaminEnabled e;
		Oid			nsp = get_namespace_oid("lamin", false);

		e.relid = t->relid;
		e.main_view = get_relname_relid("artifact", nsp);
		e.archive_view = get_relname_relid("artifact_archive", nsp);
		e.trash_view = get_relname_relid("artifact_trash", nsp);
		lamin_check_view_right(&e, action == MOVE_RESTORE || (action == MOVE_DELETE && permanent));
	}
	key[0] = PG_GETARG_DATUM(0);
	move_row(t, key, action, 0, permanent_null, permanent, &res, CurrentMemoryContext);
	return move_result_datum(fcinfo, InvalidOid, PG_GETARG_DATUM(0), &res);
}

PG_FUNCTION_INFO_V1(lamin_artifact_delete);
Datum
lamin_artifact_delete(PG_FUNCTION_ARGS)
{
	return artifact_move(fcinfo, MOVE_DELETE);
}

PG_FUNCTION_INFO_V1(lamin_artifact_restore);
Datum
lamin_artifact_restore(PG_FUNCTION_ARGS)
{
	return artifact_move(fcinfo, MOVE_RESTORE);
}

PG_FUNCTION_INFO_V1(lamin_artifact_archive);
Datum
lamin_artifact_archive(PG_FUNCTION_ARGS)
{
	return artifact_move(fcinfo, MOVE_ARCHIVE);
}

/* A branch by id, checked against the branch catalog of the table. */
int32
lamin_checked_branch(Oid relid, int32 branch)
{
	Oid			argtypes[2] = {OIDOID, INT4OID};
	Datum		values[2];
	char	   *catname = "lamin.branch";
	LaminTable *t = lamin_table_get(relid);
	LaminSavedUser saved;
	int			rc;
	bool		found;

	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int32GetDatum(branch);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* the catalog is read as the table's owner, who references it: callers need no grant on it */
	lamin_become_owner(t, &saved);
	rc = SPI_execute_with_args("SELECT branch_table::pg_catalog.oid FROM lamin.enabled_table "
							   "WHERE relation::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
							   1, argtypes, values, NULL, true, 1);
	lamin_spi_check(rc, "reading lamin.enabled_table");
	if (SPI_processed > 0)
	{
		bool		isnull;
		Oid			cat = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

		catname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(cat)), get_rel_name(cat));
	}
	rc = SPI_execute_with_args(psprintf("SELECT 1 FROM %s WHERE id OPERATOR(pg_catalog.=) $2 AND $1 IS NOT NULL", catname),
							   2, argtypes, values, NULL, true, 1);
	lamin_spi_check(rc, "reading the branch catalog");
	found = SPI_processed > 0;
	lamin_restore_user(&saved);
	SPI_finish();
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("branch %d does not exist", branch),
				 errhint("The branches are listed by: SELECT id, name FROM %s;", catname)));
	return branch;
}

static Datum
generic_move(FunctionCallInfo fcinfo, MoveAction action)
{
	LaminTable *t;
	MoveResult	res;
	LaminEnabled e;
	Oid			relid;
	bool		permanent_null = true;
	bool		permanent = false;
	int32		to = 0;
	Datum		key[INDEX_MAX_KEYS];

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("key must not be null")));
	e = lamin_enabled_table(PG_GETARG_OID(0));
	relid = e.relid;
	if (action == MOVE_DELETE && PG_NARGS() > 2 && !PG_ARGISNULL(2))
	{
		permanent_null = false;
		permanent = PG_GETARG_BOOL(2);
	}
	lamin_check_view_right(&e, action == MOVE_RESTORE || (action == MOVE_DELETE && permanent));
	if (action == MOVE_TO)
	{
		if (PG_ARGISNULL(2))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("branch must not be null")));
		to = lamin_checked_branch(relid, PG_GETARG_INT32(2));
	}
	t = lamin_table_get(relid);
	lamin_key_from_datum(t, PG_GETARG_DATUM(1), get_fn_expr_argtype(fcinfo->flinfo, 1), key);
	move_row(t, key, action, to, permanent_null, permanent, &res, CurrentMemoryContext);
	return move_result_datum(fcinfo, relid, (Datum) 0, &res);
}

PG_FUNCTION_INFO_V1(lamin_delete);
Datum
lamin_delete(PG_FUNCTION_ARGS)
{
	return generic_move(fcinfo, MOVE_DELETE);
}

PG_FUNCTION_INFO_V1(lamin_restore);
Datum
lamin_restore(PG_FUNCTION_ARGS)
{
	return generic_move(fcinfo, MOVE_RESTORE);
}

PG_FUNCTION_INFO_V1(lamin_archive);
Datum
lamin_archive(PG_FUNCTION_ARGS)
{
	return generic_move(fcinfo, MOVE_ARCHIVE);
}

PG_FUNCTION_INFO_V1(lamin_move);
Datum
lamin_move(PG_FUNCTION_ARGS)
{
	return generic_move(fcinfo, MOVE_TO);
}

/*
 * The base table of a view: the one relation its query selects from. Read from the view's rule
 * rather than from a trigger argument, so that renaming the table, or dumping and restoring the
 * database, cannot make it stale. The rule comes from the relcache, so this costs no catalog read.
 */
static Oid
view_base_table(Relation view)
{
	Query	   *q = get_view_query(view);
	RangeTblRef *rtr;
	RangeTblEntry *rte;

	if (q == NULL || list_length(q->jointree->fromlist) != 1 ||
		!IsA(linitial(q->jointree->fromlist), RangeTblRef))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("view \"%s\" does not select from one table", RelationGetRelationName(view)),
				 errhint("lamin.view_delete_trigger() belongs on views made by lamin_branch.")));
	rtr = (RangeTblRef *) linitial(q->jointree->fromlist);
	rte = rt_fetch(rtr->rtindex, q->rtable);
	if (rte->rtekind != RTE_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("view \"%s\" does not select from a table", RelationGetRelationName(view))));
	return rte->relid;
}

/* The view's column with the name of the base table's column base_att. */
static AttrNumber
view_column(Relation view, LaminTable *t, AttrNumber base_att)
{
	TupleDesc	vdesc = RelationGetDescr(view);
	const char *name = t->att_names[base_att - 1];
	int			i;

	for (i = 0; i < vdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(vdesc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->attnum;
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("view \"%s\" has no column \"%s\"", RelationGetRelationName(view), name),
			 errhint("The views of a branch-enabled table show all of its columns; re-create them with lamin.refresh_views().")));
	return InvalidAttrNumber;	/* keep compiler quiet */
}

/*
 * INSTEAD OF DELETE on a main or archive view: move the row to trash if it is still on the
 * view's branch, and return it so that DELETE reports the rows moved. A row another transaction
 * moved away meanwhile is not counted, as a plain DELETE would not count a row deleted meanwhile.
 */
PG_FUNCTION_INFO_V1(lamin_view_delete_trigger);
Datum
lamin_view_delete_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	LaminTable *t;
	TupleDesc	vdesc;
	HeapTuple	oldtup;
	Datum		values[INDEX_MAX_KEYS + 1];
	bool		isnull;
	LaminSavedUser saved;
	Oid			caller;
	int			rc;
	int			i;
	bool		moved;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("lamin.view_delete_trigger() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_INSTEAD(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!TRIGGER_FIRED_BY_DELETE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("lamin.view_delete_trigger() must be fired INSTEAD OF DELETE, FOR EACH ROW")));

	PreventCommandDuringRecovery("moving rows between branches");
	t = lamin_table_get(view_base_table(td->tg_relation));
	vdesc = RelationGetDescr(td->tg_relation);
	oldtup = td->tg_trigtuple;

	/* the view's columns are the table's, by name (attnums differ after a column was dropped) */
	for (i = 0; i < t->nkeys; i++)
		values[i] = heap_getattr(oldtup, view_column(td->tg_relation, t, t->key_att[i]), vdesc, &isnull);
	values[t->nkeys] = heap_getattr(oldtup, view_column(td->tg_relation, t, t->att_branch), vdesc, &isnull);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	caller = GetUserId();
	lamin_become_owner(t, &saved);
	lamin_check_space(t, values, caller);

	/*
	 * The family before the row, as the move functions do. Whether the row is head may have
	 * changed since the statement's snapshot, so the family is locked either way.
	 */
	if (t->has_heads)
	{
		Datum		uid = heap_getattr(oldtup, view_column(td->tg_relation, t, t->att_uid), vdesc, &isnull);

		if (!isnull)
			lamin_lock_family(t, TextDatumGetCString(uid));
	}

	rc = SPI_execute_plan(lamin_table_plan(t, LP_TRASH_FROM), values, NULL, false, 0);
	lamin_spi_check(rc, "moving the row to trash");
	moved = SPI_processed > 0;

	lamin_restore_user(&saved);
	SPI_finish();

	return PointerGetDatum(moved ? oldtup : NULL);
}
