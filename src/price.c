/* src/price.c — the dsx.price type: a price per million tokens, flat (`2.5`) or tiered on
 * a volume of tokens (`graduated: 0: 3, 1000000000: 2.5`, `volume: ...`). Text and binary
 * I/O sharing one validator, a canonical text form (trimmed decimals, lower-case kind),
 * and dsx.charge(bigint, dsx.price): the exact, unrounded charge for a number of tokens.
 * Prices are held as int64 counts of 10^-9 per million tokens and charges as int128
 * counts of 10^-15, so no charge can overflow and none is ever rounded here. */
#include "postgres.h"

#include <ctype.h>

#include "common/hashfn.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"

#include "price.h"
#include "parse.h"

static const char *const price_kind_names[] = {"flat", "graduated", "volume"};

/* Raises the 22P02 syntax error for a price literal, naming where it went wrong. */
static void
price_syntax_error(const char *input, const char *at, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type dsx.price: \"%s\"", input),
			 errdetail("Expected %s at \"%s\".", what, *at ? at : "end of input"),
			 errhint("Write a price per million tokens such as 2.5, or tiers such as \"graduated: 0: 3.00, 1000000000: 2.50\" or \"volume: 0: 3.00, 1000000000: 2.50\".")));
}

/* Raises the 22023 bad-value error for a price literal or binary value. */
static void
price_value_error(const char *msg, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid dsx.price: %s", msg),
			 detail ? errdetail("%s", detail) : 0));
}

