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

/* 10^n for 0 <= n <= 18, the powers of ten an int64 holds (the same table). */
extern int64 dsx_pow10_64(int n);

/* Raises the standard 22003 error: "<what> out of range", with a detail sentence. */
extern void dsx_overflow_error(const char *what, const char *detail) pg_attribute_noreturn();

/* The most decimal places a currency's minor unit may have. */
#define DSX_MAX_MINOR_UNITS	6

/* Raises 22023 unless minor_units is one a currency can have (0 to DSX_MAX_MINOR_UNITS). */
extern void dsx_check_minor_units(int32 minor_units);

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

/* Greatest common divisor of two non-negative integers (gcd(0, 0) = 0). */
static inline int64
dsx_gcd64(int64 a, int64 b)
{
	while (b != 0)
	{
		int64		t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* num / den truncated toward zero and the remainder; den must be positive. */
static inline int128
dsx_divmod(int128 num, int128 den, int128 *rem)
{
	int128		q = num / den;

	*rem = num - q * den;
	return q;
}

/*
 * num / den rounded half away from zero; den must be positive. The one rounding rule of
 * dsx: charges, money, interest, level payments and year fractions all round through it.
 * In 64-bit division when both fit (several times faster than 128-bit).
 */
static inline int128
dsx_div_round_half_away(int128 num, int128 den)
{
	int128		rem;
	int128		q;

	Assert(den > 0);
	if (num >= PG_INT64_MIN && num <= PG_INT64_MAX && den <= PG_INT64_MAX)
	{
		int64		n64 = (int64) num,
					d64 = (int64) den,
					q64 = n64 / d64,
					r64 = n64 - q64 * d64;

		if (r64 > 0 && r64 >= d64 - r64)
			q64++;
		else if (r64 < 0 && -r64 >= d64 + r64)
			q64--;
		return q64;
	}
	q = dsx_divmod(num, den, &rem);
	/* |rem| >= den / 2, compared without overflow: |rem| >= den - |rem|. */
	if (rem > 0 && rem >= den - rem)
		q++;
	else if (rem < 0 && -rem >= den + rem)
		q--;
	return q;
}

/* Room for a numeric in the short on-disk format with up to 12 base-10000 digits: all
 * that dsx_numeric_short_build() writes. */
typedef struct DsxShortNumeric
{
	int32		vl_len_;		/* varlena header */
	uint16		header;			/* short flag | sign | display scale | weight */
	int16		digits[12];		/* base-10000 digits, most significant first */
} DsxShortNumeric;

/*
 * numeric's short on-disk format (stable: pg_upgrade keeps numeric data as it is on disk,
 * see numeric.c): a 2-byte header with the sign, the display scale (up to 63) and the
 * weight (-64..63) of the first base-10000 digit, then the digits, most significant first,
 * with no leading or trailing zero digits. The one place dsx knows the layout.
 */
#define DSX_NUMERIC_SHORT_FLAG			0x8000
#define DSX_NUMERIC_SHORT_NEG			0x2000
#define DSX_NUMERIC_SHORT_DSCALE_SHIFT	7
#define DSX_NUMERIC_SHORT_WEIGHT_NEG	0x0040
#define DSX_NUMERIC_SHORT_WEIGHT_BITS	0x003F

/* Packs n base-10000 digits (least significant first, the lowest ceil(scale / 4) of them
 * after the point) into buf as make_result() would; false when the weight does not fit. */
static inline bool
dsx_numeric_short_pack(DsxShortNumeric *buf, const int16 *digits, int n, bool negative, int scale)
{
	int			first = 0,
				weight;
	uint16		header;

	while (n > 0 && digits[n - 1] == 0)
		n--;					/* leading zero digits are not stored */
	while (first < n && digits[first] == 0)
		first++;				/* nor trailing ones */
	weight = n - 1 - (scale + 3) / 4;
	if (first == n)
	{
		weight = 0;				/* zero: no digits, positive */
		negative = false;
	}
	if (weight > 63 || weight < -64 || scale < 0 || scale > 63)
		return false;
	header = DSX_NUMERIC_SHORT_FLAG | (uint16) (scale << DSX_NUMERIC_SHORT_DSCALE_SHIFT);
	if (negative)
		header |= DSX_NUMERIC_SHORT_NEG;
	if (weight < 0)
		header |= DSX_NUMERIC_SHORT_WEIGHT_NEG;
	header |= (uint16) (weight & DSX_NUMERIC_SHORT_WEIGHT_BITS);
	SET_VARSIZE(buf, offsetof(DsxShortNumeric, digits) + sizeof(int16) * (n - first));
	buf->header = header;
	for (int i = n - 1; i >= first; i--)
		buf->digits[n - 1 - i] = digits[i];
	return true;
}

/* v * 10^-scale into buf, in 64-bit arithmetic with constant divisors (the hot path of
 * schedules and ratings); false when it does not fit the short format. */
static inline bool
dsx_numeric_short_build64(DsxShortNumeric *buf, int64 v, int scale)
{
	uint64		a = v < 0 ? (uint64) (-(v + 1)) + 1 : (uint64) v;
	int16		digits[lengthof(buf->digits)];
	int			n = 0;

	if (scale < 0 || scale > 63)
		return false;
	switch (scale % 4)			/* align the point to a whole base-10000 digit */
	{
		case 1:
			digits[n++] = (int16) ((a % 10) * 1000);
			a /= 10;
			break;
		case 2:
			digits[n++] = (int16) ((a % 100) * 100);
			a /= 100;
			break;
		case 3:
			digits[n++] = (int16) ((a % 1000) * 10);
			a /= 1000;
			break;
	}
	for (; a != 0; a /= 10000)
		digits[n++] = (int16) (a % 10000);	/* |v| < 2^63: at most 6 more */
	return dsx_numeric_short_pack(buf, digits, n, v < 0, scale);
}

/* value * 10^-scale into buf, any int128; false when it does not fit the short format. */
extern bool dsx_numeric_short_build(DsxShortNumeric *buf, int128 value, int scale);

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
