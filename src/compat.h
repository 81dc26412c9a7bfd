/* src/compat.h — small shims that keep dsx building on PostgreSQL 15, 16 and 17: the
 * places where the server's internal API moved between those releases. */
#ifndef DSX_COMPAT_H
#define DSX_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 150000
#error "dsx needs PostgreSQL 15 or later"
#endif

/* ExecInsertIndexTuples gained onlySummarizing in 16: a plain insertion into every index. */
#if PG_VERSION_NUM >= 160000
#define dsx_insert_index_tuples(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL, false)
#else
#define dsx_insert_index_tuples(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL)
#endif

#endif							/* DSX_COMPAT_H */
