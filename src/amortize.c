/* src/amortize.c — loan schedules: dsx.amortize() (annuity, linear and bullet methods,
 * monthly to annual frequencies, grace periods, end-of-month due dates),
 * dsx.amortize_check() and dsx.interest(). The arguments are validated once into a
 * DsxLoan of 64-bit integers (amounts in minor units, the rate as a fraction in lowest
 * terms); each period's interest is then computed exactly, multiplying before the one
 * division that rounds it half away from zero (in 64-bit integers when the products fit,
 * else in 128 bits). The annuity's level payment is the PMT formula evaluated once per
 * schedule in numeric with 40 decimal places. Rows go to the caller's tuplestore with
 * their numerics built in place. No floating point; any overflow is ERROR 22003. */
#include "postgres.h"

#include "common/int.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/numeric.h"

#include "amortize.h"
#include "money.h"

/* Decimal places of the periodic rate and growth factor in the level payment. */
#define LOAN_PMT_SCALE		40
/* Decimal places the annual rate is padded to before it is divided. */
#define LOAN_RATE_SCALE		45
/* Most decimal places an annual rate may have (its numerator must fit an int64). */
#define LOAN_MAX_RATE_SCALE 18
/* A growth factor (1 + i)^n with more digits than this no longer changes the level
 * payment (see loan_level_payment), and the decimal places its lower bound keeps. */
#define LOAN_HUGE_DIGITS	1050
#define LOAN_BOUND_SCALE	20

/* ---------------------------------------------------------------- numeric helpers */

/* a * b, exact. */
static Numeric
loan_num_mul(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_mul, NumericGetDatum(a),
											   NumericGetDatum(b)));
}

/* a + b, exact. */
static Numeric
loan_num_add(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(a),
											   NumericGetDatum(b)));
}

/* a - b, exact. */
static Numeric
loan_num_sub(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_sub, NumericGetDatum(a),
											   NumericGetDatum(b)));
}

/* a / b at numeric's own result scale (at least the larger input scale). */
static Numeric
loan_num_div(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_div, NumericGetDatum(a),
											   NumericGetDatum(b)));
}

/* a / b truncated toward zero to an integer, exact. */
static Numeric
loan_num_div_trunc(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_div_trunc, NumericGetDatum(a),
											   NumericGetDatum(b)));
}

/* a rounded half away from zero to scale decimal places. */
static Numeric
loan_num_round(Numeric a, int scale)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(a),
											   Int32GetDatum(scale)));
}

/* a truncated toward zero to scale decimal places. */
static Numeric
loan_num_trunc(Numeric a, int scale)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_trunc, NumericGetDatum(a),
											   Int32GetDatum(scale)));
}

/* a ^ b. */
static Numeric
loan_num_power(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_power, NumericGetDatum(a),
											   NumericGetDatum(b)));
}

/* -1, 0 or 1 as a is less than, equal to or greater than b. */
static int
loan_num_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a),
											 NumericGetDatum(b)));
}

/* 10^-k with k decimal places, exactly. */
static Numeric
loan_num_unit(int k)
{
	return int64_div_fast_to_numeric(1, k);
}

/* The text of a numeric, for error details. */
static char *
loan_num_text(Numeric a)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(a)));
}

/* Raises 22023 unless a is a finite number; what names the argument. */
static void
loan_check_finite(Numeric a, const char *what)
{
	if (numeric_is_nan(a) || numeric_is_inf(a))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite number", what),
				 errdetail("%s is %s.", what, loan_num_text(a))));
}

/* An integral numeric as an int64; 22003 naming what when it does not fit. */
static int64
loan_num_to_int64(Numeric a, const char *what)
{
	if (loan_num_cmp(a, int64_to_numeric(PG_INT64_MAX)) > 0 ||
		loan_num_cmp(a, int64_to_numeric(PG_INT64_MIN)) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s out of range", what),
				 errdetail("%s is %s, which does not fit in 64 bits.", what, loan_num_text(a))));
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(a)));
}

/* ---------------------------------------------------------------- integer helpers */

/* Raises the overflow error of a schedule. */
static void
loan_overflow(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("amortization schedule amount out of range"),
			 errdetail("An amount of the schedule does not fit in 64 bits of minor units.")));
}

