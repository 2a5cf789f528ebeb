# lamin_branch: PGXS build. `make && make install`, then `make installcheck`.
EXTENSION   = lamin_branch
MODULE_big  = lamin_branch
OBJS        = src/lamin_branch.o src/table_info.o src/branch_trigger.o src/move.o src/move_many.o src/planner.o
DATA        = $(wildcard sql/lamin_branch--*.sql)
DOCS        = README.md

# one feature per file, run in this order
REGRESS     = install faq objects uid views planner planner_shapes delete_view versions functions errors leaks enable_refusals enable_names enable_keys enable_disable generic access spaces attacks enable_app enable_lamindb drop_extension planted
REGRESS_OPTS = --inputdir=test --load-extension=lamin_branch --temp-config=test/preload.conf
ISOLATION   = delete_delete delete_restore trash_two_heads delete_update enable_concurrent move_orders restore_unique bulk_overlap serializable heads_snapshot bulk_missing bulk_families
ISOLATION_OPTS = --inputdir=test --load-extension=lamin_branch --temp-config=test/preload.conf

PG_CPPFLAGS = -Werror -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every C file includes the shared header
$(OBJS): src/lamin_branch.h
