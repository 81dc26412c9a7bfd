/* src/split.c — the dsx.split type: a revenue split such as `vendor=30%, partner=70%`,
 * optionally tiered like tax brackets (`...; from 10000000: vendor=20%, partner=80%`).
 * Text input (percentages or fractions, identifiers or double-quoted party names) and
 * binary receive both go through one builder that validates every tier (at least one
 * party, unique names, shares in [0, 100%] adding up to exactly 100%, thresholds rising
 * from 0); canonical text output; the accessors dsx.share, dsx.parties and dsx.tiers;
 * and the plain C largest-remainder allocation that dsx.allocate wraps. Shares are exact
 * int64 counts of 10^-12 of the whole; nothing is ever rounded. */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "split.h"
#include "parse.h"

/* One party's share in a tier, as parsed from text or binary input. */
typedef struct SplitEntryIn
{
	char	   *name;
	int64		share;
} SplitEntryIn;

/* One tier as parsed: its threshold and the range of its entries. */
typedef struct SplitTierIn
{
	int64		from;
	int32		from_scale;
	int32		first;
	int32		nentries;
} SplitTierIn;

/* Raises the 22P02 syntax error for a split literal, naming where it went wrong. */
static void
split_syntax_error(const char *input, const char *at, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type dsx.split: \"%s\"", input),
			 errdetail("Expected %s at \"%s\".", what, *at ? at : "end of input"),
			 errhint("Write party=share pairs such as \"vendor=30%%, partner=70%%\", with tiers after semicolons: \"...; from 10000000: vendor=20%%, partner=80%%\".")));
}

/* Raises the 22023 bad-value error for a split. */
static void
split_value_error(const char *msg, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid dsx.split: %s", msg),
			 detail ? errdetail("%s", detail) : 0));
}

/* True for a byte that may start an unquoted party name. */
static inline bool
ident_start(unsigned char c)
{
	return isalpha(c) || c == '_' || c >= 0x80;
}

/* True for a byte that may continue an unquoted party name. */
static inline bool
ident_cont(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '-' || c == '.' || c == '$' || c >= 0x80;
}

/* True when name must be double-quoted to read back as itself. */
static bool
name_needs_quotes(const char *name)
{
	if (!ident_start((unsigned char) name[0]) || pg_strcasecmp(name, "from") == 0)
		return true;
	for (const char *p = name + 1; *p; p++)
	{
		CHECK_FOR_INTERRUPTS();
		if (!ident_cont((unsigned char) *p))
			return true;
	}
	return false;
}

/* Appends name, double-quoted (with "" for ") when it needs it. */
static void
append_name(StringInfo buf, const char *name)
{
	if (!name_needs_quotes(name))
	{
		appendStringInfoString(buf, name);
		return;
	}
	appendStringInfoChar(buf, '"');
	for (const char *p = name; *p; p++)
	{
		CHECK_FOR_INTERRUPTS();
		if (*p == '"')
			appendStringInfoChar(buf, '"');
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '"');
}

/* Formats a threshold value for messages and output. */
static char *
threshold_text(int64 from, int scale)
{
	StringInfoData buf;

	initStringInfo(&buf);
	dsx_decimal_append(&buf, from, scale, true);
	return buf.data;
}

/* The threshold at scale DSX_SPLIT_THRESHOLD_SCALE, for comparisons. */
static int128
threshold_scaled(int64 from, int scale)
{
	return (int128) from * dsx_pow10(DSX_SPLIT_THRESHOLD_SCALE - scale);
}

/*
 * Validates parsed tiers and entries and builds the varlena: the one place text input and
 * binary receive meet. Every rule of a valid split is checked here.
 */
