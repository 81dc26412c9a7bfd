/* src/usage.h — the dsx.usage type: a summary of any set of token usage events (how many,
 * input and output tokens, first and last occurrence), and the plain C operations on it. */
#ifndef DSX_USAGE_H
#define DSX_USAGE_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/timestamp.h"

/* Fixed-length, pass-by-reference, 48 bytes; flags is a version word, written as zero. */
typedef struct DsxUsage
{
	int64		events;
	int64		input_tokens;
	int64		output_tokens;
	TimestampTz first_at;
	TimestampTz last_at;
	int32		flags;
	int32		reserved;
} DsxUsage;

#define DatumGetDsxUsageP(X)	((DsxUsage *) DatumGetPointer(X))
#define DsxUsagePGetDatum(X)	PointerGetDatum(X)
#define PG_GETARG_DSXUSAGE_P(n) DatumGetDsxUsageP(PG_GETARG_DATUM(n))
#define PG_RETURN_DSXUSAGE_P(x) return DsxUsagePGetDatum(x)

/* The timestamps a usage may carry, the range its text form writes and reads back: from
 * 0001-01-01 00:00:00 UTC up to, not including, 10000-01-01 00:00:00 UTC (the bounds of
 * dsx.usage_inbox's CHECK on occurred_at). */
#define DSX_USAGE_MIN_TS	INT64CONST(-63082281600000000)
#define DSX_USAGE_END_TS	INT64CONST(252455616000000000)

/* True when ts lies in the range a usage may carry. */
static inline bool
dsx_usage_timestamp_ok(TimestampTz ts)
{
	return ts >= DSX_USAGE_MIN_TS && ts < DSX_USAGE_END_TS;
}

/* Adds b into a, with overflow checks on every count. */
extern void dsx_usage_merge(DsxUsage *a, const DsxUsage *b);

/* Raises an error unless u is a well-formed usage summary. */
extern void dsx_usage_validate(const DsxUsage *u);

#endif							/* DSX_USAGE_H */
