/* src/usage.c — the dsx.usage type: text and binary I/O, accessors, the `+` operator, and
 * the transition and combine functions of the aggregates dsx.usage_agg and dsx.rollup.
 * The aggregates' state is dsx.usage itself (not internal), so partial aggregates can be
 * shipped between processes or nodes in the type's exact text or binary form. Merging is
 * associative and commutative: counts add (overflow is an error), first takes the
 * minimum and last the maximum. */
#include "postgres.h"

#include <ctype.h>

#include "common/int.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"

#include "usage.h"
#include "parse.h"

/* Raises the standard overflow error for the named count. */
static void
usage_overflow(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("dsx.usage %s out of range", what),
			 errdetail("The sum does not fit in a bigint.")));
}

/* Raises an error unless ts lies in the range a usage may carry. */
static void
usage_check_timestamp(TimestampTz ts)
{
	if (!dsx_usage_timestamp_ok(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("dsx.usage timestamp out of range"),
				 errdetail("Usage timestamps must lie between 0001-01-01 and 9999-12-31 UTC.")));
}

void
dsx_usage_validate(const DsxUsage *u)
{
	if (u->flags != 0 || u->reserved != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported dsx.usage version %d", u->flags)));
	if (u->events < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dsx.usage must summarise at least one event"),
				 errdetail("events is " INT64_FORMAT ".", u->events)));
	if (u->input_tokens < 0 || u->output_tokens < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dsx.usage token counts must not be negative")));
	usage_check_timestamp(u->first_at);
	usage_check_timestamp(u->last_at);
	if (u->first_at > u->last_at)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dsx.usage first_at is after last_at")));
}

void
dsx_usage_merge(DsxUsage *a, const DsxUsage *b)
{
	if (pg_add_s64_overflow(a->events, b->events, &a->events))
		usage_overflow("events");
	if (pg_add_s64_overflow(a->input_tokens, b->input_tokens, &a->input_tokens))
		usage_overflow("input_tokens");
	if (pg_add_s64_overflow(a->output_tokens, b->output_tokens, &a->output_tokens))
		usage_overflow("output_tokens");
	if (b->first_at < a->first_at)
		a->first_at = b->first_at;
	if (b->last_at > a->last_at)
		a->last_at = b->last_at;
}

/* ---------------------------------------------------------------- text I/O */

/* Raises the syntax error for a usage literal, naming the offending text. */
static void
usage_syntax_error(const char *input, const char *at)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type dsx.usage: \"%s\"", input),
			 errdetail("Unexpected text at \"%s\".", *at ? at : "end of input"),
			 errhint("Write events=N, input_tokens=N, output_tokens=N, first_at=YYYY-MM-DD HH:MM:SS+00, last_at=YYYY-MM-DD HH:MM:SS+00.")));
}

/* Reads exactly n decimal digits into *out; returns the position after them or NULL. */
static const char *
read_digits(const char *p, int n, int *out)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (!isdigit((unsigned char) p[i]))
			return NULL;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return p + n;
}

/* Parses a non-negative bigint; returns the position after it or NULL on bad syntax. */
static const char *
parse_count(const char *p, int64 *out, const char *input)
{
	int64		v = 0;

	if (!isdigit((unsigned char) *p))
		return NULL;
	while (isdigit((unsigned char) *p))
	{
		CHECK_FOR_INTERRUPTS();	/* leading zeros: as many as the text holds */
		if (pg_mul_s64_overflow(v, 10, &v) || pg_add_s64_overflow(v, *p - '0', &v))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value out of range for type dsx.usage: \"%s\"", input),
					 errdetail("A count does not fit in a bigint.")));
		p++;
	}
	*out = v;
	return p;
}

/*
 * Parses an ISO 8601 timestamp with an explicit zone: YYYY-MM-DD[ T]HH:MM:SS[.ffffff]
 * followed by Z or +HH[:MM] / -HH[:MM]. Independent of DateStyle and TimeZone, so the
 * text form is exact across sessions and nodes. Returns the position after it or NULL.
 */
