# lamin_branch: PGXS build. `make && make install`, then `make installcheck`.
EXTENSION   = lamin_branch
EXTVERSION  = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" lamin_branch.control)
MODULE_big  = lamin_branch
OBJS        = src/lamin_branch.o src/cache.o src/rights.o src/heads.o src/row_trigger.o src/move.o src/view_trigger.o src/planner.o src/utility.o src/move_log.o src/branches.o src/held_keys.o src/merger.o
DATA        = $(wildcard sql/lamin_branch--*.sql)
DOCS        = README.md

PG_CONFIG ?= pg_config
PG_MAJOR   := $(shell $(PG_CONFIG) --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')

# one feature per file, run in this order; what only a newer server has, in a file of its own
REGRESS     = install faq objects uid views planner planner_shapes planner_elsewhere delete_view delete_set versions functions errors leaks invalidation enable_refusals enable_names enable_keys enable_disable generic access spaces attacks enable_app enable_lamindb ddl view_meta branch_catalog drop_extension planted move_log move_log_noted log_inbox heads_noted trash empty_trash cascade unique_keys branch_create branch_switch branch_heads branch_merge enable_all held_keys
ifeq ($(shell test $(PG_MAJOR) -ge 17 && echo y),y)
REGRESS    += merge_pg17 subxacts_pg17
endif
ifeq ($(shell test $(PG_MAJOR) -ge 18 && echo y),y)
REGRESS    += planner_pg18
endif
REGRESS_OPTS = --inputdir=test --load-extension=lamin_branch --temp-config=test/preload.conf
ISOLATION   = delete_delete delete_restore trash_two_heads delete_update enable_concurrent move_orders restore_unique bulk_overlap serializable heads_snapshot bulk_missing bulk_families empty_trash_concurrent heads_branches merge_concurrent move_log_concurrent family_first log_inbox_merge
ISOLATION_OPTS = --inputdir=test --load-extension=lamin_branch --temp-config=test/preload.conf

PG_CPPFLAGS = -Werror -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers \
              -DLAMIN_BRANCH_VERSION='"$(EXTVERSION)"'

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every C file includes the shared headers; the version is compiled in
$(OBJS): src/lamin_branch.h src/compat.h lamin_branch.control
