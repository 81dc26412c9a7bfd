/* src/money.h — the exact arithmetic core every money, share and price path of dsx goes
 * through: 128-bit fixed-point integers with overflow checks, a decimal text parser and
 * printer, exact rescaling, rounding half away from zero, and conversion between int128
 * fixed-point values and `numeric` Datums. Plain C on C values, no floating point; the
 * types (split, price) and the operations above them (rating, allocation, schedules) are
 * built on it. */
#ifndef DSX_MONEY_H
#define DSX_MONEY_H

#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/numeric.h"

#ifndef HAVE_INT128
#error "dsx needs a compiler with 128-bit integers"
#endif

/* Largest and smallest int128, and the number of decimal digits every int128 can hold. */
#define DSX_INT128_MAX	((int128) (((uint128) 1 << 127) - 1))
#define DSX_INT128_MIN	(-DSX_INT128_MAX - 1)
#define DSX_MAX_DIGITS	38

/* Outcome of parsing or rescaling a decimal. */
typedef enum DsxDecimalStatus
{
	DSX_DEC_OK = 0,
	DSX_DEC_SYNTAX,				/* not a decimal number */
	DSX_DEC_OVERFLOW,			/* the digits do not fit in an int128 */
	DSX_DEC_PRECISION			/* more decimal places than allowed / representable */
} DsxDecimalStatus;

/* Checked int128 arithmetic: true on overflow, *r then undefined. */
static inline bool
dsx_add128_overflow(int128 a, int128 b, int128 *r)
{
#if defined(HAVE__BUILTIN_OP_OVERFLOW)
	return __builtin_add_overflow(a, b, r);
#else
	if ((b > 0 && a > DSX_INT128_MAX - b) || (b < 0 && a < DSX_INT128_MIN - b))
		return true;
	*r = a + b;
	return false;
#endif
}

static inline bool
dsx_mul128_overflow(int128 a, int128 b, int128 *r)
{
#if defined(HAVE__BUILTIN_OP_OVERFLOW)
	return __builtin_mul_overflow(a, b, r);
#else
	if (a != 0 && b != 0)
	{
		int128		p;

		if (a == -1 && b == DSX_INT128_MIN)
			return true;
		if (b == -1 && a == DSX_INT128_MIN)
			return true;
		p = (int128) ((uint128) a * (uint128) b);
		if (p / b != a)
			return true;
		*r = p;
		return false;
	}
	*r = 0;
	return false;
#endif
}

/* 10^n for 0 <= n <= 38. */
extern int128 dsx_pow10(int n);

/* Raises the standard 22003 error: "<what> out of range", with a detail sentence. */
extern void dsx_overflow_error(const char *what, const char *detail) pg_attribute_noreturn();

/*
 * Parses a decimal number at p: optional sign (only when allow_sign), digits, optional
 * '.' and digits; at least one digit. Trailing zeros of the fraction are dropped, so the
 * result is in lowest terms: value * 10^-scale with scale minimal. *end is set to the
 * first character after the number (also on failure, to where parsing stopped).
 */
extern DsxDecimalStatus dsx_decimal_parse(const char *p, const char **end, bool allow_sign,
										  int128 *value, int *scale);

/* value * 10^-from as an exact multiple of 10^-to: DSX_DEC_PRECISION when digits would be
 * lost (to < from and the dropped digits are not zero), DSX_DEC_OVERFLOW when it does not fit. */
extern DsxDecimalStatus dsx_decimal_rescale(int128 value, int from, int to, int128 *out);

/* Appends value * 10^-scale in plain decimal; trailing zeros of the fraction are trimmed
 * when trim is true, otherwise exactly scale decimal places are printed. */
extern void dsx_decimal_append(StringInfo buf, int128 value, int scale, bool trim);

/* num / den rounded half away from zero; den must be positive. */
extern int128 dsx_div_round_half_away(int128 num, int128 den);

/* num / den truncated toward zero and the remainder; den must be positive. */
static inline int128
dsx_divmod(int128 num, int128 den, int128 *rem)
{
	int128		q = num / den;

	*rem = num - q * den;
	return q;
}

/* The numeric Datum equal to value * 10^-scale, with display scale `scale`
 * (0 <= scale <= 38). Fast path through int64 when the value fits. */
extern Datum dsx_numeric_from_int128(int128 value, int scale);

/* The same, with trailing zeros of the fraction dropped: 2.5000 becomes 2.5. */
extern Datum dsx_numeric_from_int128_trimmed(int128 value, int scale);

/* The exact value of a numeric as value * 10^-scale in lowest terms, or why it has none
 * (DSX_DEC_SYNTAX for NaN and infinities, DSX_DEC_PRECISION beyond 38 decimal places,
 * DSX_DEC_OVERFLOW beyond 38 digits). num may be packed (PG_DETOAST_DATUM_PACKED). */
extern DsxDecimalStatus dsx_numeric_to_decimal(Numeric num, int128 *value, int *scale);

/* The exact value of a numeric as value * 10^-scale in lowest terms; raises 22023 for
 * NaN or infinity and 22003 when it does not fit (what names the quantity). */
extern void dsx_numeric_to_int128(Numeric num, const char *what, int128 *value, int *scale);

#endif							/* DSX_MONEY_H */