/* n / d rounded half away from zero, d > 0; 22003 when the result leaves int64. */
static int64
loan_div_round(int128 n, int128 d)
{
	int128		q = dsx_div_round_half_away(n, d);

	if (q > PG_INT64_MAX || q < PG_INT64_MIN)
		loan_overflow();
	return (int64) q;
}

/* a * b in 128 bits; 22003 on overflow. */
static int128
loan_mul128(int128 a, int128 b)
{
	int128		r;

	if (dsx_mul128_overflow(a, b, &r))
		loan_overflow();
	return r;
}

/* ---------------------------------------------------------------- the terms */

/* Looks up a method by name (case-insensitive); 22023 when unknown. */
static DsxAmortMethod
loan_parse_method(const char *name)
{
	if (pg_strcasecmp(name, "annuity") == 0)
		return DSX_AMORT_ANNUITY;
	if (pg_strcasecmp(name, "linear") == 0)
		return DSX_AMORT_LINEAR;
	if (pg_strcasecmp(name, "bullet") == 0)
		return DSX_AMORT_BULLET;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown amortization method \"%s\"", name),
			 errhint("Use annuity, linear or bullet.")));
	return DSX_AMORT_ANNUITY;	/* keep compiler quiet */
}

/* Months per period of a frequency (case-insensitive); 22023 when unknown. */
static int32
loan_parse_frequency(const char *name)
{
	if (pg_strcasecmp(name, "monthly") == 0)
		return 1;
	if (pg_strcasecmp(name, "quarterly") == 0)
		return 3;
	if (pg_strcasecmp(name, "semiannual") == 0)
		return 6;
	if (pg_strcasecmp(name, "annual") == 0)
		return 12;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown payment frequency \"%s\"", name),
			 errhint("Use monthly, quarterly, semiannual or annual.")));
	return 0;					/* keep compiler quiet */
}

void
dsx_loan_due(const DsxLoan *loan, int32 k, DsxLoanDate *due)
{
	int64		month = loan->first_month + (int64) (k - 1) * loan->months;
	int64		y = month >= 0 ? month / 12 : -((11 - month) / 12);
	int			m = (int) (month - y * 12) + 1;
	int			d;
	int64		jd;

	if (y < -4713 || y > 5874898)
		goto out_of_range;
	d = dsx_days_in_month(y, m);
	if (!loan->end_of_month && loan->first_day < d)
		d = loan->first_day;
	if (!IS_VALID_JULIAN(y, m, d))
		goto out_of_range;
	jd = (int64) date2j((int) y, m, d) - POSTGRES_EPOCH_JDATE;
	if (!IS_VALID_DATE(jd))
		goto out_of_range;
	due->date = (DateADT) jd;
	due->year = (int) y;
	due->month = m;
	due->day = d;
	return;

out_of_range:
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("due date of period %d out of range", k),
			 errdetail("The schedule runs past the dates PostgreSQL can represent.")));
}

/*
 * True when the growth factor (1 + i)^n is at least 10^LOAN_HUGE_DIGITS, decided on a
 * lower bound of it: square-and-multiply with every product truncated to
 * LOAN_BOUND_SCALE decimal places, stopping as soon as a power passes the limit, so no
 * number grows past twice its digits. Microseconds, where numeric_power on such a factor
 * works for seconds, or minutes, inside one call that no cancel or statement_timeout can
 * stop. (The bound is below the factor by less than one part in 10^10: when it says no,
 * the factor has at most LOAN_HUGE_DIGITS + 1 digits and numeric_power is quick.)
 */
static bool
loan_growth_is_huge(Numeric i, int32 n)
{
	Numeric		limit = loan_num_power(int64_to_numeric(10), int64_to_numeric(LOAN_HUGE_DIGITS));
	Numeric		power = loan_num_trunc(loan_num_add(int64_to_numeric(1), i), LOAN_BOUND_SCALE);
	Numeric		bound = int64_to_numeric(1);

	/* every value is at least 1: a power past the limit takes the bound past it too */
	for (uint32 e = (uint32) n; e != 0; e >>= 1)
	{
		CHECK_FOR_INTERRUPTS();
		if (e & 1)
		{
			bound = loan_num_trunc(loan_num_mul(bound, power), LOAN_BOUND_SCALE);
			if (loan_num_cmp(bound, limit) >= 0)
				return true;
		}
		if (e > 1)
		{
			power = loan_num_trunc(loan_num_mul(power, power), LOAN_BOUND_SCALE);
			if (loan_num_cmp(power, limit) >= 0)
				return true;
		}
	}
	return false;
}