static DsxSplit *
split_build(const SplitTierIn *tiers, int ntiers, const SplitEntryIn *entries, int nentries)
{
	int		   *party_of = palloc(sizeof(int) * nentries);
	const char **parties = palloc(sizeof(char *) * nentries);
	int			nparties = 0;
	int			names_len = 0;
	Size		size;
	DsxSplit   *s;
	DsxSplitTier *st;
	DsxSplitEntry *se;
	int32	   *offs;
	char	   *names;

	if (ntiers < 1 || ntiers > DSX_SPLIT_MAX_TIERS)
		split_value_error("wrong number of tiers",
						  psprintf("A split has 1 to %d tiers; this one has %d.", DSX_SPLIT_MAX_TIERS, ntiers));
	if (nentries > DSX_SPLIT_MAX_ENTRIES)
		split_value_error("too many shares",
						  psprintf("A split has at most %d party shares over all its tiers.", DSX_SPLIT_MAX_ENTRIES));
	for (int t = 0; t < ntiers; t++)
	{
		const SplitTierIn *tier = &tiers[t];
		int128		sum = 0;

		if (tier->from_scale < 0 || tier->from_scale > DSX_SPLIT_THRESHOLD_SCALE)
			split_value_error(psprintf("tier %d threshold has more than %d decimal places", t + 1, DSX_SPLIT_THRESHOLD_SCALE),
							  NULL);
		if (tier->from < 0)
			split_value_error(psprintf("tier %d threshold %s is negative", t + 1,
									   threshold_text(tier->from, tier->from_scale)), NULL);
		if (t == 0 && tier->from != 0)
			split_value_error("the first tier must start at 0",
							  psprintf("It starts from %s.", threshold_text(tier->from, tier->from_scale)));
		if (t > 0 && threshold_scaled(tier->from, tier->from_scale) <=
			threshold_scaled(tiers[t - 1].from, tiers[t - 1].from_scale))
			split_value_error("tier thresholds must strictly increase",
							  psprintf("Tier %d starts from %s, tier %d from %s.", t + 1,
									   threshold_text(tier->from, tier->from_scale), t,
									   threshold_text(tiers[t - 1].from, tiers[t - 1].from_scale)));
		if (tier->nentries < 1)
			split_value_error(psprintf("tier %d has no party", t + 1), NULL);
		if (tier->first < 0 || tier->first > nentries - tier->nentries ||
			(t == 0 ? tier->first != 0 : tier->first != tiers[t - 1].first + tiers[t - 1].nentries))
			elog(ERROR, "dsx.split tier %d entries out of order", t + 1);
		for (int e = tier->first; e < tier->first + tier->nentries; e++)
		{
			const char *name = entries[e].name;
			int			p;

			if (name[0] == '\0')
				split_value_error(psprintf("tier %d has an empty party name", t + 1), NULL);
			/* names are compared pairwise: up to a million comparisons of long names */
			for (int f = tier->first; f < e; f++)
			{
				CHECK_FOR_INTERRUPTS();
				if (strcmp(entries[f].name, name) == 0)
					split_value_error(psprintf("party \"%s\" appears twice in tier %d", name, t + 1),
									  "Each party has one share per tier.");
			}
			if (entries[e].share < 0 || entries[e].share > DSX_SHARE_ONE)
				split_value_error(psprintf("share of party \"%s\" is outside [0, 100%%]", name), NULL);
			sum += entries[e].share;

			for (p = 0; p < nparties; p++)
			{
				CHECK_FOR_INTERRUPTS();
				if (strcmp(parties[p], name) == 0)
					break;
			}
			if (p == nparties)
			{
				parties[nparties++] = name;
				names_len += strlen(name) + 1;
			}
			party_of[e] = p;
		}
		if (sum != DSX_SHARE_ONE)
		{
			StringInfoData buf;

			initStringInfo(&buf);
			dsx_decimal_append(&buf, sum, DSX_SHARE_SCALE - 2, true);
			split_value_error(psprintf("shares of tier %d add up to %s%%, not 100%%", t + 1, buf.data),
							  "The shares of every tier must add up to exactly 100%.");
		}
	}
	if (nentries != tiers[ntiers - 1].first + tiers[ntiers - 1].nentries)
		elog(ERROR, "dsx.split has entries outside its tiers");

	size = offsetof(DsxSplit, data) + sizeof(DsxSplitTier) * ntiers + sizeof(DsxSplitEntry) * nentries +
		sizeof(int32) * nparties + names_len;
	if (size > MaxAllocSize / 2)
		split_value_error("too large", NULL);
	s = palloc0(size);
	SET_VARSIZE(s, size);
	s->ntiers = ntiers;
	s->nentries = nentries;
	s->nparties = nparties;
	s->names_len = names_len;
	st = DSX_SPLIT_TIERS(s);
	for (int t = 0; t < ntiers; t++)
	{
		st[t].from = tiers[t].from;
		st[t].from_scale = tiers[t].from_scale;
		/* lowest terms, so equal splits have equal bytes and text */
		while (st[t].from_scale > 0 && st[t].from % 10 == 0)
		{
			st[t].from /= 10;
			st[t].from_scale--;
		}
		st[t].first = tiers[t].first;
		st[t].nentries = tiers[t].nentries;
	}
	se = DSX_SPLIT_ENTRIES(s);
	for (int e = 0; e < nentries; e++)
	{
		se[e].share = entries[e].share;
		se[e].party = party_of[e];
	}
	offs = DSX_SPLIT_NAME_OFFS(s);
	names = (char *) (offs + nparties);
	for (int p = 0, off = 0; p < nparties; p++)
	{
		int			len = strlen(parties[p]) + 1;

		offs[p] = off;
		memcpy(names + off, parties[p], len);
		off += len;
	}
	pfree(party_of);
	pfree(parties);
	return s;
}

