# Makefile — builds the dsx extension with PGXS.
#
#   make && make install      build and install into the cluster pg_config names
#   make installcheck         pg_regress suite (sql/ against expected/) on a running cluster
#
# The README's two commands (scripts/demo.sh, scripts/test.sh) wrap all of this.
#
# Install scripts. dsx--1.0.sql is the released 1.0, frozen. The current version's script,
# dsx--1.1.sql, is assembled from the parts under schema/ in name order, one file per
# concern, each object defined in exactly one part. Parts named *.type.sql and *.tables.sql
# create objects once; every other part is code (functions, triggers, views, policies,
# privileges) written so that running it again replaces what it defines. The update script
# dsx--1.0--1.1.sql is updates/1.0--1.1.sql (what changes in 1.0's tables), the parts of
# objects new in 1.1, then every code part: an update replaces a definition from the same
# file a fresh install reads.

EXTENSION   = dsx
MODULE_big  = dsx
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
DATA        = dsx--1.0.sql
DATA_built  = dsx--1.1.sql dsx--1.0--1.1.sql
PG_CPPFLAGS = -I$(srcdir)/src

PARTS      = $(sort $(wildcard $(srcdir)/schema/*.sql))
ONCE_PARTS = $(filter %.type.sql %.tables.sql,$(PARTS))
CODE_PARTS = $(filter-out $(ONCE_PARTS) %/00-head.sql,$(PARTS))
# objects 1.1 creates once that a 1.0 database does not have: the update creates them too
NEW_IN_1_1 = $(srcdir)/schema/13-usage-span.type.sql $(srcdir)/schema/35-integrity.tables.sql $(srcdir)/schema/36-terms.tables.sql \
             $(srcdir)/schema/37-finance.tables.sql

# pg_regress: one file per feature under sql/, run in name order, with dsx created first.
REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=dsx

EXTRA_CLEAN = results regression.diffs regression.out

.DEFAULT_GOAL := all

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

dsx--1.1.sql: $(PARTS)
	cat $(PARTS) > $@

dsx--1.0--1.1.sql: $(srcdir)/updates/1.0--1.1.sql $(NEW_IN_1_1) $(CODE_PARTS)
	cat $(srcdir)/updates/1.0--1.1.sql $(NEW_IN_1_1) $(CODE_PARTS) > $@