/*
 * The annuity's level payment in minor units: round(P·i / (1 − (1+i)^−n)) computed as
 * round(P·i·f / (f − 1)) with i = round(rate / periods-per-year, 40) and
 * f = round((1 + i)^n, 40), the same numeric operations bench/amortize.sh's PL/pgSQL
 * reference performs. With i accurate to 1e-40 the payment carries well over 30
 * significant digits before its one rounding to minor units.
 */
static int64
loan_level_payment(const DsxLoan *loan, Numeric principal, Numeric annual_rate, int32 n)
{
	Numeric		i,
				f,
				pay;

	if (loan->rate_num == 0)
		return loan_div_round(loan->principal, n);

	i = loan_num_round(loan_num_div(loan_num_round(annual_rate, LOAN_RATE_SCALE),
									int64_to_numeric(12 / loan->months)),
					   LOAN_PMT_SCALE);
	if (loan_growth_is_huge(i, n))
	{
		/*
		 * f >= 10^1050: P·i·f / (f − 1) = P·i + P·i / (f − 1), and P·i < 10^38 (P and
		 * i each below 2^63), so the second term is below 10^-1012, past every digit
		 * numeric_div computes (at most 1,000 decimal places and one base-10000 guard
		 * digit). The quotient above is exactly P·i: the same payment, without f.
		 */
		pay = loan_num_round(loan_num_mul(principal, i), loan->minor_units);
	}
	else
	{
		f = loan_num_round(loan_num_power(loan_num_add(int64_to_numeric(1), i),
										  int64_to_numeric(n)),
						   LOAN_PMT_SCALE);
		if (loan_num_cmp(f, int64_to_numeric(1)) <= 0)
			elog(ERROR, "growth factor of a positive rate is not above 1");
		pay = loan_num_round(loan_num_div(loan_num_mul(loan_num_mul(principal, i), f),
										  loan_num_sub(f, int64_to_numeric(1))),
							 loan->minor_units);
	}
	pay = loan_num_mul(pay, int64_to_numeric(dsx_pow10_64(loan->minor_units)));
	return loan_num_to_int64(pay, "level payment");
}

