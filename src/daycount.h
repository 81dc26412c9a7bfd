/* src/daycount.h — day-count conventions (ISDA 2006 §4.16): the year fraction between
 * two dates as an exact rational, so that callers multiply before they divide. */
#ifndef DSX_DAYCOUNT_H
#define DSX_DAYCOUNT_H

#include "postgres.h"

#include "utils/date.h"
#include "utils/datetime.h"

/* The conventions dsx knows; the SQL names are in daycount.c. */
typedef enum DsxDayCount
{
	DSX_DC_ACT_360,				/* ACT/360, §4.16(e) */
	DSX_DC_ACT_365F,			/* ACT/365F, §4.16(d) */
	DSX_DC_ACT_ACT,				/* ACT/ACT ISDA, §4.16(b) */
	DSX_DC_30_360,				/* 30/360 bond basis, §4.16(f) */
	DSX_DC_30E_360,				/* 30E/360 Eurobond basis, §4.16(g) */
	DSX_DC_30U_360				/* 30/360 US, with the end-of-February rules */
} DsxDayCount;

/* An exact year fraction num/den in lowest terms; den > 0, num < 0 when start > end. */
typedef struct DsxFraction
{
	int64		num;
	int64		den;
} DsxFraction;

/* Days in month m (1-12) of year y, proleptic Gregorian: PostgreSQL's own table and
 * leap-year rule (isleap), the ones every dsx calendar computation uses. */
static inline int
dsx_days_in_month(int64 y, int m)
{
	return day_tab[isleap(y) ? 1 : 0][m - 1];
}

/* Looks up a convention by its SQL name (case-insensitive); false when unknown. */
extern bool dsx_daycount_lookup(const char *name, DsxDayCount *dc);

/* Like dsx_daycount_lookup, but raises ERROR 22023 naming the unknown convention. */
extern DsxDayCount dsx_daycount_parse(const char *name);

/* The canonical SQL name of a convention. */
extern const char *dsx_daycount_name(DsxDayCount dc);

/*
 * The year fraction from start to end under dc, exact and in lowest terms. When start is
 * after end it is minus the fraction from end to start. Raises 22008 for infinite dates.
 */
extern DsxFraction dsx_daycount_fraction(DsxDayCount dc, DateADT start, DateADT end);

/*
 * The same fraction over the convention's own denominator (360, 365, or 365 × 366 for
 * ACT/ACT), not reduced: for hot loops that only multiply by it.
 */
extern DsxFraction dsx_daycount_fraction_unreduced(DsxDayCount dc, DateADT start,
												   DateADT end);

/*
 * dsx_daycount_fraction_unreduced for start <= end when the caller already knows both
 * dates' year, month and day (a schedule does).
 */
extern DsxFraction dsx_daycount_fraction_parts(DsxDayCount dc, DateADT start, int y1,
											   int m1, int d1, DateADT end, int y2,
											   int m2, int d2);

#endif							/* DSX_DAYCOUNT_H */