/* ---------------------------------------------------------------- text I/O */

/* Parses a party name (identifier or double-quoted) at p into *name; returns the
 * position after it. */
static const char *
parse_name(const char *input, const char *p, char **name)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (*p == '"')
	{
		p++;
		for (;;)
		{
			CHECK_FOR_INTERRUPTS();
			if (*p == '\0')
				split_syntax_error(input, p, "a closing double quote");
			if (*p == '"')
			{
				if (p[1] != '"')
					break;
				p++;
			}
			appendStringInfoChar(&buf, *p);
			p++;
		}
		p++;
	}
	else if (ident_start((unsigned char) *p))
	{
		while (ident_cont((unsigned char) *p))
		{
			CHECK_FOR_INTERRUPTS();
			appendStringInfoChar(&buf, *p++);
		}
	}
	else
		split_syntax_error(input, p, "a party name");
	*name = buf.data;
	return p;
}

/* Parses a share (decimal fraction, or decimal followed by %) at p; returns the position
 * after it. */
static const char *
parse_share(const char *input, const char *p, const char *name, int64 *share)
{
	int128		v;
	int			scale;
	const char *end;
	const char *q;
	bool		percent;
	int			max_scale;
	DsxDecimalStatus st;
	int128		r;

	st = dsx_decimal_parse(p, &end, true, &v, &scale);
	if (st == DSX_DEC_SYNTAX)
		split_syntax_error(input, p, "a share (a percentage such as 30% or a fraction such as 0.3)");
	/* an overlong literal stops parsing early: read the rest of its digits, so messages
	 * can quote it whole */
	if (st != DSX_DEC_OK)
		while (isdigit((unsigned char) *end))
		{
			CHECK_FOR_INTERRUPTS();
			end++;
		}
	q = dsx_skip_space(end);
	percent = (*q == '%');
	/* a share ends the entry: anything but ",", ";" or the end is bad syntax, not a bad value */
	q = dsx_skip_space(percent ? q + 1 : q);
	if (*q != ',' && *q != ';' && *q != '\0')
		split_syntax_error(input, q, percent ? "\",\", \";\" or the end of the split" :
						   "\"%\", \",\", \";\" or the end of the split");
	max_scale = percent ? DSX_SHARE_SCALE - 2 : DSX_SHARE_SCALE;
	if (st == DSX_DEC_PRECISION || (st == DSX_DEC_OK && scale > max_scale))
		split_value_error(psprintf("share \"%.*s%s\" of party \"%s\" is too precise", (int) (end - p), p,
								   percent ? "%" : "", name),
						  percent ? "Percentages are exact to 10 decimal places." :
						  "Fractions are exact to 12 decimal places.");
	if (st == DSX_DEC_OVERFLOW || v < 0 ||
		dsx_decimal_rescale(v, scale, max_scale, &r) != DSX_DEC_OK || r > DSX_SHARE_ONE)
		split_value_error(psprintf("share \"%.*s%s\" of party \"%s\" is outside [0, 100%%]", (int) (end - p), p,
								   percent ? "%" : "", name), NULL);
	*share = (int64) r;
	return q;
}