void
dsx_loan_init(DsxLoan *loan, Numeric principal, Numeric annual_rate, int32 periods,
			  DateADT first_due, const char *method, const char *frequency,
			  const char *day_count, int32 minor_units, int32 grace_periods)
{
	Numeric		zero = int64_to_numeric(0);
	Numeric		scaled;
	int32		rate_scale;
	int64		g;
	int			y,
				m,
				d;

	memset(loan, 0, sizeof(DsxLoan));
	loan->method = loan_parse_method(method);
	loan->months = loan_parse_frequency(frequency);
	loan->day_count = dsx_daycount_parse(day_count);

	dsx_check_minor_units(minor_units);
	loan->minor_units = minor_units;

	if (periods < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("periods must be at least 1"),
				 errdetail("periods is %d.", periods)));
	loan->periods = periods;

	if (grace_periods < 0 || grace_periods >= periods)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("grace_periods must be between 0 and periods - 1"),
				 errdetail("grace_periods is %d and periods is %d.", grace_periods, periods),
				 errhint("At least one period must repay principal.")));
	loan->grace_periods = grace_periods;

	/* principal: finite, not negative, a whole number of minor units */
	loan_check_finite(principal, "principal");
	if (loan_num_cmp(principal, zero) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("principal must not be negative"),
				 errdetail("principal is %s.", loan_num_text(principal))));
	scaled = loan_num_mul(principal, int64_to_numeric(dsx_pow10_64(minor_units)));
	if (loan_num_cmp(scaled, loan_num_trunc(scaled, 0)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("principal is not a whole number of minor units"),
				 errdetail("principal %s has more than %d decimal places.",
						   loan_num_text(principal), minor_units)));
	loan->principal = loan_num_to_int64(scaled, "principal in minor units");

	/* annual rate: finite, not negative, at most 18 decimal places */
	loan_check_finite(annual_rate, "annual_rate");
	if (loan_num_cmp(annual_rate, zero) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("annual_rate must not be negative"),
				 errdetail("annual_rate is %s.", loan_num_text(annual_rate)),
				 errhint("Write the rate as a fraction: 0.08 for 8%%.")));
	rate_scale = DatumGetInt32(DirectFunctionCall1(numeric_min_scale,
												   NumericGetDatum(annual_rate)));
	if (rate_scale > LOAN_MAX_RATE_SCALE)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("annual_rate has too many decimal places"),
				 errdetail("annual_rate %s has %d decimal places; at most %d are supported.",
						   loan_num_text(annual_rate), rate_scale, LOAN_MAX_RATE_SCALE)));
	loan->rate_num = loan_num_to_int64(loan_num_mul(annual_rate,
													int64_to_numeric(dsx_pow10_64(rate_scale))),
									   "annual_rate");
	loan->rate_den = dsx_pow10_64(rate_scale);
	g = dsx_gcd64(loan->rate_num, loan->rate_den);
	loan->rate_num /= g;
	loan->rate_den /= g;

	/* due dates: all of them, period 0 included, must be representable */
	if (DATE_NOT_FINITE(first_due))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("first_due must be a finite date")));
	j2date(first_due + POSTGRES_EPOCH_JDATE, &y, &m, &d);
	loan->first_month = (int64) y * 12 + (m - 1);
	loan->first_day = d;
	loan->end_of_month = (d == dsx_days_in_month(y, m));
	{
		DsxLoanDate edge;

		dsx_loan_due(loan, 0, &edge);
		dsx_loan_due(loan, periods, &edge);
	}

	switch (loan->method)
	{
		case DSX_AMORT_ANNUITY:
			loan->level = loan_level_payment(loan, principal, annual_rate,
											 periods - grace_periods);
			break;
		case DSX_AMORT_LINEAR:
			loan->level = loan_div_round(loan->principal, periods - grace_periods);
			break;
		case DSX_AMORT_BULLET:
			loan->level = 0;
			break;
	}
}

/*
 * round(opening × rate_num × num / (rate_den × den)), half away from zero: in 64-bit
 * integers when the products fit, which is the common case, else in 128 bits.
 */
static int64
loan_interest(const DsxLoan *loan, int64 opening, DsxFraction f)
{
	int64		t,
				n,
				d;

	if (!pg_mul_s64_overflow(opening, loan->rate_num, &t) &&
		!pg_mul_s64_overflow(t, f.num, &n) &&
		!pg_mul_s64_overflow(loan->rate_den, f.den, &d))
		return loan_div_round(n, d);
	return loan_div_round(loan_mul128(loan_mul128(opening, loan->rate_num), f.num),
						  loan_mul128(loan->rate_den, f.den));
}

void
dsx_loan_row(const DsxLoan *loan, int32 k, int64 opening, const DsxLoanDate *previous,
			 const DsxLoanDate *due, DsxLoanRow *row)
{
	/* not reduced to lowest terms: the interest is the same, and cheaper to get */
	DsxFraction f = dsx_daycount_fraction_parts(loan->day_count,
												previous->date, previous->year,
												previous->month, previous->day,
												due->date, due->year, due->month,
												due->day);

	row->period = k;
	row->due = due->date;
	row->opening = opening;
	row->interest = loan_interest(loan, opening, f);
	if (k == loan->periods)
		row->principal = opening;
	else if (k <= loan->grace_periods)
		row->principal = 0;
	else
	{
		switch (loan->method)
		{
			case DSX_AMORT_ANNUITY:
				if (pg_sub_s64_overflow(loan->level, row->interest, &row->principal))
					loan_overflow();
				break;
			case DSX_AMORT_LINEAR:
				row->principal = loan->level;
				break;
			case DSX_AMORT_BULLET:
				row->principal = 0;
				break;
		}
		/* a rounded level can exceed what is left of a tiny loan: never repay past zero */
		if (row->principal > opening)
			row->principal = opening;
	}
	if (pg_add_s64_overflow(row->interest, row->principal, &row->payment) ||
		pg_sub_s64_overflow(opening, row->principal, &row->closing))
		loan_overflow();
}

