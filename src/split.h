/* src/split.h — the dsx.split type: a (possibly tiered) revenue split between named
 * parties, shares held exactly as int64 counts of 10^-12 of the whole, and the plain C
 * largest-remainder allocation over it. Knows nothing of the other dsx types. */
#ifndef DSX_SPLIT_H
#define DSX_SPLIT_H

#include "postgres.h"

#include "fmgr.h"

#include "money.h"

/* A share is an int64 count of 10^-12 of the whole: percentages exact to 10 decimal
 * places, fractions to 12. */
#define DSX_SHARE_SCALE			12
#define DSX_SHARE_ONE			INT64CONST(1000000000000)
/* Tier thresholds are amounts with at most 6 decimal places. */
#define DSX_SPLIT_THRESHOLD_SCALE 6
#define DSX_SPLIT_MAX_TIERS		100
#define DSX_SPLIT_MAX_ENTRIES	1000

typedef struct DsxSplitTier
{
	int64		from;			/* threshold: from * 10^-from_scale, in lowest terms */
	int32		from_scale;
	int32		first;			/* index of the tier's first entry */
	int32		nentries;		/* entries of this tier, in the order written */
	int32		pad;			/* zero */
} DsxSplitTier;

typedef struct DsxSplitEntry
{
	int64		share;			/* 10^-12 of the whole */
	int32		party;			/* index into the parties, first-appearance order */
	int32		pad;			/* zero */
} DsxSplitEntry;

/*
 * Varlena; flags is a version word, written as zero and checked. The data area holds, in
 * order: DsxSplitTier[ntiers], DsxSplitEntry[nentries], int32 name offsets[nparties],
 * then the NUL-terminated party names (names_len bytes).
 */
typedef struct DsxSplit
{
	int32		vl_len_;
	int32		flags;
	int32		ntiers;
	int32		nentries;
	int32		nparties;
	int32		names_len;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} DsxSplit;

#define DSX_SPLIT_TIERS(s)		((DsxSplitTier *) (s)->data)
#define DSX_SPLIT_ENTRIES(s)	((DsxSplitEntry *) ((s)->data + sizeof(DsxSplitTier) * (s)->ntiers))
#define DSX_SPLIT_NAME_OFFS(s)	((int32 *) (DSX_SPLIT_ENTRIES(s) + (s)->nentries))
#define DSX_SPLIT_PARTY(s, i)	((const char *) (DSX_SPLIT_NAME_OFFS(s) + (s)->nparties) + DSX_SPLIT_NAME_OFFS(s)[i])

#define DatumGetDsxSplitP(X)	((DsxSplit *) PG_DETOAST_DATUM(X))
#define DsxSplitPGetDatum(X)	PointerGetDatum(X)
#define PG_GETARG_DSXSPLIT_P(n) DatumGetDsxSplitP(PG_GETARG_DATUM(n))
#define PG_RETURN_DSXSPLIT_P(x) return DsxSplitPGetDatum(x)

/*
 * Largest-remainder allocation of amount (a count of 10^-minor_units units, any sign)
 * over s: parts[] (one per party, first-appearance order) receives each party's exact
 * tiered entitlement truncated toward zero, plus one unit each for the largest
 * remainders, ties to the party listed first; a negative amount is allocated as its
 * absolute value and negated. The parts always add up to amount. 22003 on overflow.
 */
extern void dsx_split_allocate(const DsxSplit *s, int128 amount, int minor_units, int128 *parts);

/* The largest |amount| in minor units dsx_split_allocate accepts for s. */
extern int128 dsx_split_max_amount(const DsxSplit *s, int minor_units);

#endif							/* DSX_SPLIT_H */