/* Parses a tier threshold (an amount, at most 6 decimal places) at p. */
static const char *
parse_threshold(const char *input, const char *p, int64 *from, int32 *from_scale)
{
	int128		v;
	int			scale;
	const char *end;

	switch (dsx_decimal_parse(p, &end, true, &v, &scale))
	{
		case DSX_DEC_SYNTAX:
			split_syntax_error(input, p, "a tier threshold (an amount)");
			break;
		case DSX_DEC_OVERFLOW:
			dsx_overflow_error("dsx.split threshold", "A threshold has at most 18 significant digits.");
			break;
		case DSX_DEC_PRECISION:
			scale = DSX_SPLIT_THRESHOLD_SCALE + 1;
			break;
		case DSX_DEC_OK:
			break;
	}
	if (scale > DSX_SPLIT_THRESHOLD_SCALE)
		split_value_error(psprintf("threshold \"%.*s\" has more than %d decimal places", (int) (end - p), p,
								   DSX_SPLIT_THRESHOLD_SCALE), NULL);
	if (v < 0)
		split_value_error(psprintf("threshold \"%.*s\" is negative", (int) (end - p), p), NULL);
	if (v > PG_INT64_MAX)
		dsx_overflow_error("dsx.split threshold", "A threshold has at most 18 significant digits.");
	*from = (int64) v;
	*from_scale = scale;
	return end;
}

PG_FUNCTION_INFO_V1(dsx_split_in);
Datum
dsx_split_in(PG_FUNCTION_ARGS)
{
	const char *input = PG_GETARG_CSTRING(0);
	const char *p = input;
	int			tcap = 2,
				ecap = 4,
				ntiers = 0,
				nentries = 0;
	SplitTierIn *tiers = palloc(sizeof(SplitTierIn) * tcap);
	SplitEntryIn *entries = palloc(sizeof(SplitEntryIn) * ecap);

	for (;;)
	{
		SplitTierIn *tier;
		char	   *name;
		const char *start;

		if (ntiers == DSX_SPLIT_MAX_TIERS)
			split_value_error("too many tiers", psprintf("A split has at most %d tiers.", DSX_SPLIT_MAX_TIERS));
		if (ntiers == tcap)
		{
			tcap *= 2;
			tiers = repalloc(tiers, sizeof(SplitTierIn) * tcap);
		}
		tier = &tiers[ntiers++];
		tier->from = 0;
		tier->from_scale = 0;
		tier->first = nentries;
		tier->nentries = 0;

		p = dsx_skip_space(p);
		start = p;
		p = parse_name(input, p, &name);
		/* "from N:" opens a tier: an unquoted from not followed by = */
		if (*start != '"' && pg_strcasecmp(name, "from") == 0 && *dsx_skip_space(p) != '=')
		{
			p = dsx_skip_space(p);
			p = parse_threshold(input, p, &tier->from, &tier->from_scale);
			p = dsx_skip_space(p);
			if (*p != ':')
				split_syntax_error(input, p, "\":\" after the tier threshold");
			p = dsx_skip_space(p + 1);
			p = parse_name(input, p, &name);
		}
		else if (ntiers > 1)
			split_syntax_error(input, start, "\"from\" and the threshold of the tier");

		for (;;)
		{
			if (nentries == DSX_SPLIT_MAX_ENTRIES)
				split_value_error("too many shares",
								  psprintf("A split has at most %d party shares over all its tiers.", DSX_SPLIT_MAX_ENTRIES));
			if (nentries == ecap)
			{
				ecap *= 2;
				entries = repalloc(entries, sizeof(SplitEntryIn) * ecap);
			}
			p = dsx_skip_space(p);
			if (*p != '=')
				split_syntax_error(input, p, "\"=\" after the party name");
			p = dsx_skip_space(p + 1);
			entries[nentries].name = name;
			p = parse_share(input, p, name, &entries[nentries].share);
			nentries++;
			tier->nentries++;
			p = dsx_skip_space(p);
			if (*p != ',')
				break;
			p = dsx_skip_space(p + 1);
			p = parse_name(input, p, &name);
		}
		if (*p == ';')
		{
			p++;
			continue;
		}
		if (*p != '\0')
			split_syntax_error(input, p, "\",\", \";\" or the end of the split");
		break;
	}
	PG_RETURN_DSXSPLIT_P(split_build(tiers, ntiers, entries, nentries));
}

