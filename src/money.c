/* src/money.c — the exact arithmetic core: 128-bit fixed-point values (an int128 count of
 * 10^-scale units), the decimal parser and printer every dsx text format uses, exact
 * rescaling, rounding half away from zero, conversion to and from `numeric`, and the SQL
 * function dsx.round_money. No floating point anywhere; every overflow is an error
 * (SQLSTATE 22003). Reused by the split and price types, rating, allocation and the
 * schedules. */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

#include "money.h"

/* 10^0 to 10^18: every power of ten an int64 holds. */
static const int64 pow10_64[] = {
	INT64CONST(1), INT64CONST(10), INT64CONST(100), INT64CONST(1000), INT64CONST(10000),
	INT64CONST(100000), INT64CONST(1000000), INT64CONST(10000000), INT64CONST(100000000),
	INT64CONST(1000000000), INT64CONST(10000000000), INT64CONST(100000000000),
	INT64CONST(1000000000000), INT64CONST(10000000000000), INT64CONST(100000000000000),
	INT64CONST(1000000000000000), INT64CONST(10000000000000000),
	INT64CONST(100000000000000000), INT64CONST(1000000000000000000)};

/* The rest, up to 10^38, filled from it on first use. */
static int128 pow10_table[DSX_MAX_DIGITS + 1];
static bool pow10_ready = false;

int64
dsx_pow10_64(int n)
{
	if (n < 0 || n >= (int) lengthof(pow10_64))
		elog(ERROR, "dsx_pow10_64: exponent %d out of range", n);
	return pow10_64[n];
}

int128
dsx_pow10(int n)
{
	if (likely(n >= 0 && n < (int) lengthof(pow10_64)))
		return pow10_64[n];
	if (unlikely(!pow10_ready))
	{
		int128		p = pow10_64[lengthof(pow10_64) - 1];

		for (int i = lengthof(pow10_64); i <= DSX_MAX_DIGITS; i++)
		{
			p *= 10;
			pow10_table[i] = p;
		}
		pow10_ready = true;
	}
	if (n < 0 || n > DSX_MAX_DIGITS)
		elog(ERROR, "dsx_pow10: exponent %d out of range", n);
	return pow10_table[n];
}

void
dsx_overflow_error(const char *what, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("%s out of range", what),
			 detail ? errdetail("%s", detail) : 0));
}

void
dsx_check_minor_units(int32 minor_units)
{
	if (minor_units < 0 || minor_units > DSX_MAX_MINOR_UNITS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("minor_units must be between 0 and %d", DSX_MAX_MINOR_UNITS),
				 errdetail("minor_units is %d.", minor_units)));
}

DsxDecimalStatus
dsx_decimal_parse(const char *p, const char **end, bool allow_sign, int128 *value, int *scale)
{
	bool		negative = false;
	bool		any = false;
	int128		v = 0;
	int			sc = 0;
	int			pending = 0;	/* fraction zeros read but not yet multiplied in */

	*end = p;
	if (allow_sign && (*p == '-' || *p == '+'))
	{
		negative = (*p == '-');
		p++;
	}
	/* Accumulated as a negative number, so that the most negative int128 parses too. */
	while (*p >= '0' && *p <= '9')
	{
		CHECK_FOR_INTERRUPTS();	/* leading zeros: as many as the text holds */
		any = true;
		if (dsx_mul128_overflow(v, 10, &v) || dsx_add128_overflow(v, -(int128) (*p - '0'), &v))
		{
			*end = p;
			return DSX_DEC_OVERFLOW;
		}
		p++;
	}
	if (*p == '.')
	{
		p++;
		while (*p >= '0' && *p <= '9')
		{
			CHECK_FOR_INTERRUPTS();	/* zeros of the fraction, likewise */
			any = true;
			if (*p == '0')
				pending++;
			else
			{
				if (sc + pending + 1 > DSX_MAX_DIGITS)
				{
					*end = p;
					return DSX_DEC_PRECISION;
				}
				if (dsx_mul128_overflow(v, dsx_pow10(pending + 1), &v) ||
					dsx_add128_overflow(v, -(int128) (*p - '0'), &v))
				{
					*end = p;
					return DSX_DEC_OVERFLOW;
				}
				sc += pending + 1;
				pending = 0;
			}
			p++;
		}
	}
	*end = p;
	if (!any)
		return DSX_DEC_SYNTAX;
	if (!negative)
	{
		if (v == DSX_INT128_MIN)
			return DSX_DEC_OVERFLOW;
		v = -v;
	}
	/* Lowest terms: drop trailing zeros of the fraction that were multiplied in. */
	while (sc > 0 && v % 10 == 0)
	{
		v /= 10;
		sc--;
	}
	*value = v;
	*scale = sc;
	return DSX_DEC_OK;
}

