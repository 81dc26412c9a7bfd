/* src/rating.c — the operations that combine dsx's types, above the type files: the
 * charge of a usage summary at an input and an output price (exact, and rated: rounded
 * once half away from zero to the currency's minor units), and dsx.allocate, the SQL face
 * of the largest-remainder split allocation. All arithmetic is int128 fixed point from
 * money.c; numeric is touched only to read the arguments and build the results. */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "money.h"
#include "price.h"
#include "split.h"
#include "usage.h"

/* The exact charge of u: input tokens at input_price plus output tokens at output_price,
 * in 10^-DSX_CHARGE_SCALE units (below 2 * 10^37: cannot overflow). */
static int128
usage_charge(const DsxUsage *u, const DsxPrice *input_price, const DsxPrice *output_price)
{
	return dsx_price_charge(input_price, u->input_tokens) +
		dsx_price_charge(output_price, u->output_tokens);
}

/* dsx.charge(u dsx.usage, input_price dsx.price, output_price dsx.price): exact, unrounded. */
PG_FUNCTION_INFO_V1(dsx_usage_charge);
Datum
dsx_usage_charge(PG_FUNCTION_ARGS)
{
	DsxPriceBuf in_buf,
				out_buf;
	int128		c = usage_charge(PG_GETARG_DSXUSAGE_P(0), dsx_price_unpack(PG_GETARG_DATUM(1), &in_buf),
								 dsx_price_unpack(PG_GETARG_DATUM(2), &out_buf));

	PG_RETURN_DATUM(dsx_numeric_from_int128_trimmed(c, DSX_CHARGE_SCALE));
}

/* dsx.rate(u, input_price, output_price, minor_units): the exact charge rounded once, half
 * away from zero, to minor_units decimal places: the amount of one rated line. */
PG_FUNCTION_INFO_V1(dsx_usage_rate);
Datum
dsx_usage_rate(PG_FUNCTION_ARGS)
{
	int32		minor_units = PG_GETARG_INT32(3);
	DsxPriceBuf in_buf,
				out_buf;
	int128		c;

	dsx_check_minor_units(minor_units);
	c = usage_charge(PG_GETARG_DSXUSAGE_P(0), dsx_price_unpack(PG_GETARG_DATUM(1), &in_buf),
					 dsx_price_unpack(PG_GETARG_DATUM(2), &out_buf));
	PG_RETURN_DATUM(dsx_numeric_from_int128(dsx_div_round_half_away(c, dsx_pow10(DSX_CHARGE_SCALE - minor_units)),
											minor_units));
}

/* The row type of dsx.allocate, (party text, amount numeric), built and blessed once. */
static TupleDesc
allocate_tupdesc(void)
{
	static TupleDesc desc = NULL;

	if (desc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		TupleDesc	d = CreateTemplateTupleDesc(2);

		TupleDescInitEntry(d, (AttrNumber) 1, "party", TEXTOID, -1, 0);
		TupleDescInitEntry(d, (AttrNumber) 2, "amount", NUMERICOID, -1, 0);
		desc = BlessTupleDesc(d);
		MemoryContextSwitchTo(old);
	}
	return desc;
}

/* What dsx.allocate keeps between the rows it returns. */
typedef struct AllocateState
{
	DsxSplit   *split;
	int			minor_units;
	int128	   *parts;
} AllocateState;

/* The amount to allocate in minor units; 22023 unless it is a whole number of them. */
static int128
allocation_amount(Numeric amount_num, int minor_units)
{
	int128		value,
				amount = 0;
	int			scale;
	DsxDecimalStatus st;

	st = dsx_numeric_to_decimal(amount_num, &value, &scale);
	if (st == DSX_DEC_SYNTAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount to allocate must be a finite number")));
	if (st == DSX_DEC_OK)
		st = dsx_decimal_rescale(value, scale, minor_units, &amount);
	switch (st)
	{
		case DSX_DEC_OK:
			break;
		case DSX_DEC_OVERFLOW:
			dsx_overflow_error("amount to allocate", "The amount has too many digits for an exact allocation.");
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("amount to allocate is not a whole number of minor units"),
					 errdetail("The amount has more than %d decimal places.", minor_units),
					 errhint("Round the amount to the currency's minor unit first, e.g. with dsx.round_money.")));
	}
	return amount;
}

/*
 * dsx.allocate(amount numeric, s dsx.split, minor_units int) RETURNS TABLE(party text,
 * amount numeric): one row per party, first-appearance order, the parts adding up to
 * amount exactly. amount must be a whole number of minor units (22023). In FROM, where
 * the executor prefers a materialized result, the rows go straight into one tuplestore;
 * in a select list they are handed out one per call, with no tuplestore at all.
 */
PG_FUNCTION_INFO_V1(dsx_allocate);
Datum
dsx_allocate(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FuncCallContext *funcctx;
	AllocateState *state;

	if (rsinfo != NULL && IsA(rsinfo, ReturnSetInfo) &&
		(rsinfo->allowedModes & SFRM_Materialize_Preferred) &&
		(rsinfo->allowedModes & SFRM_Materialize) && rsinfo->expectedDesc != NULL)
	{
		int32		minor_units = PG_GETARG_INT32(2);
		int128		amount;
		DsxSplit   *s;
		int128	   *parts;

		dsx_check_minor_units(minor_units);
		amount = allocation_amount((Numeric) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0)), minor_units);
		s = PG_GETARG_DSXSPLIT_P(1);
		parts = palloc(sizeof(int128) * s->nparties);
		dsx_split_allocate(s, amount, minor_units, parts);
		InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
		for (int p = 0; p < s->nparties; p++)
		{
			Datum		values[2];
			bool		nulls[2] = {false, false};

			values[0] = PointerGetDatum(cstring_to_text(DSX_SPLIT_PARTY(s, p)));
			values[1] = dsx_numeric_from_int128(parts[p], minor_units);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		return (Datum) 0;
	}

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		int32		minor_units = PG_GETARG_INT32(2);
		int128		amount;

		dsx_check_minor_units(minor_units);
		amount = allocation_amount((Numeric) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0)), minor_units);
		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		state = palloc(sizeof(AllocateState));
		state->split = PG_GETARG_DSXSPLIT_P(1);
		state->minor_units = minor_units;
		state->parts = palloc(sizeof(int128) * state->split->nparties);
		dsx_split_allocate(state->split, amount, minor_units, state->parts);
		funcctx->user_fctx = state;
		funcctx->max_calls = state->split->nparties;
		funcctx->tuple_desc = allocate_tupdesc();
		MemoryContextSwitchTo(old);
	}
	funcctx = SRF_PERCALL_SETUP();
	state = (AllocateState *) funcctx->user_fctx;
	if (funcctx->call_cntr < funcctx->max_calls)
	{
		int			p = (int) funcctx->call_cntr;
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = PointerGetDatum(cstring_to_text(DSX_SPLIT_PARTY(state->split, p)));
		values[1] = dsx_numeric_from_int128(state->parts[p], state->minor_units);
		SRF_RETURN_NEXT(funcctx, HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc, values, nulls)));
	}
	SRF_RETURN_DONE(funcctx);
}