static const char *
parse_timestamp(const char *p, TimestampTz *out)
{
	struct pg_tm tm;
	int			usec = 0,
				tzh = 0,
				tzm = 0,
				sign = 1,
				jd,
				y,
				m,
				d;
	Timestamp	ts;

	memset(&tm, 0, sizeof(tm));
	if (!(p = read_digits(p, 4, &tm.tm_year)) || *p++ != '-' ||
		!(p = read_digits(p, 2, &tm.tm_mon)) || *p++ != '-' ||
		!(p = read_digits(p, 2, &tm.tm_mday)) || (*p != ' ' && *p != 'T'))
		return NULL;
	p++;
	if (!(p = read_digits(p, 2, &tm.tm_hour)) || *p++ != ':' ||
		!(p = read_digits(p, 2, &tm.tm_min)) || *p++ != ':' ||
		!(p = read_digits(p, 2, &tm.tm_sec)))
		return NULL;
	if (*p == '.')
	{
		int			n = 0;

		p++;
		if (!isdigit((unsigned char) *p))
			return NULL;
		for (; isdigit((unsigned char) *p); p++, n++)
		{
			if (n >= 6)
				return NULL;	/* more precision than a timestamp holds */
			usec = usec * 10 + (*p - '0');
		}
		for (; n < 6; n++)
			usec *= 10;
	}
	if (*p == 'Z')
		p++;
	else if (*p == '+' || *p == '-')
	{
		sign = (*p == '-') ? -1 : 1;
		if (!(p = read_digits(p + 1, 2, &tzh)))
			return NULL;
		if (*p == ':' && !(p = read_digits(p + 1, 2, &tzm)))
			return NULL;
	}
	else
		return NULL;

	/* Reject impossible fields: a date must survive the round trip through its day. */
	if (tm.tm_year < 1 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
		tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59 || tzh > 15 || tzm > 59)
		return NULL;
	jd = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday);
	j2date(jd, &y, &m, &d);
	if (y != tm.tm_year || m != tm.tm_mon || d != tm.tm_mday)
		return NULL;
	if (tm2timestamp(&tm, usec, NULL, &ts) != 0)
		return NULL;
	*out = ts - sign * ((int64) tzh * SECS_PER_HOUR + (int64) tzm * SECS_PER_MINUTE) * USECS_PER_SEC;
	return p;
}

static const char *const usage_fields[] = {"events", "input_tokens", "output_tokens", "first_at", "last_at"};

PG_FUNCTION_INFO_V1(dsx_usage_in);
Datum
dsx_usage_in(PG_FUNCTION_ARGS)
{
	const char *input = PG_GETARG_CSTRING(0);
	const char *p = input;
	DsxUsage   *u = palloc0(sizeof(DsxUsage));

	for (int f = 0; f < lengthof(usage_fields); f++)
	{
		size_t		len = strlen(usage_fields[f]);

		p = dsx_skip_space(p);
		if (f > 0)
		{
			if (*p != ',')
				usage_syntax_error(input, p);
			p = dsx_skip_space(p + 1);
		}
		if (strncmp(p, usage_fields[f], len) != 0)
			usage_syntax_error(input, p);
		p = dsx_skip_space(p + len);
		if (*p != '=')
			usage_syntax_error(input, p);
		p = dsx_skip_space(p + 1);
		{
			const char *start = p;

			switch (f)
			{
				case 0:
					p = parse_count(p, &u->events, input);
					break;
				case 1:
					p = parse_count(p, &u->input_tokens, input);
					break;
				case 2:
					p = parse_count(p, &u->output_tokens, input);
					break;
				case 3:
					p = parse_timestamp(p, &u->first_at);
					break;
				default:
					p = parse_timestamp(p, &u->last_at);
					break;
			}
			if (p == NULL)
				usage_syntax_error(input, start);
		}
	}
	p = dsx_skip_space(p);
	if (*p != '\0')
		usage_syntax_error(input, p);
	dsx_usage_validate(u);
	PG_RETURN_DSXUSAGE_P(u);
}

