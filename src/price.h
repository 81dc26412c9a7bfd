/* src/price.h — the dsx.price type: a price per million tokens, flat or tiered on a volume
 * of tokens (graduated or volume tiers), stored exactly in nano-units, and the plain C
 * charge computation on it. Knows nothing of the other dsx types. */
#ifndef DSX_PRICE_H
#define DSX_PRICE_H

#include "postgres.h"

#include "fmgr.h"

#include "money.h"

/* A price is stored in units of 10^-9 per million tokens, below 10^18 units. */
#define DSX_PRICE_SCALE		9
#define DSX_PRICE_MAX_NANOS	INT64CONST(1000000000000000000)
#define DSX_PRICE_MAX_TIERS	1000
/* A charge is an exact count of 10^-15 currency units: 10^-9 (price) times 10^-6 (per million). */
#define DSX_CHARGE_SCALE	15

typedef enum DsxPriceKind
{
	DSX_PRICE_FLAT = 0,
	DSX_PRICE_GRADUATED = 1,
	DSX_PRICE_VOLUME = 2
} DsxPriceKind;

typedef struct DsxPriceTier
{
	int64		from;			/* first token count the tier applies to */
	int64		nanos;			/* price per million tokens, in 10^-9 units */
} DsxPriceTier;

/* Varlena; flags is a version word, written as zero and checked. A flat price has one
 * tier from 0. */
typedef struct DsxPrice
{
	int32		vl_len_;
	int32		flags;
	int32		kind;
	int32		ntiers;
	DsxPriceTier tiers[FLEXIBLE_ARRAY_MEMBER];
} DsxPrice;

#define DSX_PRICE_SIZE(n)		(offsetof(DsxPrice, tiers) + sizeof(DsxPriceTier) * (n))
#define DatumGetDsxPriceP(X)	((DsxPrice *) PG_DETOAST_DATUM(X))
#define DsxPricePGetDatum(X)	PointerGetDatum(X)
#define PG_GETARG_DSXPRICE_P(n) DatumGetDsxPriceP(PG_GETARG_DATUM(n))
#define PG_RETURN_DSXPRICE_P(x) return DsxPricePGetDatum(x)

/* Room to read a price of up to 6 tiers (any price short enough for a 1-byte varlena
 * header) without a palloc: see dsx_price_unpack. */
typedef union DsxPriceBuf
{
	DsxPrice	price;
	char		bytes[DSX_PRICE_SIZE(7)];
	int64		align;
} DsxPriceBuf;

/*
 * The price in datum d, without a palloc on the hot path: a value stored with a short
 * (1-byte) header is copied, aligned, into buf; an aligned one is used in place; anything
 * else (compressed, external) is detoasted.
 */
static inline const DsxPrice *
dsx_price_unpack(Datum d, DsxPriceBuf *buf)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);

	if (VARATT_IS_SHORT(v) && VARSIZE_SHORT(v) - VARHDRSZ_SHORT + VARHDRSZ <= sizeof(buf->bytes))
	{
		Size		len = VARSIZE_SHORT(v) - VARHDRSZ_SHORT;

		SET_VARSIZE(&buf->price, len + VARHDRSZ);
		memcpy(buf->bytes + VARHDRSZ, VARDATA_SHORT(v), len);
		return &buf->price;
	}
	return (const DsxPrice *) PG_DETOAST_DATUM(d);
}

/* Raises an error unless p is a well-formed price (text input and receive both call it). */
extern void dsx_price_validate(const DsxPrice *p);

/* The exact charge for tokens (>= 0) at price p, in 10^-DSX_CHARGE_SCALE units. Cannot
 * overflow: tokens < 2^63 and prices < 10^18 units keep it below 10^37. */
extern int128 dsx_price_charge(const DsxPrice *p, int64 tokens);

#endif							/* DSX_PRICE_H */
