/* src/dsx.c — module magic for the dsx shared library: the one place that marks the
 * library as a PostgreSQL extension module and runs its load-time set-up. */
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;