/* Appends ts in ISO 8601, UTC, with trailing zeros of the fraction trimmed. */
static void
append_timestamp(StringInfo buf, TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;
	char		out[MAXDATELEN + 1];

	/* values read from disk were never validated: 1.0's ingest stored any timestamp */
	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("dsx.usage timestamp out of range"),
				 errdetail("The timestamp cannot be written as a date and time.")));
	tm.tm_isdst = 0;			/* print the zone: +00 */
	EncodeDateTime(&tm, fsec, true, 0, NULL, USE_ISO_DATES, out);
	appendStringInfoString(buf, out);
}

PG_FUNCTION_INFO_V1(dsx_usage_out);
Datum
dsx_usage_out(PG_FUNCTION_ARGS)
{
	DsxUsage   *u = PG_GETARG_DSXUSAGE_P(0);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "events=" INT64_FORMAT ", input_tokens=" INT64_FORMAT
					 ", output_tokens=" INT64_FORMAT ", first_at=",
					 u->events, u->input_tokens, u->output_tokens);
	append_timestamp(&buf, u->first_at);
	appendStringInfoString(&buf, ", last_at=");
	append_timestamp(&buf, u->last_at);
	PG_RETURN_CSTRING(buf.data);
}

/* ---------------------------------------------------------------- binary I/O */

PG_FUNCTION_INFO_V1(dsx_usage_recv);
Datum
dsx_usage_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	DsxUsage   *u;

	if (buf->len - buf->cursor != 4 + 5 * 8)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary dsx.usage: %d bytes, expected 44", buf->len - buf->cursor)));
	u = palloc0(sizeof(DsxUsage));
	u->flags = pq_getmsgint(buf, 4);
	u->events = pq_getmsgint64(buf);
	u->input_tokens = pq_getmsgint64(buf);
	u->output_tokens = pq_getmsgint64(buf);
	u->first_at = pq_getmsgint64(buf);
	u->last_at = pq_getmsgint64(buf);
	dsx_usage_validate(u);
	PG_RETURN_DSXUSAGE_P(u);
}

PG_FUNCTION_INFO_V1(dsx_usage_send);
Datum
dsx_usage_send(PG_FUNCTION_ARGS)
{
	DsxUsage   *u = PG_GETARG_DSXUSAGE_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, u->flags);
	pq_sendint64(&buf, u->events);
	pq_sendint64(&buf, u->input_tokens);
	pq_sendint64(&buf, u->output_tokens);
	pq_sendint64(&buf, u->first_at);
	pq_sendint64(&buf, u->last_at);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---------------------------------------------------------------- accessors */

PG_FUNCTION_INFO_V1(dsx_usage_events);
Datum
dsx_usage_events(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(PG_GETARG_DSXUSAGE_P(0)->events);
}

PG_FUNCTION_INFO_V1(dsx_usage_input_tokens);
Datum
dsx_usage_input_tokens(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(PG_GETARG_DSXUSAGE_P(0)->input_tokens);
}

PG_FUNCTION_INFO_V1(dsx_usage_output_tokens);
Datum
dsx_usage_output_tokens(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(PG_GETARG_DSXUSAGE_P(0)->output_tokens);
}

PG_FUNCTION_INFO_V1(dsx_usage_total_tokens);
Datum
dsx_usage_total_tokens(PG_FUNCTION_ARGS)
{
	DsxUsage   *u = PG_GETARG_DSXUSAGE_P(0);
	int64		total;

	if (pg_add_s64_overflow(u->input_tokens, u->output_tokens, &total))
		usage_overflow("total_tokens");
	PG_RETURN_INT64(total);
}

PG_FUNCTION_INFO_V1(dsx_usage_first_at);
Datum
dsx_usage_first_at(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(PG_GETARG_DSXUSAGE_P(0)->first_at);
}

PG_FUNCTION_INFO_V1(dsx_usage_last_at);
Datum
dsx_usage_last_at(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(PG_GETARG_DSXUSAGE_P(0)->last_at);
}

PG_FUNCTION_INFO_V1(dsx_usage_eq);
Datum
dsx_usage_eq(PG_FUNCTION_ARGS)
{
	DsxUsage   *a = PG_GETARG_DSXUSAGE_P(0);
	DsxUsage   *b = PG_GETARG_DSXUSAGE_P(1);

	PG_RETURN_BOOL(a->events == b->events && a->input_tokens == b->input_tokens &&
				   a->output_tokens == b->output_tokens && a->first_at == b->first_at &&
				   a->last_at == b->last_at);
}