PG_FUNCTION_INFO_V1(dsx_split_out);
Datum
dsx_split_out(PG_FUNCTION_ARGS)
{
	DsxSplit   *s = PG_GETARG_DSXSPLIT_P(0);
	DsxSplitTier *tiers = DSX_SPLIT_TIERS(s);
	DsxSplitEntry *entries = DSX_SPLIT_ENTRIES(s);
	StringInfoData buf;

	initStringInfo(&buf);
	for (int t = 0; t < s->ntiers; t++)
	{
		if (t > 0)
		{
			appendStringInfoString(&buf, "; from ");
			dsx_decimal_append(&buf, tiers[t].from, tiers[t].from_scale, true);
			appendStringInfoString(&buf, ": ");
		}
		for (int e = tiers[t].first; e < tiers[t].first + tiers[t].nentries; e++)
		{
			if (e > tiers[t].first)
				appendStringInfoString(&buf, ", ");
			append_name(&buf, DSX_SPLIT_PARTY(s, entries[e].party));
			appendStringInfoChar(&buf, '=');
			dsx_decimal_append(&buf, entries[e].share, DSX_SHARE_SCALE - 2, true);
			appendStringInfoChar(&buf, '%');
		}
	}
	PG_RETURN_CSTRING(buf.data);
}

/* ---------------------------------------------------------------- binary I/O */

/* Raises the error for a malformed binary split. */
static void
split_binary_error(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid binary dsx.split: %s", what)));
}

/*
 * Binary form: int32 flags (0), int32 tiers; per tier int64 threshold digits, int32
 * threshold scale, int32 entries; per entry int32 name length, the name's bytes, int64
 * share (10^-12 units).
 */
PG_FUNCTION_INFO_V1(dsx_split_recv);
Datum
dsx_split_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		flags,
				ntiers;
	int			nentries = 0;
	SplitTierIn *tiers;
	SplitEntryIn *entries;

	if (buf->len - buf->cursor < 8)
		split_binary_error("too short");
	flags = pq_getmsgint(buf, 4);
	if (flags != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported dsx.split version %d", flags)));
	ntiers = pq_getmsgint(buf, 4);
	/* each tier takes at least 16 bytes and one entry at least 13 */
	if (ntiers < 1 || ntiers > DSX_SPLIT_MAX_TIERS || (buf->len - buf->cursor) / 29 < ntiers)
		split_binary_error("bad tier count");
	tiers = palloc(sizeof(SplitTierIn) * ntiers);
	entries = palloc(sizeof(SplitEntryIn) * DSX_SPLIT_MAX_ENTRIES);
	for (int t = 0; t < ntiers; t++)
	{
		int32		n;

		if (buf->len - buf->cursor < 16)
			split_binary_error("truncated tier");
		tiers[t].from = pq_getmsgint64(buf);
		tiers[t].from_scale = pq_getmsgint(buf, 4);
		n = pq_getmsgint(buf, 4);
		if (n < 1 || n > DSX_SPLIT_MAX_ENTRIES - nentries || (buf->len - buf->cursor) / 13 < n)
			split_binary_error("bad entry count");
		tiers[t].first = nentries;
		tiers[t].nentries = n;
		for (int e = 0; e < n; e++)
		{
			int32		len;
			int			nbytes;

			if (buf->len - buf->cursor < 4)
				split_binary_error("truncated entry");
			len = pq_getmsgint(buf, 4);
			if (len < 1 || len > buf->len - buf->cursor - 8)
				split_binary_error("bad party name length");
			entries[nentries].name = pq_getmsgtext(buf, len, &nbytes);
			if (strlen(entries[nentries].name) != (size_t) nbytes)
				split_binary_error("party name contains a zero byte");
			entries[nentries].share = pq_getmsgint64(buf);
			nentries++;
		}
	}
	if (buf->cursor != buf->len)
		split_binary_error("trailing bytes");
	PG_RETURN_DSXSPLIT_P(split_build(tiers, ntiers, entries, nentries));
}

PG_FUNCTION_INFO_V1(dsx_split_send);
Datum
dsx_split_send(PG_FUNCTION_ARGS)
{
	DsxSplit   *s = PG_GETARG_DSXSPLIT_P(0);
	DsxSplitTier *tiers = DSX_SPLIT_TIERS(s);
	DsxSplitEntry *entries = DSX_SPLIT_ENTRIES(s);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, s->flags);
	pq_sendint32(&buf, s->ntiers);
	for (int t = 0; t < s->ntiers; t++)
	{
		pq_sendint64(&buf, tiers[t].from);
		pq_sendint32(&buf, tiers[t].from_scale);
		pq_sendint32(&buf, tiers[t].nentries);
		for (int e = tiers[t].first; e < tiers[t].first + tiers[t].nentries; e++)
		{
			const char *name = DSX_SPLIT_PARTY(s, entries[e].party);
			int			len = strlen(name);
			char	   *conv = pg_server_to_client(name, len);

			if (conv != name)
				len = strlen(conv);
			pq_sendint32(&buf, len);
			pq_sendbytes(&buf, conv, len);
			pq_sendint64(&buf, entries[e].share);
		}
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---------------------------------------------------------------- equality */

/* True when both splits are the same: same tiers, parties, order and shares. Splits are
 * built in one canonical layout with every padding byte zero, so the bytes decide. */
static bool
split_equal(const DsxSplit *a, const DsxSplit *b)
{
	return VARSIZE(a) == VARSIZE(b) && memcmp(a, b, VARSIZE(a)) == 0;
}

PG_FUNCTION_INFO_V1(dsx_split_eq);
Datum
dsx_split_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(split_equal(PG_GETARG_DSXSPLIT_P(0), PG_GETARG_DSXSPLIT_P(1)));
}