/*
 * The numeric v × 10^-scale built straight into a column's buffer, without the three
 * allocations of int64_div_fast_to_numeric(): the schedule emits five amounts a row and
 * this is its hot path. dsx_numeric_short_build64() (money.h) writes what numeric.c's
 * make_result() writes; builds with assertions compare every value with
 * int64_div_fast_to_numeric()'s, and the regression tests compare the binary forms with
 * numeric_in's.
 */
static inline void
loan_numeric(DsxShortNumeric *buf, int64 v, int scale)
{
	if (!dsx_numeric_short_build64(buf, v, scale))
		elog(ERROR, "amount " INT64_FORMAT " at scale %d does not fit a short numeric", v, scale);
#ifdef USE_ASSERT_CHECKING
	{
		Numeric		check = int64_div_fast_to_numeric(v, scale);

		Assert(VARSIZE(check) == VARSIZE(buf) && memcmp(check, buf, VARSIZE(buf)) == 0);
		pfree(check);
	}
#endif
}

/* One output column's last numeric, rebuilt only when its amount changes. */
typedef struct LoanAmountColumn
{
	bool		valid;
	int64		value;
	DsxShortNumeric numeric;
} LoanAmountColumn;

/* The numeric of v for column c, reusing the one built last time when v is the same. */
static inline Datum
loan_column_numeric(LoanAmountColumn *c, int64 v, int scale)
{
	if (!c->valid || c->value != v)
	{
		loan_numeric(&c->numeric, v, scale);
		c->value = v;
		c->valid = true;
	}
	return PointerGetDatum(&c->numeric);
}

/*
 * Generates every period of loan into ts (or only checks them when ts is NULL). A level
 * payment, an equal principal or a bullet's interest repeats row after row, and each
 * opening is the previous closing, so most rows build only two or three numerics.
 */
static void
loan_generate(const DsxLoan *loan, Tuplestorestate *ts, TupleDesc td)
{
	DsxLoanDate previous;
	int64		opening = loan->principal;
	int			mu = loan->minor_units;
	LoanAmountColumn columns[5];	/* payment, interest, principal, two balances */
	LoanAmountColumn *open_col = &columns[3];
	LoanAmountColumn *close_col = &columns[4];
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};

	for (int i = 0; i < lengthof(columns); i++)
		columns[i].valid = false;
	dsx_loan_due(loan, 0, &previous);
	for (int32 k = 1; k <= loan->periods; k++)
	{
		DsxLoanRow	row;
		DsxLoanDate due;

		CHECK_FOR_INTERRUPTS();
		dsx_loan_due(loan, k, &due);
		dsx_loan_row(loan, k, opening, &previous, &due, &row);
		if (ts != NULL)
		{
			LoanAmountColumn *swap;

			values[0] = Int32GetDatum(row.period);
			values[1] = DateADTGetDatum(row.due);
			values[2] = loan_column_numeric(open_col, row.opening, mu);
			values[3] = loan_column_numeric(&columns[0], row.payment, mu);
			values[4] = loan_column_numeric(&columns[1], row.interest, mu);
			values[5] = loan_column_numeric(&columns[2], row.principal, mu);
			values[6] = loan_column_numeric(close_col, row.closing, mu);
			tuplestore_putvalues(ts, td, values, nulls);
			/* this closing is the next opening: its numeric is already built */
			swap = open_col;
			open_col = close_col;
			close_col = swap;
		}
		opening = row.closing;
		previous = due;
	}
	if (opening != 0)
		elog(ERROR, "amortization schedule does not close at zero");
}

