/* src/daycount.c — day-count conventions of ISDA 2006 §4.16 on PostgreSQL dates: ACT/360,
 * ACT/365F, ACT/ACT (ISDA), 30/360 (bond basis), 30E/360 (Eurobond basis) and 30U/360
 * (30/360 US with the end-of-February rules). The core returns the year fraction as an
 * exact rational in 64-bit integers so that schedules multiply before they divide; the
 * SQL function dsx.year_fraction() turns it into a numeric. No floating point. */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/numeric.h"

#include "daycount.h"
#include "money.h"

/* Decimal places dsx.year_fraction() keeps when the fraction does not terminate. */
#define YEAR_FRACTION_SCALE 30

/* SQL names, canonical first; looked up case-insensitively. */
static const struct
{
	const char *name;
	DsxDayCount dc;
}			daycount_names[] =
{
	{"ACT/360", DSX_DC_ACT_360},
	{"ACT/365F", DSX_DC_ACT_365F},
	{"ACT/ACT", DSX_DC_ACT_ACT},
	{"30/360", DSX_DC_30_360},
	{"30E/360", DSX_DC_30E_360},
	{"30U/360", DSX_DC_30U_360},
	{"ACT/ACT ISDA", DSX_DC_ACT_ACT},
};

bool
dsx_daycount_lookup(const char *name, DsxDayCount *dc)
{
	for (int i = 0; i < lengthof(daycount_names); i++)
	{
		if (pg_strcasecmp(name, daycount_names[i].name) == 0)
		{
			*dc = daycount_names[i].dc;
			return true;
		}
	}
	return false;
}

DsxDayCount
dsx_daycount_parse(const char *name)
{
	DsxDayCount dc;

	if (!dsx_daycount_lookup(name, &dc))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown day-count convention \"%s\"", name),
				 errhint("Use one of ACT/360, ACT/365F, ACT/ACT, 30/360, 30E/360, 30U/360.")));
	return dc;
}

const char *
dsx_daycount_name(DsxDayCount dc)
{
	for (int i = 0; i < lengthof(daycount_names); i++)
		if (daycount_names[i].dc == dc)
			return daycount_names[i].name;
	elog(ERROR, "unexpected day-count convention %d", (int) dc);
	return NULL;				/* keep compiler quiet */
}

/* True when y-m-d is the last day of February. */
static bool
daycount_last_of_february(int y, int m, int d)
{
	return m == 2 && d == dsx_days_in_month(y, 2);
}

/* Splits a finite date into year, month and day. */
static void
daycount_split(DateADT date, int *y, int *m, int *d)
{
	j2date(date + POSTGRES_EPOCH_JDATE, y, m, d);
}

/* The 30/360-family day count once the day numbers have been adjusted. */
static int64
daycount_thirty(int y1, int m1, int d1, int y2, int m2, int d2)
{
	return (int64) 360 * (y2 - y1) + (int64) 30 * (m2 - m1) + (d2 - d1);
}

/*
 * The fraction from start to end, start <= end, not yet reduced, given both dates and
 * their year, month and day.
 */
static DsxFraction
daycount_forward_parts(DsxDayCount dc, DateADT start, int y1, int m1, int d1,
					   DateADT end, int y2, int m2, int d2)
{
	DsxFraction f;

	switch (dc)
	{
		case DSX_DC_ACT_360:
			f.num = (int64) end - start;
			f.den = 360;
			return f;
		case DSX_DC_ACT_365F:
			f.num = (int64) end - start;
			f.den = 365;
			return f;
		case DSX_DC_ACT_ACT:
			{
				/*
				 * Days falling in a leap year count 1/366, the others 1/365. Whole
				 * years between the first and the last count 1 each, so only the two
				 * partial years need their days: den = 365 * 366.
				 */
				int64		den = 365 * 366;
				int64		b1 = isleap(y1) ? 366 : 365;
				int64		b2 = isleap(y2) ? 366 : 365;

				f.den = den;
				if (y1 == y2)
					f.num = ((int64) end - start) * (den / b1);
				else
				{
					int64		jan1_after = date2j(y1 + 1, 1, 1) - POSTGRES_EPOCH_JDATE;
					int64		jan1_last = date2j(y2, 1, 1) - POSTGRES_EPOCH_JDATE;

					f.num = (jan1_after - start) * (den / b1)
						+ ((int64) y2 - y1 - 1) * den
						+ (end - jan1_last) * (den / b2);
				}
				return f;
			}
		case DSX_DC_30_360:
			/* §4.16(f): D1 = 31 -> 30; D2 = 31 when D1 is 30 or 31 -> 30. */
			if (d1 == 31)
				d1 = 30;
			if (d2 == 31 && d1 == 30)
				d2 = 30;
			break;
		case DSX_DC_30E_360:
			/* §4.16(g): D1 = 31 -> 30; D2 = 31 -> 30. */
			if (d1 == 31)
				d1 = 30;
			if (d2 == 31)
				d2 = 30;
			break;
		case DSX_DC_30U_360:

			/*
			 * 30/360 US, in this order: D1 the last day of February -> 30 (and D2
			 * also the last day of February -> 30); D2 = 31 when D1 >= 30 -> 30;
			 * D1 = 31 -> 30.
			 */
			if (daycount_last_of_february(y1, m1, d1))
			{
				if (daycount_last_of_february(y2, m2, d2))
					d2 = 30;
				d1 = 30;
			}
			if (d2 == 31 && d1 >= 30)
				d2 = 30;
			if (d1 == 31)
				d1 = 30;
			break;
		default:
			elog(ERROR, "unexpected day-count convention %d", (int) dc);
	}
	f.num = daycount_thirty(y1, m1, d1, y2, m2, d2);
	f.den = 360;
	return f;
}