PG_FUNCTION_INFO_V1(dsx_split_ne);
Datum
dsx_split_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!split_equal(PG_GETARG_DSXSPLIT_P(0), PG_GETARG_DSXSPLIT_P(1)));
}

/* Hash support for the = operator (GROUP BY, DISTINCT, hash joins). */
PG_FUNCTION_INFO_V1(dsx_split_hash);
Datum
dsx_split_hash(PG_FUNCTION_ARGS)
{
	DsxSplit   *s = PG_GETARG_DSXSPLIT_P(0);

	return hash_any((const unsigned char *) VARDATA(s), VARSIZE(s) - VARHDRSZ);
}

/* ---------------------------------------------------------------- accessors */

/* dsx.share(s, party): the party's share in the first tier as a fraction (0.3 for 30%),
 * NULL when the first tier does not name it. */
PG_FUNCTION_INFO_V1(dsx_split_share);
Datum
dsx_split_share(PG_FUNCTION_ARGS)
{
	DsxSplit   *s = PG_GETARG_DSXSPLIT_P(0);
	char	   *party = text_to_cstring(PG_GETARG_TEXT_PP(1));
	DsxSplitTier *tiers = DSX_SPLIT_TIERS(s);
	DsxSplitEntry *entries = DSX_SPLIT_ENTRIES(s);

	for (int e = tiers[0].first; e < tiers[0].first + tiers[0].nentries; e++)
		if (strcmp(DSX_SPLIT_PARTY(s, entries[e].party), party) == 0)
			PG_RETURN_DATUM(dsx_numeric_from_int128_trimmed(entries[e].share, DSX_SHARE_SCALE));
	PG_RETURN_NULL();
}

/* dsx.parties(s): every party of every tier, in first-appearance order. */
PG_FUNCTION_INFO_V1(dsx_split_parties);
Datum
dsx_split_parties(PG_FUNCTION_ARGS)
{
	DsxSplit   *s = PG_GETARG_DSXSPLIT_P(0);
	Datum	   *elems = palloc(sizeof(Datum) * s->nparties);

	for (int p = 0; p < s->nparties; p++)
		elems[p] = PointerGetDatum(cstring_to_text(DSX_SPLIT_PARTY(s, p)));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, s->nparties, TEXTOID, -1, false, TYPALIGN_INT));
}

/* dsx.tiers(s): one row per tier and party: tier number, where the tier starts, party,
 * share as a fraction. */
PG_FUNCTION_INFO_V1(dsx_split_tiers);
Datum
dsx_split_tiers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DsxSplit   *s = PG_GETARG_DSXSPLIT_P(0);
	DsxSplitTier *tiers = DSX_SPLIT_TIERS(s);
	DsxSplitEntry *entries = DSX_SPLIT_ENTRIES(s);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	for (int t = 0; t < s->ntiers; t++)
		for (int e = tiers[t].first; e < tiers[t].first + tiers[t].nentries; e++)
		{
			Datum		values[4];
			bool		nulls[4] = {false, false, false, false};

			values[0] = Int32GetDatum(t + 1);
			values[1] = dsx_numeric_from_int128(tiers[t].from, tiers[t].from_scale);
			values[2] = PointerGetDatum(cstring_to_text(DSX_SPLIT_PARTY(s, entries[e].party)));
			values[3] = dsx_numeric_from_int128_trimmed(entries[e].share, DSX_SHARE_SCALE);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	return (Datum) 0;
}

/* ---------------------------------------------------------------- allocation */