PG_FUNCTION_INFO_V1(dsx_usage_ne);
Datum
dsx_usage_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!DatumGetBool(dsx_usage_eq(fcinfo)));
}

/* ---------------------------------------------------------------- merging */

/* A fresh copy of u in the current memory context. */
static DsxUsage *
usage_copy(const DsxUsage *u)
{
	DsxUsage   *c = palloc(sizeof(DsxUsage));

	memcpy(c, u, sizeof(DsxUsage));
	return c;
}

/* The `+` operator: a new summary of both sets of events. */
PG_FUNCTION_INFO_V1(dsx_usage_add);
Datum
dsx_usage_add(PG_FUNCTION_ARGS)
{
	DsxUsage   *r = usage_copy(PG_GETARG_DSXUSAGE_P(0));

	dsx_usage_merge(r, PG_GETARG_DSXUSAGE_P(1));
	PG_RETURN_DSXUSAGE_P(r);
}

/*
 * Combine function of both aggregates and transition function of dsx.rollup. Handles the
 * four NULL cases; updates the state in place only when called as an aggregate, where the
 * state belongs to the aggregate's memory context.
 */
PG_FUNCTION_INFO_V1(dsx_usage_combine);
Datum
dsx_usage_combine(PG_FUNCTION_ARGS)
{
	DsxUsage   *state;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	if (PG_ARGISNULL(0))
		PG_RETURN_DSXUSAGE_P(usage_copy(PG_GETARG_DSXUSAGE_P(1)));

	if (AggCheckCallContext(fcinfo, NULL))
		state = PG_GETARG_DSXUSAGE_P(0);
	else
		state = usage_copy(PG_GETARG_DSXUSAGE_P(0));
	dsx_usage_merge(state, PG_GETARG_DSXUSAGE_P(1));
	PG_RETURN_DSXUSAGE_P(state);
}

/*
 * Transition function of dsx.usage_agg(input_tokens, output_tokens, occurred_at): adds one
 * event. A row with a NULL argument is skipped, as strict aggregates skip them; negative
 * tokens are an error. Updates the state in place only when called as an aggregate; called
 * directly, it returns a new summary and leaves its argument alone.
 */
PG_FUNCTION_INFO_V1(dsx_usage_accum);
Datum
dsx_usage_accum(PG_FUNCTION_ARGS)
{
	DsxUsage   *state;
	int64		in,
				out;
	TimestampTz at;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	in = PG_GETARG_INT64(1);
	out = PG_GETARG_INT64(2);
	at = PG_GETARG_TIMESTAMPTZ(3);
	if (in < 0 || out < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token counts must not be negative"),
				 errdetail("input_tokens is " INT64_FORMAT ", output_tokens is " INT64_FORMAT ".", in, out)));
	usage_check_timestamp(at);

	if (PG_ARGISNULL(0))
	{
		state = palloc0(sizeof(DsxUsage));
		state->events = 1;
		state->input_tokens = in;
		state->output_tokens = out;
		state->first_at = state->last_at = at;
		PG_RETURN_DSXUSAGE_P(state);
	}
	if (AggCheckCallContext(fcinfo, NULL))
		state = PG_GETARG_DSXUSAGE_P(0);
	else
		state = usage_copy(PG_GETARG_DSXUSAGE_P(0));
	if (unlikely(pg_add_s64_overflow(state->events, 1, &state->events)))
		usage_overflow("events");
	if (unlikely(pg_add_s64_overflow(state->input_tokens, in, &state->input_tokens)))
		usage_overflow("input_tokens");
	if (unlikely(pg_add_s64_overflow(state->output_tokens, out, &state->output_tokens)))
		usage_overflow("output_tokens");
	if (at < state->first_at)
		state->first_at = at;
	if (at > state->last_at)
		state->last_at = at;
	PG_RETURN_DSXUSAGE_P(state);
}
