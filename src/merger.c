/*
 * merger.c: the move log's merger, which keeps lamin.move_inbox merged into lamin.move_record
 * without anybody scheduling lamin.merge_log().
 *
 * Owns:
 *   - the merger's shared state: whether a launcher is serving, and one slot per database whose
 *     moves wrote records into the inbox (its OID and a flag: committed records wait there).
 *   - lamin_branch.merge_naptime: how often the launcher looks at the flags (0 turns it off).
 *   - the launcher, a background worker started with the server when the module is preloaded
 *     (it connects to no database; pg_stat_activity shows it): every merge_naptime it starts,
 *     for each database whose flag is set and that has no merge running, a merge worker.
 *   - the merge worker: connects to one database, runs lamin.merge_log() there once (when the
 *     extension is installed) and exits. Short-lived on purpose: no worker stays connected, so
 *     DROP DATABASE and CREATE DATABASE ... TEMPLATE never wait for one for long.
 *   - what the move log asks of it (move_log.c): lamin_merger_serves(), whether the launcher is
 *     running, so that log_inbox = auto writes into the inbox; lamin_merger_wrote(), called for
 *     each inbox write, so that the database's flag is set when the transaction commits.
 *
 * A flag is set after commit (the records are visible to the merge that follows) and cleared by
 * the launcher before it starts the worker, so a commit during a merge leaves it set for the
 * next round. Records of a transaction prepared with PREPARE TRANSACTION are merged by the first
 * merge of that database after COMMIT PREPARED. The slots are never given back while the server
 * runs; when all are taken, a database without one writes the log directly.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_proc.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "fmgr.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"

#include "compat.h"
#include "lamin_branch.h"

/* databases with a slot; more than this write the log directly */
#define MERGER_SLOTS 128

typedef struct MergerSlot
{
	Oid			dboid;			/* InvalidOid: free; set once, under the mutex */
	pg_atomic_uint32 waiting;	/* records committed into the inbox since the last merge began */
} MergerSlot;

typedef struct MergerShared
{
	slock_t		mutex;			/* taking a slot */
	pg_atomic_uint32 serving;	/* a launcher runs with merge_naptime > 0 */
	MergerSlot	slots[MERGER_SLOTS];
} MergerShared;

/* lamin_branch.merge_naptime, in milliseconds */
static int	merge_naptime = 1000;

static MergerShared *merger = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* this backend's slot: looked for once, NULL when there is none */
static MergerSlot *my_slot = NULL;
static bool my_slot_looked = false;

/* this transaction wrote records into the inbox */
static bool wrote_inbox = false;

static void
merger_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(MergerShared)));
}

static void
merger_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	merger = ShmemInitStruct("lamin_branch merger", sizeof(MergerShared), &found);
	if (!found)
	{
		int			i;

		SpinLockInit(&merger->mutex);
		pg_atomic_init_u32(&merger->serving, 0);
		for (i = 0; i < MERGER_SLOTS; i++)
		{
			merger->slots[i].dboid = InvalidOid;
			pg_atomic_init_u32(&merger->slots[i].waiting, 0);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/* This database's slot, taken the first time it is asked for; NULL if all are taken. */
static MergerSlot *
slot_of_database(void)
{
	int			i;

	if (my_slot_looked)
		return my_slot;
	SpinLockAcquire(&merger->mutex);
	for (i = 0; i < MERGER_SLOTS && my_slot == NULL; i++)
		if (merger->slots[i].dboid == MyDatabaseId)
			my_slot = &merger->slots[i];
	for (i = 0; i < MERGER_SLOTS && my_slot == NULL; i++)
		if (merger->slots[i].dboid == InvalidOid)
		{
			merger->slots[i].dboid = MyDatabaseId;
			my_slot = &merger->slots[i];
		}
	SpinLockRelease(&merger->mutex);
	my_slot_looked = true;
	return my_slot;
}

/* Does a launcher serve this database (log_inbox = auto writes into the inbox)? */
bool
lamin_merger_serves(void)
{
	return merger != NULL && pg_atomic_read_u32(&merger->serving) != 0 &&
		OidIsValid(MyDatabaseId) && slot_of_database() != NULL;
}

/* The running transaction wrote a record into the inbox. */
void
lamin_merger_wrote(void)
{
	wrote_inbox = true;
}

static void
merger_xact_callback(XactEvent event, void *arg)
{
	if (!wrote_inbox)
		return;
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PREPARE)
	{
		if (merger != NULL && OidIsValid(MyDatabaseId) && slot_of_database() != NULL)
			pg_atomic_write_u32(&my_slot->waiting, 1);
		wrote_inbox = false;
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
			 event == XACT_EVENT_PARALLEL_COMMIT)
		wrote_inbox = false;
}

static void
launcher_exit(int code, Datum arg)
{
	pg_atomic_write_u32(&merger->serving, 0);
}

/* Start a merge worker for one database; false when no background worker slot is free. */
static bool
start_merge(Oid dboid, BackgroundWorkerHandle **handle)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "lamin_branch");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "lamin_merge_worker_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "lamin_branch merge of database %u", dboid);
	snprintf(w.bgw_type, BGW_MAXLEN, "lamin_branch merge");
	w.bgw_main_arg = ObjectIdGetDatum(dboid);
	w.bgw_notify_pid = 0;
	return RegisterDynamicBackgroundWorker(&w, handle);
}