/* Ordering of parties for the leftover units: larger remainder first, then listed first. */
static int
remainder_cmp(const void *a, const void *b, void *arg)
{
	const int128 *rem = (const int128 *) arg;
	int			i = *(const int *) a;
	int			j = *(const int *) b;

	if (rem[i] != rem[j])
		return rem[i] > rem[j] ? -1 : 1;
	return (i > j) - (i < j);
}

/* The working scale of an allocation: minor units, or finer when a threshold needs it. */
static int
allocation_scale(const DsxSplit *s, int minor_units)
{
	DsxSplitTier *tiers = DSX_SPLIT_TIERS(s);
	int			scale = minor_units;

	for (int t = 0; t < s->ntiers; t++)
		if (tiers[t].from_scale > scale)
			scale = tiers[t].from_scale;
	return scale;
}

int128
dsx_split_max_amount(const DsxSplit *s, int minor_units)
{
	/* |amount| at the working scale times 10^12 must stay below 10^38 */
	return dsx_pow10(DSX_MAX_DIGITS - DSX_SHARE_SCALE - (allocation_scale(s, minor_units) - minor_units));
}

void
dsx_split_allocate(const DsxSplit *s, int128 amount, int minor_units, int128 *parts)
{
	DsxSplitTier *tiers = DSX_SPLIT_TIERS(s);
	DsxSplitEntry *entries = DSX_SPLIT_ENTRIES(s);
	int			scale = allocation_scale(s, minor_units);
	int128		f = dsx_pow10(scale - minor_units);
	int128		unit = f * DSX_SHARE_ONE;	/* one minor unit in entitlement units */
	bool		negative = amount < 0;
	int128		a = negative ? -amount : amount;
	int128		a_scaled;
	int128		given = 0;
	int128		left;
	int128		rem_local[16];
	int			order_local[16];
	int128	   *rem;
	int		   *order;

	if (amount == DSX_INT128_MIN || a >= dsx_split_max_amount(s, minor_units))
		dsx_overflow_error("amount to allocate", "The amount has too many digits for an exact allocation.");
	a_scaled = a * f;

	/* exact entitlements in 10^-scale * 10^-12 units: sum over tiers of slice * share */
	/* small splits, the usual case, need no palloc */
	if (s->nparties <= lengthof(rem_local))
	{
		rem = rem_local;
		order = order_local;
		memset(rem, 0, sizeof(int128) * s->nparties);
	}
	else
	{
		rem = palloc0(sizeof(int128) * s->nparties);
		order = palloc(sizeof(int) * s->nparties);
	}
	for (int t = 0; t < s->ntiers; t++)
	{
		int128		lo = threshold_scaled(tiers[t].from, tiers[t].from_scale) / dsx_pow10(DSX_SPLIT_THRESHOLD_SCALE - scale);
		int128		hi,
					slice;

		if (a_scaled <= lo)
			break;
		hi = (t + 1 < s->ntiers) ?
			threshold_scaled(tiers[t + 1].from, tiers[t + 1].from_scale) / dsx_pow10(DSX_SPLIT_THRESHOLD_SCALE - scale) :
			a_scaled;
		slice = (hi < a_scaled ? hi : a_scaled) - lo;
		for (int e = tiers[t].first; e < tiers[t].first + tiers[t].nentries; e++)
			rem[entries[e].party] += slice * entries[e].share;
	}

	/* truncate to minor units; the remainders decide who gets the units left over */
	for (int p = 0; p < s->nparties; p++)
	{
		if (rem[p] <= PG_INT64_MAX && unit <= PG_INT64_MAX)
		{
			/* 64-bit division when it fits: several times faster */
			int64		e = (int64) rem[p],
						u = (int64) unit;

			parts[p] = e / u;
			rem[p] = e % u;
		}
		else
			parts[p] = dsx_divmod(rem[p], unit, &rem[p]);
		given += parts[p];
	}
	left = a - given;
	if (left > 0)
	{
		for (int p = 0; p < s->nparties; p++)
			order[p] = p;
		qsort_arg(order, s->nparties, sizeof(int), remainder_cmp, rem);
		if (left > s->nparties)
			elog(ERROR, "dsx.allocate left " INT64_FORMAT " units over", (int64) left);
		for (int i = 0; i < left; i++)
			parts[order[i]]++;
	}
	if (negative)
		for (int p = 0; p < s->nparties; p++)
			parts[p] = -parts[p];
	if (rem != rem_local)
	{
		pfree(rem);
		pfree(order);
	}
}