void
dsx_price_validate(const DsxPrice *p)
{
	if (p->flags != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported dsx.price version %d", p->flags)));
	if (p->kind < DSX_PRICE_FLAT || p->kind > DSX_PRICE_VOLUME)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid dsx.price kind %d", p->kind)));
	if (p->ntiers < 1 || p->ntiers > DSX_PRICE_MAX_TIERS ||
		(p->kind == DSX_PRICE_FLAT && p->ntiers != 1))
		price_value_error("wrong number of tiers",
						  psprintf("A price has 1 to %d tiers, a flat price exactly 1; this one has %d.",
								   DSX_PRICE_MAX_TIERS, p->ntiers));
	if (p->tiers[0].from != 0)
		price_value_error("the first tier must start at 0 tokens",
						  psprintf("It starts at " INT64_FORMAT ".", p->tiers[0].from));
	for (int i = 0; i < p->ntiers; i++)
	{
		if (i > 0 && p->tiers[i].from <= p->tiers[i - 1].from)
			price_value_error("tier thresholds must strictly increase",
							  psprintf("Threshold " INT64_FORMAT " follows " INT64_FORMAT ".",
									   p->tiers[i].from, p->tiers[i - 1].from));
		if (p->tiers[i].nanos < 0)
			price_value_error("a price must not be negative", NULL);
		if (p->tiers[i].nanos >= DSX_PRICE_MAX_NANOS)
			dsx_overflow_error("dsx.price value", "A price must be below 1000000000 per million tokens.");
	}
}

/* Parses one price at p into nanos; returns the position after it. */
static const char *
parse_price_value(const char *input, const char *p, int64 *nanos)
{
	int128		v;
	int			scale;
	const char *end;
	int128		r;

	switch (dsx_decimal_parse(p, &end, true, &v, &scale))
	{
		case DSX_DEC_SYNTAX:
			price_syntax_error(input, p, "a price");
			break;
		case DSX_DEC_OVERFLOW:
			dsx_overflow_error("dsx.price value", "A price must be below 1000000000 per million tokens.");
			break;
		case DSX_DEC_PRECISION:
			scale = DSX_PRICE_SCALE + 1;
			break;
		case DSX_DEC_OK:
			break;
	}
	if (scale > DSX_PRICE_SCALE)
		price_value_error(psprintf("price \"%.*s\" has more than 9 decimal places", (int) (end - p), p),
						  "Prices are exact to 9 decimal places per million tokens.");
	if (v < 0)
		price_value_error(psprintf("price \"%.*s\" is negative", (int) (end - p), p), NULL);
	if (dsx_decimal_rescale(v, scale, DSX_PRICE_SCALE, &r) != DSX_DEC_OK || r >= DSX_PRICE_MAX_NANOS)
		dsx_overflow_error("dsx.price value", "A price must be below 1000000000 per million tokens.");
	*nanos = (int64) r;
	return end;
}

/* Parses one tier threshold (a whole token count) at p; returns the position after it. */
static const char *
parse_threshold(const char *input, const char *p, int64 *from)
{
	int128		v;
	int			scale;
	const char *end;

	switch (dsx_decimal_parse(p, &end, true, &v, &scale))
	{
		case DSX_DEC_SYNTAX:
			price_syntax_error(input, p, "a token threshold");
			break;
		case DSX_DEC_OVERFLOW:
			dsx_overflow_error("dsx.price threshold", "A threshold must fit in a bigint.");
			break;
		case DSX_DEC_PRECISION:
			scale = 1;
			break;
		case DSX_DEC_OK:
			break;
	}
	if (scale > 0)
		price_value_error(psprintf("threshold \"%.*s\" is not a whole number of tokens", (int) (end - p), p), NULL);
	if (v < 0)
		price_value_error(psprintf("threshold \"%.*s\" is negative", (int) (end - p), p), NULL);
	if (v > PG_INT64_MAX)
		dsx_overflow_error("dsx.price threshold", "A threshold must fit in a bigint.");
	*from = (int64) v;
	return end;
}

PG_FUNCTION_INFO_V1(dsx_price_in);
Datum
dsx_price_in(PG_FUNCTION_ARGS)
{
	const char *input = PG_GETARG_CSTRING(0);
	const char *p = dsx_skip_space(input);
	DsxPrice   *price;
	int			kind = DSX_PRICE_FLAT;
	int			cap = 4;
	int			n = 0;
	DsxPriceTier *tiers = palloc(sizeof(DsxPriceTier) * cap);

	if (pg_strncasecmp(p, "graduated", 9) == 0)
	{
		kind = DSX_PRICE_GRADUATED;
		p += 9;
	}
	else if (pg_strncasecmp(p, "volume", 6) == 0)
	{
		kind = DSX_PRICE_VOLUME;
		p += 6;
	}

	if (kind == DSX_PRICE_FLAT)
	{
		tiers[0].from = 0;
		p = parse_price_value(input, p, &tiers[0].nanos);
		n = 1;
	}
	else
	{
		p = dsx_skip_space(p);
		if (*p != ':')
			price_syntax_error(input, p, "\":\" after the kind of tiers");
		for (;;)
		{
			if (n == DSX_PRICE_MAX_TIERS)
				price_value_error("too many tiers", psprintf("A price has at most %d tiers.", DSX_PRICE_MAX_TIERS));
			if (n == cap)
			{
				cap *= 2;
				tiers = repalloc(tiers, sizeof(DsxPriceTier) * cap);
			}
			p = dsx_skip_space(p + 1);	/* past ':' or ',' */
			p = parse_threshold(input, p, &tiers[n].from);
			p = dsx_skip_space(p);
			if (*p != ':')
				price_syntax_error(input, p, "\":\" after a threshold");
			p = dsx_skip_space(p + 1);
			p = parse_price_value(input, p, &tiers[n].nanos);
			n++;
			p = dsx_skip_space(p);
			if (*p != ',')
				break;
		}
	}
	p = dsx_skip_space(p);
	if (*p != '\0')
		price_syntax_error(input, p, kind == DSX_PRICE_FLAT ? "the end of the price" : "\",\" or the end of the tiers");

	price = palloc0(DSX_PRICE_SIZE(n));
	SET_VARSIZE(price, DSX_PRICE_SIZE(n));
	price->kind = kind;
	price->ntiers = n;
	memcpy(price->tiers, tiers, sizeof(DsxPriceTier) * n);
	dsx_price_validate(price);
	PG_RETURN_DSXPRICE_P(price);
}

PG_FUNCTION_INFO_V1(dsx_price_out);
Datum
dsx_price_out(PG_FUNCTION_ARGS)
{
	DsxPrice   *price = PG_GETARG_DSXPRICE_P(0);
	StringInfoData buf;

	initStringInfo(&buf);
	if (price->kind == DSX_PRICE_FLAT)
		dsx_decimal_append(&buf, price->tiers[0].nanos, DSX_PRICE_SCALE, true);
	else
	{
		appendStringInfoString(&buf, price_kind_names[price->kind]);
		appendStringInfoChar(&buf, ':');
		for (int i = 0; i < price->ntiers; i++)
		{
			appendStringInfo(&buf, "%s " INT64_FORMAT ": ", i > 0 ? "," : "", price->tiers[i].from);
			dsx_decimal_append(&buf, price->tiers[i].nanos, DSX_PRICE_SCALE, true);
		}
	}
	PG_RETURN_CSTRING(buf.data);
}

PG_FUNCTION_INFO_V1(dsx_price_recv);
Datum
dsx_price_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	DsxPrice   *price;
	int32		flags,
				kind,
				n;

	if (buf->len - buf->cursor < 12)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary dsx.price: %d bytes is too short", buf->len - buf->cursor)));
	flags = pq_getmsgint(buf, 4);
	kind = pq_getmsgint(buf, 4);
	n = pq_getmsgint(buf, 4);
	if (n < 1 || n > DSX_PRICE_MAX_TIERS || buf->len - buf->cursor != n * 16)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary dsx.price: %d tiers in %d bytes", n, buf->len - buf->cursor)));
	price = palloc0(DSX_PRICE_SIZE(n));
	SET_VARSIZE(price, DSX_PRICE_SIZE(n));
	price->flags = flags;
	price->kind = kind;
	price->ntiers = n;
	for (int i = 0; i < n; i++)
	{
		price->tiers[i].from = pq_getmsgint64(buf);
		price->tiers[i].nanos = pq_getmsgint64(buf);
	}
	dsx_price_validate(price);
	PG_RETURN_DSXPRICE_P(price);
}