PGDLLEXPORT void lamin_merge_launcher_main(Datum arg);
PGDLLEXPORT void lamin_merge_worker_main(Datum arg);

void
lamin_merge_launcher_main(Datum arg)
{
	BackgroundWorkerHandle *running[MERGER_SLOTS];

	memset(running, 0, sizeof(running));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	/* no database: this only makes the launcher visible in pg_stat_activity */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	on_shmem_exit(launcher_exit, (Datum) 0);

	for (;;)
	{
		int			i;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		pg_atomic_write_u32(&merger->serving, merge_naptime > 0 ? 1 : 0);
		for (i = 0; merge_naptime > 0 && i < MERGER_SLOTS; i++)
		{
			MergerSlot *s = &merger->slots[i];
			pid_t		pid;

			if (running[i] != NULL)
			{
				if (GetBackgroundWorkerPid(running[i], &pid) != BGWH_STOPPED)
					continue;	/* its merge still runs: the flag waits for the next round */
				pfree(running[i]);
				running[i] = NULL;
			}
			if (s->dboid == InvalidOid || pg_atomic_read_u32(&s->waiting) == 0)
				continue;
			pg_atomic_write_u32(&s->waiting, 0);
			if (!start_merge(s->dboid, &running[i]))
			{
				/* no worker slot free now: try again next round */
				pg_atomic_write_u32(&s->waiting, 1);
				running[i] = NULL;
			}
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 merge_naptime > 0 ? merge_naptime : 60 * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

void
lamin_merge_worker_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	Oid			func;
	Oid			extension;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "SELECT lamin.merge_log()");

	/*
	 * Only the extension's own function, where the installed version has one: this worker runs as
	 * the bootstrap superuser, and a function of that name anybody could have made is not run.
	 */
	func = LookupFuncName(list_make2(makeString("lamin"), makeString("merge_log")), 0, NULL, true);
	extension = get_extension_oid("lamin_branch", true);
	if (OidIsValid(func) && OidIsValid(extension) &&
		getExtensionOfObject(ProcedureRelationId, func) == extension)
		(void) OidFunctionCall0(func);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}

void
lamin_merger_init(void)
{
	DefineCustomIntVariable("lamin_branch.merge_naptime",
							"How often the merger merges the move log's inbox of each database that wrote to it.",
							"0 turns the merger off; lamin_branch.log_inbox = auto then writes the log directly.",
							&merge_naptime, 1000, 0, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	RegisterXactCallback(merger_xact_callback, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = merger_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = merger_shmem_startup;
	{
		BackgroundWorker w;

		memset(&w, 0, sizeof(w));
		w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		w.bgw_start_time = BgWorkerStart_RecoveryFinished;
		w.bgw_restart_time = 10;
		snprintf(w.bgw_library_name, BGW_MAXLEN, "lamin_branch");
		snprintf(w.bgw_function_name, BGW_MAXLEN, "lamin_merge_launcher_main");
		snprintf(w.bgw_name, BGW_MAXLEN, "lamin_branch merge launcher");
		snprintf(w.bgw_type, BGW_MAXLEN, "lamin_branch merge launcher");
		RegisterBackgroundWorker(&w);
	}
}
