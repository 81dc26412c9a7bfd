/* src/amortize.h — loan schedules: the validated terms of a loan (dsx.amortize's
 * arguments in exact integer form) and the plain C generator of its periods. */
#ifndef DSX_AMORTIZE_H
#define DSX_AMORTIZE_H

#include "postgres.h"

#include "utils/date.h"
#include "utils/numeric.h"

#include "daycount.h"

typedef enum DsxAmortMethod
{
	DSX_AMORT_ANNUITY,			/* level payment (PMT) */
	DSX_AMORT_LINEAR,			/* equal principal */
	DSX_AMORT_BULLET			/* interest only, all principal at the end */
} DsxAmortMethod;

/* The terms of a loan, validated; amounts in minor units. */
typedef struct DsxLoan
{
	int64		principal;		/* minor units, >= 0 */
	int64		rate_num;		/* annual rate = rate_num / rate_den, lowest terms */
	int64		rate_den;
	int32		periods;		/* >= 1 */
	int32		grace_periods;	/* interest-only periods first, 0 .. periods - 1 */
	int32		months;			/* months per period: 1, 3, 6 or 12 */
	int32		minor_units;	/* 0 .. 6 */
	DsxAmortMethod method;
	DsxDayCount day_count;
	int64		first_month;	/* first_due as year * 12 + month - 1 */
	int32		first_day;		/* day of month of first_due */
	bool		end_of_month;	/* first_due is the last day of its month */
	int64		level;			/* annuity: level payment; linear: principal per period */
} DsxLoan;

/* A due date and its year, month and day. */
typedef struct DsxLoanDate
{
	DateADT		date;
	int			year;
	int			month;
	int			day;
} DsxLoanDate;

/* One period of a schedule; amounts in minor units. */
typedef struct DsxLoanRow
{
	int32		period;
	DateADT		due;
	int64		opening;
	int64		payment;
	int64		interest;
	int64		principal;
	int64		closing;
} DsxLoanRow;

/*
 * Validates dsx.amortize's arguments and fills *loan, level payment included. Raises
 * 22023 for a bad value, 22003 when a number is out of the supported range and 22008
 * when a due date would fall outside PostgreSQL's dates.
 */
extern void dsx_loan_init(DsxLoan *loan, Numeric principal, Numeric annual_rate,
						  int32 periods, DateADT first_due, const char *method,
						  const char *frequency, const char *day_count,
						  int32 minor_units, int32 grace_periods);

/*
 * Due date of period k (1 .. periods); k = 0 is first_due minus one period. Raises 22008
 * when it falls outside PostgreSQL's dates.
 */
extern void dsx_loan_due(const DsxLoan *loan, int32 k, DsxLoanDate *due);

/*
 * Period k of the schedule, given its opening balance and the due dates of periods k - 1
 * and k. Raises 22003 when an amount overflows.
 */
extern void dsx_loan_row(const DsxLoan *loan, int32 k, int64 opening,
						 const DsxLoanDate *previous, const DsxLoanDate *due,
						 DsxLoanRow *row);

/* Interest on amount at annual_rate over [start, end] under dc, rounded once. */
extern Numeric dsx_interest_exact(Numeric amount, Numeric annual_rate, DateADT start,
								  DateADT end, DsxDayCount dc, int32 minor_units);

#endif							/* DSX_AMORTIZE_H */