PG_FUNCTION_INFO_V1(dsx_price_send);
Datum
dsx_price_send(PG_FUNCTION_ARGS)
{
	DsxPrice   *price = PG_GETARG_DSXPRICE_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, price->flags);
	pq_sendint32(&buf, price->kind);
	pq_sendint32(&buf, price->ntiers);
	for (int i = 0; i < price->ntiers; i++)
	{
		pq_sendint64(&buf, price->tiers[i].from);
		pq_sendint64(&buf, price->tiers[i].nanos);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* True when both prices are the same: kind, thresholds and prices. Prices are built with
 * every padding byte zero, so the bytes decide. */
static bool
price_equal(const DsxPrice *a, const DsxPrice *b)
{
	return VARSIZE(a) == VARSIZE(b) && memcmp(a, b, VARSIZE(a)) == 0;
}

PG_FUNCTION_INFO_V1(dsx_price_eq);
Datum
dsx_price_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(price_equal(PG_GETARG_DSXPRICE_P(0), PG_GETARG_DSXPRICE_P(1)));
}

PG_FUNCTION_INFO_V1(dsx_price_ne);
Datum
dsx_price_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!price_equal(PG_GETARG_DSXPRICE_P(0), PG_GETARG_DSXPRICE_P(1)));
}

/* Hash support for the = operator (GROUP BY, DISTINCT, hash joins). */
PG_FUNCTION_INFO_V1(dsx_price_hash);
Datum
dsx_price_hash(PG_FUNCTION_ARGS)
{
	DsxPrice   *p = PG_GETARG_DSXPRICE_P(0);

	return hash_any((const unsigned char *) VARDATA(p), VARSIZE(p) - VARHDRSZ);
}

int128
dsx_price_charge(const DsxPrice *p, int64 tokens)
{
	int			i;
	int128		total = 0;

	Assert(tokens >= 0);
	switch (p->kind)
	{
		case DSX_PRICE_GRADUATED:
			/* each tier's price on the tokens inside [from_i, from_i+1) */
			for (i = 0; i < p->ntiers && tokens > p->tiers[i].from; i++)
			{
				int64		upto = (i + 1 < p->ntiers && p->tiers[i + 1].from < tokens) ?
					p->tiers[i + 1].from : tokens;

				total += (int128) (upto - p->tiers[i].from) * p->tiers[i].nanos;
			}
			return total;
		case DSX_PRICE_VOLUME:
			/* the last tier the total reaches prices every token */
			for (i = p->ntiers - 1; i > 0 && p->tiers[i].from > tokens; i--)
				;
			return (int128) tokens * p->tiers[i].nanos;
		default:
			return (int128) tokens * p->tiers[0].nanos;
	}
}

/* dsx.charge(tokens bigint, p dsx.price): the exact charge, unrounded, trailing zeros trimmed. */
PG_FUNCTION_INFO_V1(dsx_price_charge_tokens);
Datum
dsx_price_charge_tokens(PG_FUNCTION_ARGS)
{
	int64		tokens = PG_GETARG_INT64(0);
	DsxPrice   *price = PG_GETARG_DSXPRICE_P(1);
	if (tokens < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token count must not be negative"),
				 errdetail("tokens is " INT64_FORMAT ".", tokens)));
	PG_RETURN_DATUM(dsx_numeric_from_int128_trimmed(dsx_price_charge(price, tokens), DSX_CHARGE_SCALE));
}