/* The fraction from start to end, start <= end, not yet reduced. */
static DsxFraction
daycount_forward(DsxDayCount dc, DateADT start, DateADT end)
{
	int			y1 = 0,
				m1 = 0,
				d1 = 0,
				y2 = 0,
				m2 = 0,
				d2 = 0;

	/* ACT/360 and ACT/365F count days only: their dates need not be split */
	if (dc != DSX_DC_ACT_360 && dc != DSX_DC_ACT_365F)
	{
		daycount_split(start, &y1, &m1, &d1);
		daycount_split(end, &y2, &m2, &d2);
	}
	return daycount_forward_parts(dc, start, y1, m1, d1, end, y2, m2, d2);
}

/* The fraction from start to end, not yet reduced; minus the one from end to start when
 * start is after end. Both dates finite. */
static DsxFraction
daycount_signed(DsxDayCount dc, DateADT start, DateADT end)
{
	DsxFraction f;

	if (start <= end)
		return daycount_forward(dc, start, end);
	f = daycount_forward(dc, end, start);
	f.num = -f.num;
	return f;
}

DsxFraction
dsx_daycount_fraction_parts(DsxDayCount dc, DateADT start, int y1, int m1, int d1,
							DateADT end, int y2, int m2, int d2)
{
	Assert(start <= end);
	return daycount_forward_parts(dc, start, y1, m1, d1, end, y2, m2, d2);
}

DsxFraction
dsx_daycount_fraction_unreduced(DsxDayCount dc, DateADT start, DateADT end)
{
	if (DATE_NOT_FINITE(start) || DATE_NOT_FINITE(end))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("year fraction of an infinite date"),
				 errdetail("Day counts need finite dates.")));
	return daycount_signed(dc, start, end);
}

DsxFraction
dsx_daycount_fraction(DsxDayCount dc, DateADT start, DateADT end)
{
	DsxFraction f = dsx_daycount_fraction_unreduced(dc, start, end);
	int64		g = dsx_gcd64(f.num < 0 ? -f.num : f.num, f.den);

	if (g > 1)
	{
		f.num /= g;
		f.den /= g;
	}
	return f;
}

/*
 * num/den as a numeric: exact when the decimal expansion terminates within
 * YEAR_FRACTION_SCALE places, else rounded half away from zero at that place; trailing
 * zeros dropped. The whole part and the rounded fraction are built apart: together they
 * need not fit an int128 (|num| reaches 2^31 days times 365 * 366).
 */
static Numeric
daycount_fraction_to_numeric(DsxFraction f)
{
	int128		unit = dsx_pow10(YEAR_FRACTION_SCALE);
	int128		rem;
	int128		whole = dsx_divmod(f.num, f.den, &rem);
	/* |rem| < den <= 365 * 366, so rem * 10^30 stays below 2^127 */
	int128		frac = dsx_div_round_half_away(rem * unit, f.den);
	Datum		result;

	if (frac == unit || frac == -unit)
	{
		whole += frac / unit;	/* rounded up to the next whole number */
		frac = 0;
	}
	result = dsx_numeric_from_int128(whole, 0);
	if (frac != 0)
		result = DirectFunctionCall2(numeric_add, result,
									 dsx_numeric_from_int128_trimmed(frac, YEAR_FRACTION_SCALE));
	return DatumGetNumeric(result);
}

/* dsx.year_fraction(start date, end date, convention text) RETURNS numeric */
PG_FUNCTION_INFO_V1(dsx_year_fraction);
Datum
dsx_year_fraction(PG_FUNCTION_ARGS)
{
	DateADT		start = PG_GETARG_DATEADT(0);
	DateADT		end = PG_GETARG_DATEADT(1);
	char	   *convention = text_to_cstring(PG_GETARG_TEXT_PP(2));
	DsxDayCount dc = dsx_daycount_parse(convention);

	PG_RETURN_NUMERIC(daycount_fraction_to_numeric(dsx_daycount_fraction(dc, start, end)));
}

/*
 * dsx.day_count(start date, end date, convention text) RETURNS bigint: the days the
 * convention counts between the dates (actual days for the ACT conventions, the adjusted
 * 30-day-month count for the 30/360 family), negative when start is after end.
 */
PG_FUNCTION_INFO_V1(dsx_day_count);
Datum
dsx_day_count(PG_FUNCTION_ARGS)
{
	DateADT		start = PG_GETARG_DATEADT(0);
	DateADT		end = PG_GETARG_DATEADT(1);
	char	   *convention = text_to_cstring(PG_GETARG_TEXT_PP(2));
	DsxDayCount dc = dsx_daycount_parse(convention);

	if (DATE_NOT_FINITE(start) || DATE_NOT_FINITE(end))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("day count of an infinite date"),
				 errdetail("Day counts need finite dates.")));
	switch (dc)
	{
		case DSX_DC_ACT_360:
		case DSX_DC_ACT_365F:
		case DSX_DC_ACT_ACT:
			PG_RETURN_INT64((int64) end - start);
		default:
			/* the 30/360 family's adjusted count is its fraction's numerator over 360 */
			PG_RETURN_INT64(daycount_signed(dc, start, end).num);
	}
}
