/*
 * compat.h: the differences between the PostgreSQL major versions lamin_branch builds on (15 to
 * 18), in one place. Every other file is written against one API and includes this header.
 */
#ifndef LAMIN_COMPAT_H
#define LAMIN_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 150000
#error "lamin_branch needs PostgreSQL 15 or later"
#endif

/*
 * PostgreSQL 16 moved permission checks out of RangeTblEntry into a list of RTEPermissionInfo
 * per query (Query.rteperminfos, RangeTblEntry.perminfoindex), and a view expanded by the
 * rewriter keeps its relid and perminfoindex on its RTE_SUBQUERY entry instead of leaving OLD
 * and NEW entries in the view's query.
 */
#if PG_VERSION_NUM >= 160000
#define LAMIN_HAS_PERMINFO 1
#endif

/* PostgreSQL 18 lets a module name itself and its version in its magic block. */
#if PG_VERSION_NUM >= 180000
#define LAMIN_MODULE_MAGIC(modname, modversion) PG_MODULE_MAGIC_EXT(.name = (modname), .version = (modversion))
#else
#define LAMIN_MODULE_MAGIC(modname, modversion) PG_MODULE_MAGIC
#endif

/*
 * ProcessUtility_hook: the same arguments from 14 to 18 (14 added readOnlyTree); the hook in
 * utility.c names them through these two macros, so that a version that changes them changes
 * only this header.
 */
#define LAMIN_PROCESS_UTILITY_ARGS \
	PlannedStmt *pstmt, const char *queryString, bool readOnlyTree, ProcessUtilityContext context, \
	ParamListInfo params, QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc
#define LAMIN_PROCESS_UTILITY_CALL \
	pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc

/* index_beginscan: 18 added an instrumentation argument */
#if PG_VERSION_NUM >= 180000
#define lamin_index_beginscan(heap, index, snapshot, nkeys) \
	index_beginscan((heap), (index), (snapshot), NULL, (nkeys), 0)
#else
#define lamin_index_beginscan(heap, index, snapshot, nkeys) \
	index_beginscan((heap), (index), (snapshot), (nkeys), 0)
#endif

/* ExecInsertIndexTuples: 16 added onlySummarizing (for HOT updates; false for an insert) */
#if PG_VERSION_NUM >= 160000
#define lamin_insert_index_tuples(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL, false)
#else
#define lamin_insert_index_tuples(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL)
#endif

#endif							/* LAMIN_COMPAT_H */