/* Reads dsx.amortize's nine arguments into loan (the SQL defaults fill the last five). */
static void
loan_from_args(FunctionCallInfo fcinfo, DsxLoan *loan)
{
	dsx_loan_init(loan, PG_GETARG_NUMERIC(0), PG_GETARG_NUMERIC(1), PG_GETARG_INT32(2),
				  PG_GETARG_DATEADT(3), text_to_cstring(PG_GETARG_TEXT_PP(4)),
				  text_to_cstring(PG_GETARG_TEXT_PP(5)),
				  text_to_cstring(PG_GETARG_TEXT_PP(6)), PG_GETARG_INT32(7),
				  PG_GETARG_INT32(8));
}

/*
 * dsx.amortize(principal, annual_rate, periods, first_due, method, frequency, day_count,
 * minor_units, grace_periods) RETURNS TABLE(period, due, opening, payment, interest,
 * principal, closing), in materialize mode.
 */
PG_FUNCTION_INFO_V1(dsx_amortize);
Datum
dsx_amortize(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DsxLoan		loan;

	loan_from_args(fcinfo, &loan);
	/* a function scan passes the row type: no need to build it from the catalogue */
	InitMaterializedSRF(fcinfo, rsinfo != NULL && IsA(rsinfo, ReturnSetInfo) &&
						rsinfo->expectedDesc != NULL ? MAT_SRF_USE_EXPECTED_DESC : 0);
	loan_generate(&loan, rsinfo->setResult, rsinfo->setDesc);
	return (Datum) 0;
}

/*
 * dsx.amortize_check(same arguments as dsx.amortize) RETURNS boolean: true when the
 * schedule can be generated; otherwise raises the error dsx.amortize would. For CHECK
 * constraints.
 */
PG_FUNCTION_INFO_V1(dsx_amortize_check);
Datum
dsx_amortize_check(PG_FUNCTION_ARGS)
{
	DsxLoan		loan;

	loan_from_args(fcinfo, &loan);
	loan_generate(&loan, NULL, NULL);
	PG_RETURN_BOOL(true);
}

/* ---------------------------------------------------------------- dsx.interest */

Numeric
dsx_interest_exact(Numeric amount, Numeric annual_rate, DateADT start, DateADT end,
			 DsxDayCount dc, int32 minor_units)
{
	DsxFraction f;
	Numeric		x,
				den,
				q,
				r2;
	int			sign;

	loan_check_finite(amount, "amount");
	loan_check_finite(annual_rate, "annual_rate");
	dsx_check_minor_units(minor_units);
	f = dsx_daycount_fraction(dc, start, end);

	/* x = amount × rate × num × 10^mu, exact; the result is round(x / den) minor units */
	x = loan_num_mul(loan_num_mul(amount, annual_rate),
					 loan_num_mul(int64_to_numeric(f.num),
								  int64_to_numeric(dsx_pow10_64(minor_units))));
	den = int64_to_numeric(f.den);
	q = loan_num_div_trunc(x, den);
	/* r2 = 2 |x − q·den| compared with den decides the rounding, exactly */
	r2 = loan_num_mul(int64_to_numeric(2), loan_num_sub(x, loan_num_mul(q, den)));
	sign = loan_num_cmp(x, int64_to_numeric(0));
	if (sign < 0)
		r2 = loan_num_mul(r2, int64_to_numeric(-1));
	if (sign != 0 && loan_num_cmp(r2, den) >= 0)
		q = loan_num_add(q, int64_to_numeric(sign));
	return loan_num_mul(q, loan_num_unit(minor_units));
}

/*
 * dsx.interest(amount, annual_rate, start, end, day_count, minor_units) RETURNS numeric:
 * amount × annual_rate × year_fraction(start, end, day_count), rounded once, half away
 * from zero, to minor_units.
 */
PG_FUNCTION_INFO_V1(dsx_interest);
Datum
dsx_interest(PG_FUNCTION_ARGS)
{
	DsxDayCount dc = dsx_daycount_parse(text_to_cstring(PG_GETARG_TEXT_PP(4)));

	PG_RETURN_NUMERIC(dsx_interest_exact(PG_GETARG_NUMERIC(0), PG_GETARG_NUMERIC(1),
								   PG_GETARG_DATEADT(2), PG_GETARG_DATEADT(3), dc,
								   PG_GETARG_INT32(5)));
}
