/* src/compat.h — small shims that keep dsx building on PostgreSQL 15, 16 and 17: the
 * places where the server's internal API moved between those releases. */
#ifndef DSX_COMPAT_H
#define DSX_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 150000
#error "dsx needs PostgreSQL 15 or later"
#endif

#endif							/* DSX_COMPAT_H */
