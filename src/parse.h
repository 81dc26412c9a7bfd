/* src/parse.h — the little the types' text parsers share (usage.c, split.c, price.c): it
 * sits below the types, so none of them includes another. */
#ifndef DSX_PARSE_H
#define DSX_PARSE_H

#include <ctype.h>

#include "miscadmin.h"

/* The first character at or after p that is not white space. Every loop of the parsers
 * over a literal's characters checks for interrupts: a literal may be a gigabyte long. */
static inline const char *
dsx_skip_space(const char *p)
{
	while (isspace((unsigned char) *p))
	{
		CHECK_FOR_INTERRUPTS();
		p++;
	}
	return p;
}

#endif							/* DSX_PARSE_H */
