# Makefile — builds the dsx extension with PGXS.
#
#   make && make install      build and install into the cluster pg_config names
#   make installcheck         pg_regress suite (sql/ against expected/) on a running cluster
#
# The README's two commands (scripts/demo.sh, scripts/test.sh) wrap all of this.

EXTENSION   = dsx
MODULE_big  = dsx
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
DATA        = $(wildcard dsx--*.sql)
PG_CPPFLAGS = -I$(srcdir)/src

# pg_regress: one file per feature under sql/, run in name order, with dsx created first.
REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=dsx

EXTRA_CLEAN = results regression.diffs regression.out

.DEFAULT_GOAL := all

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