DsxDecimalStatus
dsx_decimal_rescale(int128 value, int from, int to, int128 *out)
{
	if (from < 0 || from > DSX_MAX_DIGITS || to < 0 || to > DSX_MAX_DIGITS)
		return DSX_DEC_PRECISION;
	if (to >= from)
	{
		if (dsx_mul128_overflow(value, dsx_pow10(to - from), out))
			return DSX_DEC_OVERFLOW;
		return DSX_DEC_OK;
	}
	else
	{
		int128		d = dsx_pow10(from - to);

		if (value % d != 0)
			return DSX_DEC_PRECISION;
		*out = value / d;
		return DSX_DEC_OK;
	}
}

void
dsx_decimal_append(StringInfo buf, int128 value, int scale, bool trim)
{
	char		digits[DSX_MAX_DIGITS + 2];
	int			n = 0;
	uint128		u;

	Assert(scale >= 0 && scale <= DSX_MAX_DIGITS);
	if (value < 0)
	{
		appendStringInfoChar(buf, '-');
		u = (uint128) 0 - (uint128) value;
	}
	else
		u = (uint128) value;
	if (trim)
	{
		while (scale > 0 && u % 10 == 0)
		{
			u /= 10;
			scale--;
		}
	}
	/* digits[] holds the decimal digits least significant first, at least scale + 1. */
	do
	{
		digits[n++] = '0' + (int) (u % 10);
		u /= 10;
	} while (u != 0);
	while (n < scale + 1)
		digits[n++] = '0';
	for (int i = n - 1; i >= 0; i--)
	{
		appendStringInfoChar(buf, digits[i]);
		if (i == scale && scale > 0)
			appendStringInfoChar(buf, '.');
	}
}

/* The 128-bit digit generator; values that fit 64 bits take dsx_numeric_short_build64(),
 * and both leave the layout to dsx_numeric_short_pack() (money.h). */
bool
dsx_numeric_short_build(DsxShortNumeric *buf, int128 value, int scale)
{
	static const int pad_pow[] = {1, 1000, 100, 10};
	uint128		u;
	int16		digits[lengthof(buf->digits)];
	int			n = 0;

	if (value >= PG_INT64_MIN && value <= PG_INT64_MAX)
		return dsx_numeric_short_build64(buf, (int64) value, scale);
	if (scale < 0 || scale > 63)
		return false;
	u = value < 0 ? (uint128) 0 - (uint128) value : (uint128) value;
	if (u > ~(uint128) 0 / 1000)
		return false;			/* the alignment below must not overflow */
	u *= pad_pow[scale % 4];	/* align the point to a whole base-10000 digit */
	for (; u != 0; u /= 10000)
	{
		if (n == lengthof(digits))
			return false;
		digits[n++] = (int16) (u % 10000);
	}
	return dsx_numeric_short_pack(buf, digits, n, value < 0, scale);
}

/* value * 10^-scale as a freshly allocated short-format numeric, or NULL when it does
 * not fit one (the caller then takes the general path). */
static Numeric
numeric_short_from_int128(int128 value, int scale)
{
	DsxShortNumeric buf;
	Numeric		result;

	if (!dsx_numeric_short_build(&buf, value, scale))
		return NULL;
	result = (Numeric) palloc(VARSIZE(&buf));
	memcpy(result, &buf, VARSIZE(&buf));
	return result;
}

Datum
dsx_numeric_from_int128(int128 value, int scale)
{
	StringInfoData buf;
	Datum		result;
	Numeric		fast;

	Assert(scale >= 0 && scale <= DSX_MAX_DIGITS);
	if ((fast = numeric_short_from_int128(value, scale)) != NULL)
		return NumericGetDatum(fast);
	if (value >= PG_INT64_MIN && value <= PG_INT64_MAX)
		return NumericGetDatum(int64_div_fast_to_numeric((int64) value, scale));
	initStringInfo(&buf);
	dsx_decimal_append(&buf, value, scale, false);
	result = DirectFunctionCall3(numeric_in, CStringGetDatum(buf.data),
								 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	pfree(buf.data);
	return result;
}

Datum
dsx_numeric_from_int128_trimmed(int128 value, int scale)
{
	while (scale > 0 && value % 10 == 0)
	{
		value /= 10;
		scale--;
	}
	return dsx_numeric_from_int128(value, scale);
}

/* Reads a numeric of up to 36 digits straight from its on-disk form; false when it is
 * special or larger (the caller then goes through the text form). */
static bool
numeric_read_small(Numeric num, int128 *value, int *scale)
{
	const char *data = VARDATA_ANY(num);
	Size		len = VARSIZE_ANY_EXHDR(num);
	uint16		header;
	int			weight,
				ndigits,
				e;
	bool		negative;
	const char *digits;
	int128		u = 0;

	if (len < sizeof(uint16))
		return false;
	memcpy(&header, data, sizeof(uint16));
	if ((header & 0xC000) == 0xC000)
		return false;			/* NaN, infinities */
	if (header & DSX_NUMERIC_SHORT_FLAG)
	{
		negative = (header & DSX_NUMERIC_SHORT_NEG) != 0;
		weight = (header & DSX_NUMERIC_SHORT_WEIGHT_NEG) ? (int) (header & DSX_NUMERIC_SHORT_WEIGHT_BITS) - 64 :
			(int) (header & DSX_NUMERIC_SHORT_WEIGHT_BITS);
		digits = data + sizeof(uint16);
		ndigits = (len - sizeof(uint16)) / sizeof(int16);
	}
	else
	{
		int16		w;

		if (len < sizeof(uint16) + sizeof(int16))
			return false;
		negative = (header & 0xC000) == 0x4000;
		memcpy(&w, data + sizeof(uint16), sizeof(int16));
		weight = w;
		digits = data + sizeof(uint16) + sizeof(int16);
		ndigits = (len - sizeof(uint16) - sizeof(int16)) / sizeof(int16);
	}
	if (ndigits > 9)
		return false;
	for (int i = 0; i < ndigits; i++)
	{
		int16		d;

		memcpy(&d, digits + i * sizeof(int16), sizeof(int16));
		if (d < 0 || d >= 10000)
			return false;
		u = u * 10000 + d;
	}
	/* u * 10000^e is the value */
	e = weight - (ndigits - 1);
	if (ndigits == 0)
		e = 0;
	if (e >= 0)
	{
		if (e > 9 || dsx_mul128_overflow(u, dsx_pow10(4 * e), &u))
			return false;
		*scale = 0;
	}
	else
	{
		if (e < -9)
			return false;
		*scale = -4 * e;
	}
	while (*scale > 0 && u % 10 == 0)
	{
		u /= 10;
		(*scale)--;
	}
	*value = negative ? -u : u;
	return true;
}

DsxDecimalStatus
dsx_numeric_to_decimal(Numeric num, int128 *value, int *scale)
{
	char	   *text;
	const char *end;
	DsxDecimalStatus st;

	if (numeric_read_small(num, value, scale))
		return DSX_DEC_OK;
	num = (Numeric) PG_DETOAST_DATUM(PointerGetDatum(num));	/* may have come packed */
	if (numeric_is_nan(num) || numeric_is_inf(num))
		return DSX_DEC_SYNTAX;
	text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	st = dsx_decimal_parse(text, &end, true, value, scale);
	if (st == DSX_DEC_OK && *end != '\0')
		st = DSX_DEC_SYNTAX;
	pfree(text);
	return st;
}

void
dsx_numeric_to_int128(Numeric num, const char *what, int128 *value, int *scale)
{
	switch (dsx_numeric_to_decimal(num, value, scale))
	{
		case DSX_DEC_OK:
			return;
		case DSX_DEC_SYNTAX:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be a finite number", what)));
			break;
		case DSX_DEC_OVERFLOW:
		case DSX_DEC_PRECISION:
			dsx_overflow_error(what, "dsx works with at most 38 significant decimal digits.");
			break;
	}
}

/*
 * dsx.round_money(amount numeric, minor_units int): amount rounded half away from zero to
 * minor_units decimal places (0 to 6), with exactly that display scale. Exact int128
 * path; numbers beyond 38 digits go through numeric's own rounding, which also rounds
 * half away from zero.
 */
PG_FUNCTION_INFO_V1(dsx_round_money);
Datum
dsx_round_money(PG_FUNCTION_ARGS)
{
	Numeric		amount = PG_GETARG_NUMERIC(0);
	int32		minor_units = PG_GETARG_INT32(1);
	int128		value;
	int			scale;
	int128		r;

	dsx_check_minor_units(minor_units);
	if (numeric_is_nan(amount) || numeric_is_inf(amount))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must be a finite number")));
	if (dsx_numeric_to_decimal(amount, &value, &scale) == DSX_DEC_OK)
	{
		if (scale > minor_units)
			PG_RETURN_DATUM(dsx_numeric_from_int128(dsx_div_round_half_away(value, dsx_pow10(scale - minor_units)),
													minor_units));
		if (dsx_decimal_rescale(value, scale, minor_units, &r) == DSX_DEC_OK)
			PG_RETURN_DATUM(dsx_numeric_from_int128(r, minor_units));
	}
	PG_RETURN_DATUM(DirectFunctionCall2(numeric_round, NumericGetDatum(amount),
										Int32GetDatum(minor_units)));
}
