/* src/store.c — the bulk step of dsx.ingest(): dsx.ingest_rows(src, batch, dedup) moves
 * every row of src (a table with dsx.usage_inbox's columns) into dsx.usage_events, keeps
 * dsx.usage_daily current and sets conflicting payloads aside in dsx.usage_conflicts.
 *
 * Events are written the way COPY writes a table: heap tuples in batches and in arrival
 * order (time ranges stay together, as the BRIN index wants), the other indexes as each
 * batch lands. The primary key's entries are inserted in key order instead, one sorted run
 * per maintenance_work_mem of keys, so a batch's insertions walk the btree from left to
 * right rather than landing on random pages.
 *
 * Two modes:
 *  - dedup = false (all new): no lookups. A key already stored, or repeated in the batch,
 *    raises unique_violation as a plain INSERT would; dsx.ingest() runs this mode in a
 *    subtransaction and, on that error, runs the other one. A stored key among the first
 *    rows raises the same error at once, before anything is written.
 *  - dedup = true: the rows are read in runs, sorted by key (then arrival), and every key
 *    is looked up once, by walking the primary key forward from the previous one (see
 *    lookup()): a key already stored compares its payload with the stored one (equal:
 *    duplicate; different: conflict); a new key stores its first arrival, and later
 *    arrivals compare with that one.
 * A NULL, or an occurred_at a dsx.usage cannot carry, refuses the batch (the inbox's
 * CHECKs refuse them at load; another source may not).
 * Both roll the stored events up per factory, customer, model and local day (the calendar
 * day in the factory's time zone, from dsx.factories, read once) in memory and
 * merge them into dsx.usage_daily with one statement; an unknown factory refuses the batch.
 * Conflicting payloads are kept with one statement per run.
 *
 * The result is all NULL, with nothing written, when usage_events is not in a shape this
 * step writes as faithfully as INSERT would: insert triggers (foreign keys included),
 * row-level security that might refuse a row, generated columns, columns or a key other
 * than dsx's, a deferrable or non-btree key, a nondeterministic collation, privileges
 * granted per column; or when a table is not a plain local heap (another access method, or
 * a Citus table, whose rows live in shards on other nodes). dsx.ingest() then uses its
 * SQL statements, which apply all of those. Table privileges are checked as INSERT does.
 *
 * dsx.ingest_rows_into is the same step into other tables of the same shapes: on Citus,
 * dsx.ingest() runs it on every shard of the inbox, into the co-located shards on the
 * same node, which are plain local heaps there (dsx.ingest_shard).
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "port/pg_bswap.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "rewrite/rowsecurity.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"
#include "pgtime.h"
#include "utils/fmgroids.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "compat.h"
#include "usage.h"

/* Heap tuples written per table_multi_insert call, as COPY does. */
#define STORE_HEAP_BATCH 1000
/* Keys looked up before the all-new mode writes anything. */
#define STORE_FIRST_PROBES 16

/* usage_events' columns, by position in this list; src has all but batch_id. */
enum
{
	C_FACTORY, C_EVENT_ID, C_OCCURRED_AT, C_CUSTOMER, C_MODEL, C_INPUT, C_OUTPUT, C_BATCH,
	NCOLS
};
static const char *const col_names[NCOLS] = {
	"factory", "event_id", "occurred_at", "customer", "model", "input_tokens",
	"output_tokens", "batch_id"
};
static const Oid col_types[NCOLS] = {
	TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID
};

/* A primary-key entry waiting for its sorted insertion. */
typedef struct KeyEntry
{
	ItemPointerData tid;
	Datum		values[2];		/* factory, event_id */
} KeyEntry;

/* An incoming row of the deduplicating mode. */
typedef struct Row
{
	HeapTuple	tup;			/* as read from src */
	int64		seq;			/* arrival */
	uint64		abbrev;			/* event_id's first 8 bytes, as a big-endian number */
	int			ordinal;		/* factory's number, by first appearance */
	Datum		factory;
	Datum		event_id;
	bool		stored;			/* this arrival is stored as a new event, */
	ItemPointerData tid;		/* here */
} Row;

/* A group of the daily rollup: factory, customer, model and day, as bytes. */
typedef struct RollKey
{
	const char *data;
	Size		len;
} RollKey;

typedef struct RollEntry
{
	RollKey		key;
	DsxUsage	usage;
} RollEntry;

/* A factory whose time zone is not UTC, and the last local day looked up in it: [lo, hi). */
typedef struct ZoneEntry
{
	RollKey		key;			/* the factory's bytes */
	pg_tz	   *tz;
	TimestampTz lo;
	TimestampTz hi;
	DateADT		day;
} ZoneEntry;

/* A payload kept aside: the stored event and the incoming one. */
typedef struct Conflict
{
	Datum		stored[NCOLS];
	Datum		incoming[NCOLS];
} Conflict;

typedef struct Store
{
	Relation	rel;
	AttrNumber	att[NCOLS];		/* usage_events' attribute numbers */
	AttrNumber	src_att[NCOLS]; /* src's, but for C_BATCH */
	int64		batch;
	EState	   *estate;
	ResultRelInfo *rri;			/* usage_events with its constraints and every index */
	ResultRelInfo *others;		/* the same without the primary key */
	Relation	pk;
	IndexInfo  *pkinfo;
	CommandId	cid;
	BulkInsertState bistate;
	TupleTableSlot *slots[STORE_HEAP_BATCH];
	Row		   *slot_rows[STORE_HEAP_BATCH];	/* the rows they hold (deduplicating) */
	int			nslots;
	TupleDesc	srcdesc;
	Datum	   *srcvals;		/* a kept src row's columns, deformed (tuple_values) */
	bool	   *srcnulls;
	TupleTableSlot *srcslot;	/* a kept src row, back in a slot */
	/* the sorted run of primary-key entries */
	MemoryContext keycxt;
	KeyEntry   *keys;
	int64		nkeys;
	int64		maxkeys;
	Size		budget;			/* bytes per run (maintenance_work_mem) */
	/* lookups by key, seeing this command's own insertions */
	IndexScanDesc probe;
	ScanKeyData probekeys[2];
	TupleTableSlot *found;
	/* a walk along the key in its order, for a run's sorted lookups */
	IndexScanDesc walk;
	IndexFetchTableData *fetch;
	ScanKeyData walkkeys[2];	/* factory =, event_id >= */
	FmgrInfo	order;			/* the key's order on event_id (btree support 1) */
	bool		walking;		/* positioned on walk_factory's entries */
	Datum		walk_factory;
	Datum		walk_last;		/* the last key looked up */
	int			walk_misses;	/* lookups in a row that ran out of steps */
	int			probes_left;	/* lookups still to do by plain probes */
	int64		walked;			/* lookups done by walking, and by probes */
	int64		probed;
	bool		walk_have;		/* a current entry: */
	ItemPointerData walk_tid;
	Datum		walk_key;		/* its event_id (in the scan's copy of the page) */
	/* the rollup and the conflicts, until the end */
	MemoryContext cxt;
	HTAB	   *rollup;
	StringInfoData rollbuf;
	HTAB	   *zones;			/* factories not in UTC (NULL: none) */
	ZoneEntry  *last_zone;		/* the last one looked up (NULL: a UTC one), */
	StringInfoData last_zone_factory;	/* for this factory (its bytes; len -1: none yet) */
	MemoryContext conflictcxt;	/* the conflicts of the current run */
	List	   *conflicts;
	int64		inserted;
	int64		duplicates;
	int64		nconflicts;
	/* the other tables, by quoted qualified name: the rollup and the factories */
	const char *daily_name;
	const char *factories_name;
	char	   *keep_sql;		/* keep_conflicts' statement, into the given conflicts table */
} Store;

/* ------------------------------------------------------------ may we? */

/* Is the expression the constant true (as in USING (true) / WITH CHECK (true))? */
static bool
is_const_true(Expr *expr)
{
	return expr != NULL && IsA(expr, Const) && !((Const *) expr)->constisnull &&
		DatumGetBool(((Const *) expr)->constvalue);
}

/* Does the policy apply to the current user? (PUBLIC, or a role whose privileges it has) */
static bool
policy_applies_to_user(RowSecurityPolicy *policy)
{
	Oid		   *roles = (Oid *) ARR_DATA_PTR(policy->roles);
	int			n = ARR_DIMS(policy->roles)[0];

	for (int i = 0; i < n; i++)
		if (roles[i] == ACL_ID_PUBLIC || has_privs_of_role(GetUserId(), roles[i]))
			return true;
	return false;
}

/* Would row-level security admit every row an INSERT into rel writes? True when it does
 * not apply to the current user, or when an applicable permissive INSERT policy checks
 * the constant true and every applicable restrictive one does too. Anything else (no
 * permissive policy, a real condition, policy hooks) is left to SQL to enforce. */
static bool
rls_admits_every_row(Relation rel)
{
	ListCell   *lc;
	bool		permitted = false;

	if (check_enable_rls(RelationGetRelid(rel), InvalidOid, true) != RLS_ENABLED)
		return true;
	if (row_security_policy_hook_permissive != NULL ||
		row_security_policy_hook_restrictive != NULL || rel->rd_rsdesc == NULL)
		return false;
	foreach(lc, rel->rd_rsdesc->policies)
	{
		RowSecurityPolicy *policy = (RowSecurityPolicy *) lfirst(lc);
		Expr	   *check;

		if ((policy->polcmd != '*' && policy->polcmd != ACL_INSERT_CHR) ||
			!policy_applies_to_user(policy))
			continue;
		/* an ALL policy without WITH CHECK checks new rows with its USING clause */
		check = policy->with_check_qual != NULL ? policy->with_check_qual : policy->qual;
		if (policy->permissive)
			permitted |= is_const_true(check);
		else if (!is_const_true(check))
			return false;
	}
	return permitted;
}

/* The attribute number of the column called name with the given type, or 0. */
static AttrNumber
column_of(TupleDesc desc, const char *name, Oid type)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->atttypid == type ? att->attnum : 0;
	}
	return 0;
}

/* Is the relation known to Citus (distributed, reference or Citus local)? Its rows are
 * then in shards, not in this heap. Read from Citus's catalogue when it exists, without
 * depending on Citus. */
static bool
citus_table(Oid relid)
{
	Oid			dist = get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE);
	Relation	cat;
	SysScanDesc scan;
	ScanKeyData key;
	bool		found;

	if (!OidIsValid(dist))
		return false;
	cat = table_open(dist, AccessShareLock);
	/* its first column is logicalrelid */
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(cat, InvalidOid, false, NULL, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(cat, AccessShareLock);
	return found;
}

/* Is the relation a plain table whose rows live in its own local heap? */
static bool
local_heap(Relation rel)
{
	return rel->rd_rel->relkind == RELKIND_RELATION &&
		rel->rd_tableam == GetHeapamTableAmRoutine() &&
		!citus_table(RelationGetRelid(rel));
}

/* Can this step write usage_events from src in place of INSERT ... SELECT? Fills in the
 * column numbers. (see the header comment) */
static bool
plain_target(Store *st, Relation src, Oid daily)
{
	Relation	rel = st->rel;
	TriggerDesc *trig = rel->trigdesc;
	TupleDesc	desc = RelationGetDescr(rel);
	int			nlive = 0;

	if (!local_heap(rel) || !local_heap(src) || !OidIsValid(daily) || citus_table(daily))
		return false;
	if (trig != NULL &&
		(trig->trig_insert_before_row || trig->trig_insert_after_row ||
		 trig->trig_insert_instead_row || trig->trig_insert_before_statement ||
		 trig->trig_insert_after_statement || trig->trig_insert_new_table))
		return false;
	if (desc->constr != NULL && desc->constr->has_generated_stored)
		return false;
	for (int c = 0; c < NCOLS; c++)
	{
		st->att[c] = column_of(desc, col_names[c], col_types[c]);
		st->src_att[c] = c == C_BATCH ? 1 : column_of(RelationGetDescr(src), col_names[c], col_types[c]);
		if (st->att[c] == 0 || st->src_att[c] == 0)
			return false;
	}
	for (int i = 0; i < desc->natts; i++)
		nlive += !TupleDescAttr(desc, i)->attisdropped;
	if (nlive != NCOLS)			/* a column we would not fill */
		return false;
	return rls_admits_every_row(rel) &&
		check_enable_rls(RelationGetRelid(src), InvalidOid, true) != RLS_ENABLED;
}

/* Finds the primary key among the opened indexes, keeps the others apart, and checks it
 * is (factory, event_id), immediate, plain. */
static bool
split_indexes(Store *st)
{
	ResultRelInfo *rri = st->rri;
	Oid			pk_id = RelationGetPrimaryKeyIndex(st->rel);
	int			n = 0;

	st->others = palloc(sizeof(ResultRelInfo));
	*st->others = *rri;
	st->others->ri_IndexRelationDescs = palloc(Max(rri->ri_NumIndices, 1) * sizeof(Relation));
	st->others->ri_IndexRelationInfo = palloc(Max(rri->ri_NumIndices, 1) * sizeof(IndexInfo *));
	for (int i = 0; i < rri->ri_NumIndices; i++)
	{
		if (RelationGetRelid(rri->ri_IndexRelationDescs[i]) == pk_id)
		{
			st->pk = rri->ri_IndexRelationDescs[i];
			st->pkinfo = rri->ri_IndexRelationInfo[i];
			continue;
		}
		st->others->ri_IndexRelationDescs[n] = rri->ri_IndexRelationDescs[i];
		st->others->ri_IndexRelationInfo[n++] = rri->ri_IndexRelationInfo[i];
	}
	st->others->ri_NumIndices = n;
	/* (bytewise grouping of keys is the index's equality only for deterministic collations) */
	return st->pk != NULL && st->pk->rd_rel->relam == BTREE_AM_OID && st->pk->rd_index->indimmediate &&
		get_collation_isdeterministic(st->pk->rd_indcollation[0]) &&
		get_collation_isdeterministic(st->pk->rd_indcollation[1]) &&
		st->pkinfo->ii_NumIndexAttrs == 2 && st->pkinfo->ii_Expressions == NIL &&
		st->pkinfo->ii_Predicate == NIL &&
		st->pkinfo->ii_IndexAttrNumbers[0] == st->att[C_FACTORY] &&
		st->pkinfo->ii_IndexAttrNumbers[1] == st->att[C_EVENT_ID];
}

/* ------------------------------------------------------------ comparisons */

/* A text value with its bytes in line: a compressed or out-of-line (TOAST) one is expanded,
 * and *changed set; bytewise comparisons, hashing and copies need the bytes themselves. */
static Datum
plain_text(Datum t, bool *changed)
{
	struct varlena *p = (struct varlena *) DatumGetPointer(t);

	if (!VARATT_IS_EXTERNAL(p) && !VARATT_IS_COMPRESSED(p))
		return t;
	if (changed != NULL)
		*changed = true;
	return PointerGetDatum(detoast_attr(p));
}

/* Text bytes compared bytewise, shorter first: the index's order for the C and C.UTF-8
 * collations; for others still an order that groups equal keys, which is all the sort
 * needs (uniqueness is decided by the index). */
static int
text_cmp(Datum a, Datum b)
{
	Size		la = VARSIZE_ANY_EXHDR(DatumGetPointer(a));
	Size		lb = VARSIZE_ANY_EXHDR(DatumGetPointer(b));
	int			c = memcmp(VARDATA_ANY(DatumGetPointer(a)), VARDATA_ANY(DatumGetPointer(b)),
						   Min(la, lb));

	return c != 0 ? c : (la > lb) - (la < lb);
}

static int
key_entry_cmp(const void *a, const void *b)
{
	const KeyEntry *x = a;
	const KeyEntry *y = b;
	int			c = text_cmp(x->values[0], y->values[0]);

	return c != 0 ? c : text_cmp(x->values[1], y->values[1]);
}

/* Rows by factory (its ordinal: the factories need only come apart), then event_id
 * bytewise (its abbreviation first), then arrival. */
static int
row_cmp(const void *a, const void *b)
{
	const Row  *x = a;
	const Row  *y = b;
	int			c;

	if (x->ordinal != y->ordinal)
		return x->ordinal < y->ordinal ? -1 : 1;
	if (x->abbrev != y->abbrev)
		return x->abbrev < y->abbrev ? -1 : 1;
	c = text_cmp(x->event_id, y->event_id);
	return c != 0 ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* The first 8 bytes of a text, zero-padded, as a number that orders as the bytes do (text
 * holds no zero bytes, so padding keeps a prefix before its extensions). */
static uint64
abbreviate(Datum t)
{
	uint64		a = 0;

	memcpy(&a, VARDATA_ANY(DatumGetPointer(t)), Min(VARSIZE_ANY_EXHDR(DatumGetPointer(t)), sizeof(a)));
	return pg_ntoh64(a);
}

static int
row_ptr_seq_cmp(const void *a, const void *b)
{
	const Row  *x = *(Row *const *) a;
	const Row  *y = *(Row *const *) b;

	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The three sorts, as PostgreSQL's own sort template writes them: comparisons inlined,
 * and a check for interrupts at every step (a run may hold millions of rows). */
#define ST_SORT sort_key_entries
#define ST_ELEMENT_TYPE KeyEntry
#define ST_COMPARE(a, b) key_entry_cmp(a, b)
#define ST_CHECK_FOR_INTERRUPTS
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

#define ST_SORT sort_rows
#define ST_ELEMENT_TYPE Row
#define ST_COMPARE(a, b) row_cmp(a, b)
#define ST_CHECK_FOR_INTERRUPTS
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

typedef Row *RowPointer;		/* the sort template needs the element type as one word */

#define ST_SORT sort_rows_by_arrival
#define ST_ELEMENT_TYPE RowPointer
#define ST_COMPARE(a, b) row_ptr_seq_cmp(a, b)
#define ST_CHECK_FOR_INTERRUPTS
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/* Same payload (what the event says beyond its key), as IS NOT DISTINCT FROM compares it:
 * text of a deterministic collation and integers are equal exactly when their bytes are. */
static bool
same_payload(const Datum *a, const Datum *b)
{
	return DatumGetInt64(a[C_OCCURRED_AT]) == DatumGetInt64(b[C_OCCURRED_AT]) &&
		DatumGetInt64(a[C_INPUT]) == DatumGetInt64(b[C_INPUT]) &&
		DatumGetInt64(a[C_OUTPUT]) == DatumGetInt64(b[C_OUTPUT]) &&
		text_cmp(a[C_CUSTOMER], b[C_CUSTOMER]) == 0 &&
		text_cmp(a[C_MODEL], b[C_MODEL]) == 0;
}

/* ------------------------------------------------------------ the rollup */

static uint32
roll_hash(const void *key, Size keysize)
{
	const RollKey *k = key;

	return hash_bytes((const unsigned char *) k->data, (int) k->len);
}

static int
roll_match(const void *a, const void *b, Size keysize)
{
	const RollKey *x = a;
	const RollKey *y = b;

	return x->len == y->len && memcmp(x->data, y->data, x->len) == 0 ? 0 : 1;
}

/* Factories numbered by first appearance, for the sort (where they need only come apart):
 * a hash on their bytes, and the last one looked up remembered (rows of a factory come in
 * stretches). */
typedef struct OrdinalEntry
{
	RollKey		key;
	int			ordinal;
} OrdinalEntry;

typedef struct Ordinals
{
	HTAB	   *map;
	MemoryContext cxt;			/* where the map keeps its keys */
	RollKey		last;			/* the entry's own copy of the last factory */
	int			last_ordinal;
} Ordinals;

static void
ordinals_init(Ordinals *o)
{
	HASHCTL		ctl = {0};

	ctl.keysize = sizeof(RollKey);
	ctl.entrysize = sizeof(OrdinalEntry);
	ctl.hash = roll_hash;
	ctl.match = roll_match;
	ctl.hcxt = o->cxt = CurrentMemoryContext;
	o->map = hash_create("dsx ingest factories", 64, &ctl,
						 HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	o->last.data = NULL;
	o->last.len = 0;
	o->last_ordinal = 0;
}

static int
ordinal_of(Ordinals *o, Datum factory)
{
	RollKey		key = {VARDATA_ANY(DatumGetPointer(factory)), VARSIZE_ANY_EXHDR(DatumGetPointer(factory))};
	OrdinalEntry *e;
	bool		found;

	if (o->last_ordinal > 0 && roll_match(&o->last, &key, sizeof(RollKey)) == 0)
		return o->last_ordinal;
	e = hash_search(o->map, &key, HASH_ENTER, &found);
	if (!found)
	{
		char	   *copy = MemoryContextAlloc(o->cxt, key.len);

		memcpy(copy, key.data, key.len);
		e->key.data = copy;
		e->ordinal = (int) hash_get_num_entries(o->map);
	}
	o->last = e->key;
	o->last_ordinal = e->ordinal;
	return e->ordinal;
}

/* Appends a text value to the group key: its length, then its bytes. */
static void
roll_append(StringInfo buf, Datum t)
{
	uint32		len = VARSIZE_ANY_EXHDR(DatumGetPointer(t));

	appendBinaryStringInfo(buf, (const char *) &len, sizeof(len));
	appendBinaryStringInfo(buf, VARDATA_ANY(DatumGetPointer(t)), len);
}

/* Reads back the text value at *pos of a group key. */
static Datum
roll_read(const char *data, Size *pos)
{
	uint32		len;
	Datum		t;

	memcpy(&len, data + *pos, sizeof(len));
	t = PointerGetDatum(cstring_to_text_with_len(data + *pos + sizeof(len), len));
	*pos += sizeof(len) + len;
	return t;
}

/* The UTC day of a timestamp, as a date. */
static DateADT
utc_day(TimestampTz ts)
{
	int64		day = ts / USECS_PER_DAY;

	if (ts % USECS_PER_DAY < 0)
		day--;
	return (DateADT) day;
}

/* Loads the factories whose time zone is not UTC (SPI connected). A 1.0 catalogue, which
 * this library serves too until it is updated, has no time zones: every factory is UTC. */
static void
load_zones(Store *st, Oid factories)
{
	HASHCTL		ctl;
	MemoryContext old;

	if (!OidIsValid(factories) || get_attnum(factories, "time_zone") == InvalidAttrNumber)
		return;
	if (SPI_execute(psprintf("SELECT f.factory, f.time_zone FROM %s f "
							 "WHERE f.time_zone OPERATOR(pg_catalog.<>) 'UTC'", st->factories_name),
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "dsx.ingest_rows: time zone lookup failed");
	if (SPI_processed == 0)
		return;
	/* in the step's context: SPI_finish frees the one current here */
	old = MemoryContextSwitchTo(st->cxt);
	initStringInfo(&st->last_zone_factory);
	MemoryContextSwitchTo(old);
	st->last_zone_factory.len = -1;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(RollKey);
	ctl.entrysize = sizeof(ZoneEntry);
	ctl.hash = roll_hash;
	ctl.match = roll_match;
	ctl.hcxt = st->cxt;
	st->zones = hash_create("dsx ingest zones", 64, &ctl,
							HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		f = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		text	   *t = DatumGetTextPP(f);
		RollKey		key;
		ZoneEntry  *z;
		bool		found;
		char	   *copy = MemoryContextAlloc(st->cxt, VARSIZE_ANY_EXHDR(t));

		memcpy(copy, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
		key.data = copy;
		key.len = VARSIZE_ANY_EXHDR(t);
		z = hash_search(st->zones, &key, HASH_ENTER, &found);
		z->key = key;
		z->tz = pg_tzset(name);
		if (z->tz == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("time zone \"%s\" of factory \"%s\" is not recognized", name,
							text_to_cstring(t))));
		z->lo = z->hi = 0;
	}
}

/* The factory's zone, or NULL for a factory in UTC. */
static ZoneEntry *
zone_of(Store *st, Datum factory)
{
	RollKey		key;
	StringInfo	last = &st->last_zone_factory;

	if (st->zones == NULL)
		return NULL;
	key.data = VARDATA_ANY(DatumGetPointer(factory));
	key.len = VARSIZE_ANY_EXHDR(DatumGetPointer(factory));
	if (last->len == (int) key.len && memcmp(last->data, key.data, key.len) == 0)
		return st->last_zone;
	st->last_zone = hash_search(st->zones, &key, HASH_FIND, NULL);
	resetStringInfo(last);
	appendBinaryStringInfo(last, key.data, key.len);
	return st->last_zone;
}

/* The UTC offset (seconds west) of an instant in a zone. */
static int
offset_at(pg_tz *tz, TimestampTz ts, struct pg_tm *tm, fsec_t *fsec)
{
	int			off;

	if (timestamp2tm(ts, &off, tm, fsec, NULL, tz) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return off;
}

/* The local day of a timestamp in a zone; the day around it is kept when its offset holds
 * from local midnight to midnight (every day but those of a daylight-saving change). */
static DateADT
local_day(ZoneEntry *z, TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			off;
	TimestampTz lo;

	if (ts >= z->lo && ts < z->hi)
		return z->day;
	off = offset_at(z->tz, ts, &tm, &fsec);
	z->day = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - POSTGRES_EPOCH_JDATE;
	lo = ts - ((((int64) tm.tm_hour * 60 + tm.tm_min) * 60 + tm.tm_sec) * USECS_PER_SEC + fsec);
	z->lo = ts;
	z->hi = ts + 1;
	if (lo > MIN_TIMESTAMP && lo + USECS_PER_DAY < END_TIMESTAMP &&
		offset_at(z->tz, lo, &tm, &fsec) == off &&
		offset_at(z->tz, lo + USECS_PER_DAY - 1, &tm, &fsec) == off)
	{
		z->lo = lo;
		z->hi = lo + USECS_PER_DAY;
	}
	return z->day;
}

/* Adds one stored event to its group. */
static void
roll_add(Store *st, const Datum *v)
{
	StringInfo	buf = &st->rollbuf;
	TimestampTz at = DatumGetTimestampTz(v[C_OCCURRED_AT]);
	ZoneEntry  *zone = zone_of(st, v[C_FACTORY]);
	DateADT		day = zone ? local_day(zone, at) : utc_day(at);
	DsxUsage	one = {1, DatumGetInt64(v[C_INPUT]), DatumGetInt64(v[C_OUTPUT]), at, at, 0, 0};
	RollKey		key;
	RollEntry  *e;
	bool		found;

	resetStringInfo(buf);
	roll_append(buf, v[C_FACTORY]);
	roll_append(buf, v[C_CUSTOMER]);
	roll_append(buf, v[C_MODEL]);
	appendBinaryStringInfo(buf, (const char *) &day, sizeof(day));
	key.data = buf->data;
	key.len = buf->len;
	e = hash_search(st->rollup, &key, HASH_ENTER, &found);
	if (found)
		dsx_usage_merge(&e->usage, &one);
	else
	{
		char	   *copy = MemoryContextAlloc(st->cxt, buf->len);

		memcpy(copy, buf->data, buf->len);
		e->key.data = copy;
		e->key.len = buf->len;
		e->usage = one;
	}
}

/* ------------------------------------------------------------ writing */

/* Inserts the run's keys into the primary key in key order, then starts a new run. */
static void
flush_keys(Store *st)
{
	bool		isnull[2] = {false, false};

	sort_key_entries(st->keys, st->nkeys);
	for (int64 i = 0; i < st->nkeys; i++)
	{
		CHECK_FOR_INTERRUPTS();
		index_insert(st->pk, st->keys[i].values, isnull, &st->keys[i].tid, st->rel,
					 UNIQUE_CHECK_YES, false, st->pkinfo);
	}
	MemoryContextReset(st->keycxt);
	st->keys = NULL;
	st->nkeys = st->maxkeys = 0;
}

/* Writes the pending heap tuples and their entries in the other indexes, rolls them up,
 * and keeps their keys for the sorted run. */
static void
flush_heap(Store *st)
{
	if (st->nslots == 0)
		return;
	table_multi_insert(st->rel, st->slots, st->nslots, st->cid, 0, st->bistate);
	for (int i = 0; i < st->nslots; i++)
	{
		TupleTableSlot *slot = st->slots[i];
		Datum		v[NCOLS];
		KeyEntry   *e;

		CHECK_FOR_INTERRUPTS();

		if (st->others->ri_NumIndices > 0)
			list_free(dsx_insert_index_tuples(st->others, slot, st->estate));
		ResetPerTupleExprContext(st->estate);
		slot_getallattrs(slot);
		for (int c = 0; c < NCOLS; c++)
			v[c] = slot->tts_values[st->att[c] - 1];
		roll_add(st, v);

		if (st->slot_rows[i] != NULL)
		{
			/* deduplicating: its key goes in with the run's, in their order */
			st->slot_rows[i]->tid = slot->tts_tid;
			continue;
		}
		if (st->nkeys == st->maxkeys)
		{
			st->maxkeys = Max(st->maxkeys * 2, 4096);
			st->keys = st->keys == NULL
				? MemoryContextAllocHuge(st->keycxt, st->maxkeys * sizeof(KeyEntry))
				: repalloc_huge(st->keys, st->maxkeys * sizeof(KeyEntry));
		}
		e = &st->keys[st->nkeys++];
		e->tid = slot->tts_tid;
		{
			/* both key values in one allocation */
			Size		lf = VARSIZE_ANY(DatumGetPointer(v[C_FACTORY]));
			Size		le = VARSIZE_ANY(DatumGetPointer(v[C_EVENT_ID]));
			char	   *copy = MemoryContextAlloc(st->keycxt, INTALIGN(lf) + le);

			memcpy(copy, DatumGetPointer(v[C_FACTORY]), lf);
			memcpy(copy + INTALIGN(lf), DatumGetPointer(v[C_EVENT_ID]), le);
			e->values[0] = PointerGetDatum(copy);
			e->values[1] = PointerGetDatum(copy + INTALIGN(lf));
		}
	}
	st->inserted += st->nslots;
	st->nslots = 0;
}

/* Queues one event, from a src row in a slot (all attributes fetched), for writing; row is
 * the deduplicating mode's record of it, which gets its place. */
static void
store_event(Store *st, TupleTableSlot *in_slot, Row *row)
{
	TupleTableSlot *out = st->slots[st->nslots];

	/* src's columns by name, and the batch */
	ExecClearTuple(out);
	memset(out->tts_isnull, true, out->tts_tupleDescriptor->natts * sizeof(bool));
	for (int c = 0; c < NCOLS; c++)
	{
		int			a = st->att[c] - 1;

		out->tts_isnull[a] = c == C_BATCH ? false : in_slot->tts_isnull[st->src_att[c] - 1];
		out->tts_values[a] = c == C_BATCH ? Int64GetDatum(st->batch)
			: in_slot->tts_values[st->src_att[c] - 1];
	}
	ExecStoreVirtualTuple(out);
	ExecMaterializeSlot(out);	/* its own copy: the source moves on */
	st->slot_rows[st->nslots] = row;
	if (RelationGetDescr(st->rel)->constr != NULL)
		ExecConstraints(st->rri, out, st->estate);
	if (++st->nslots == STORE_HEAP_BATCH)
	{
		flush_heap(st);
		if (MemoryContextMemAllocated(st->keycxt, true) >= st->budget)
			flush_keys(st);
	}
}

/* Looks the key up among stored events (and those this call stored); the stored event is
 * left in st->found. */
static bool
probe(Store *st, Datum factory, Datum event_id)
{
	st->probekeys[0].sk_argument = factory;
	st->probekeys[1].sk_argument = event_id;
	index_rescan(st->probe, st->probekeys, 2, NULL, 0);
	if (!index_getnext_slot(st->probe, ForwardScanDirection, st->found))
		return false;
	slot_getallattrs(st->found);
	return true;
}

/* Entries a lookup may step over before it descends instead; after WALK_MISSES lookups in
 * a row that ran out of steps (keys far apart), the next PROBE_SPELL lookups descend by
 * plain probes, which cost less than re-positioning the walk, then walking is tried again. */
#define WALK_MAX_STEPS 32
#define WALK_MISSES 4
#define PROBE_SPELL 256

/* Compares event ids in the key's own order (its collation). */
static int
walk_cmp(Store *st, Datum a, Datum b)
{
	return DatumGetInt32(FunctionCall2Coll(&st->order, st->pk->rd_indcollation[1], a, b));
}

/* Moves to the next entry of the walk. */
static void
walk_next(Store *st)
{
	ItemPointer tid = index_getnext_tid(st->walk, ForwardScanDirection);
	bool		isnull;

	st->walk_have = tid != NULL;
	if (tid != NULL)
	{
		st->walk_tid = *tid;
		st->walk_key = index_getattr(st->walk->xs_itup, 2, st->walk->xs_itupdesc, &isnull);
	}
}

/* Descends to the first entry of the factory at or after the key. */
static void
walk_seek(Store *st, Datum factory, Datum key)
{
	st->walkkeys[0].sk_argument = factory;
	st->walkkeys[1].sk_argument = key;
	index_rescan(st->walk, st->walkkeys, 2, NULL, 0);
	st->walking = true;
	st->walk_factory = factory;
	walk_next(st);
}

/*
 * Looks a key up by walking the primary key forward from the previous lookup: a run's keys
 * come sorted, so consecutive ones are usually a few entries apart, and stepping over them
 * costs a comparison each where a lookup from the root costs a descent. A key that sorts
 * before the previous one in the index's own order (the run is sorted bytewise), another
 * factory, or more than WALK_MAX_STEPS entries to step over, descend instead; runs whose
 * keys are far apart use plain probes (see PROBE_SPELL). Entries are read from the index;
 * the heap only for an equal key, whose first version this command can see (SnapshotSelf)
 * is the stored event, left in st->found.
 */
static bool
lookup(Store *st, Datum factory, Datum key)
{
	int			steps = 0;

	if (st->probes_left > 0)
	{
		st->probes_left--;
		st->walking = false;
		st->probed++;
		return probe(st, factory, key);
	}
	if (!st->walking || text_cmp(factory, st->walk_factory) != 0 ||
		walk_cmp(st, key, st->walk_last) < 0)
		walk_seek(st, factory, key);
	st->walk_last = key;
	while (st->walk_have && walk_cmp(st, st->walk_key, key) < 0)
	{
		if (++steps > WALK_MAX_STEPS)
		{
			if (++st->walk_misses >= WALK_MISSES)
			{
				st->walk_misses = 0;
				st->probes_left = PROBE_SPELL;
				st->walking = false;
				st->probed++;
				return probe(st, factory, key);
			}
			walk_seek(st, factory, key);
			break;
		}
		walk_next(st);
	}
	if (steps <= WALK_MAX_STEPS)
		st->walk_misses = 0;
	st->walked++;
	while (st->walk_have && walk_cmp(st, st->walk_key, key) == 0)
	{
		bool		call_again = false;
		bool		all_dead = false;

		if (table_index_fetch_tuple(st->fetch, &st->walk_tid, SnapshotSelf, st->found,
									&call_again, &all_dead))
		{
			slot_getallattrs(st->found);
			return true;
		}
		walk_next(st);
	}
	return false;
}

/* The values of a stored event (a slot) or an incoming row (a tuple), by column position. */
static void
slot_values(Store *st, TupleTableSlot *slot, Datum *v)
{
	for (int c = 0; c < NCOLS; c++)
		v[c] = slot->tts_values[st->att[c] - 1];
	/* compared bytewise: a long stored value may be compressed or out of line */
	v[C_CUSTOMER] = plain_text(v[C_CUSTOMER], NULL);
	v[C_MODEL] = plain_text(v[C_MODEL], NULL);
}

static void
tuple_values(Store *st, HeapTuple tup, Datum *v)
{
	/* one pass over the tuple: heap_getattr would walk it again for every column after
	 * the first text one (nocachegetattr) */
	heap_deform_tuple(tup, st->srcdesc, st->srcvals, st->srcnulls);
	for (int c = 0; c < NCOLS; c++)
		v[c] = c == C_BATCH ? Int64GetDatum(st->batch) : st->srcvals[st->src_att[c] - 1];
}

/* Counts an arrival whose key is stored: a duplicate, or a conflict kept for the run's end. */
static void
compare_arrival(Store *st, const Datum *stored, const Datum *incoming)
{
	MemoryContext old;
	Conflict   *c;

	if (same_payload(stored, incoming))
	{
		st->duplicates++;
		return;
	}
	st->nconflicts++;
	old = MemoryContextSwitchTo(st->conflictcxt);
	c = palloc(sizeof(Conflict));
	for (int k = 0; k < NCOLS; k++)
	{
		bool		byval = col_types[k] != TEXTOID;

		c->stored[k] = k == C_BATCH ? (Datum) 0 : datumCopy(stored[k], byval, byval ? 8 : -1);
		c->incoming[k] = k == C_BATCH ? (Datum) 0 : datumCopy(incoming[k], byval, byval ? 8 : -1);
	}
	st->conflicts = lappend(st->conflicts, c);
	MemoryContextSwitchTo(old);
}

static void keep_conflicts(Store *st);

/* The deduplicating mode's work on one run of rows. */
static void
dedup_run(Store *st, Row *rows, int64 n)
{
	Row		  **fresh = palloc(Max(n, 1) * sizeof(Row *));
	int64		nfresh = 0;
	int64		j;

	sort_rows(rows, n);
	for (int64 i = 0; i < n; i = j)
	{
		Datum		stored[NCOLS];
		Datum		incoming[NCOLS];
		int64		first = i;

		CHECK_FOR_INTERRUPTS();
		for (j = i + 1; j < n && text_cmp(rows[j].factory, rows[i].factory) == 0 &&
			 text_cmp(rows[j].event_id, rows[i].event_id) == 0; j++)
			;
		if (lookup(st, rows[i].factory, rows[i].event_id))
			slot_values(st, st->found, stored);
		else
		{
			/* a new event: its first arrival is stored, later ones compare with it */
			rows[i].stored = true;
			fresh[nfresh++] = &rows[i];
			tuple_values(st, rows[i].tup, stored);
			first = i + 1;
		}
		for (int64 k = first; k < j; k++)
		{
			CHECK_FOR_INTERRUPTS();	/* one key may come a million times */
			tuple_values(st, rows[k].tup, incoming);
			compare_arrival(st, stored, incoming);
		}
	}
	/* the new events: the heap in arrival order, then the key in key order (the run's) */
	sort_rows_by_arrival(fresh, nfresh);
	for (int64 i = 0; i < nfresh; i++)
	{
		CHECK_FOR_INTERRUPTS();
		ExecForceStoreHeapTuple(fresh[i]->tup, st->srcslot, false);
		slot_getallattrs(st->srcslot);
		store_event(st, st->srcslot, fresh[i]);
	}
	flush_heap(st);
	for (int64 i = 0; i < n; i++)
	{
		Datum		key[2];
		bool		isnull[2] = {false, false};

		CHECK_FOR_INTERRUPTS();
		if (!rows[i].stored)
			continue;
		key[0] = rows[i].factory;
		key[1] = rows[i].event_id;
		index_insert(st->pk, key, isnull, &rows[i].tid, st->rel, UNIQUE_CHECK_YES, false,
					 st->pkinfo);
	}
	st->walking = false;		/* the run's keys are gone, and the index has grown */
	keep_conflicts(st);
	pfree(fresh);
}

/* ------------------------------------------------------------ the end: SQL */

/* Builds a one-dimensional array of n datums of the given type. */
static Datum
array_of(Datum *d, int n, Oid type)
{
	int16		len;
	bool		byval;
	char		align;

	get_typlenbyvalalign(type, &len, &byval, &align);
	return PointerGetDatum(construct_array(d, n, type, len, byval, align));
}

/* Refuses the batch if a group's factory is not registered; merges the rollup. */
static void
finish_rollup(Store *st)
{
	long		n = hash_get_num_entries(st->rollup);
	Datum	   *factory = palloc(Max(n, 1) * sizeof(Datum));
	Datum	   *customer = palloc(Max(n, 1) * sizeof(Datum));
	Datum	   *model = palloc(Max(n, 1) * sizeof(Datum));
	Datum	   *day = palloc(Max(n, 1) * sizeof(Datum));
	Datum	   *usage = palloc(Max(n, 1) * sizeof(Datum));
	Oid			nsp = get_namespace_oid("dsx", false);
	Oid			usage_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
											 CStringGetDatum("usage"), ObjectIdGetDatum(nsp));
	Oid			argtypes[5] = {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, DATEARRAYOID,
	get_array_type(usage_type)};
	Datum		args[5];
	HASH_SEQ_STATUS seq;
	RollEntry  *e;
	int			i = 0;
	bool		isnull;
	Datum		unknown;

	if (n == 0)
		return;
	hash_seq_init(&seq, st->rollup);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		Size		pos = 0;
		DateADT		d;

		CHECK_FOR_INTERRUPTS();

		factory[i] = roll_read(e->key.data, &pos);
		customer[i] = roll_read(e->key.data, &pos);
		model[i] = roll_read(e->key.data, &pos);
		memcpy(&d, e->key.data + pos, sizeof(d));
		day[i] = DateADTGetDatum(d);
		usage[i] = PointerGetDatum(&e->usage);
		i++;
	}
	args[0] = array_of(factory, n, TEXTOID);
	args[1] = array_of(customer, n, TEXTOID);
	args[2] = array_of(model, n, TEXTOID);
	args[3] = array_of(day, n, DATEOID);
	args[4] = array_of(usage, n, usage_type);

	if (SPI_execute_with_args(psprintf(
									   "SELECT min(f) FROM pg_catalog.unnest($1) f "
									   "WHERE NOT EXISTS (SELECT 1 FROM %s x WHERE x.factory = f)",
									   st->factories_name),
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "dsx.ingest_rows: factory check failed");
	unknown = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("usage for unknown factory \"%s\"", TextDatumGetCString(unknown)),
				 errdetail("Every event's factory must exist in dsx.factories; nothing was ingested."),
				 errhint("Register the factory, or remove its rows from dsx.usage_inbox, and call dsx.ingest() again.")));

	/* in key order, so that concurrent ingests lock the rollup's rows in one order */
	if (SPI_execute_with_args(psprintf(
									   "INSERT INTO %s AS d (factory, customer, model, day, usage) "
									   "SELECT f, c, m, dy, u FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), "
									   "  pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5)) AS r(f, c, m, dy, u) "
									   "ORDER BY f, dy, c, m "
									   "ON CONFLICT (factory, day, customer, model) "
									   "DO UPDATE SET usage = d.usage OPERATOR(dsx.+) excluded.usage",
									   st->daily_name),
							  5, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "dsx.ingest_rows: rollup failed");
}

/* Keeps the run's conflicting payloads aside, each distinct one once with how often it
 * came, and forgets them (memory stays bounded by the run). */
static void
keep_conflicts(Store *st)
{
	int			n = list_length(st->conflicts);
	static const int cols[5] = {C_OCCURRED_AT, C_CUSTOMER, C_MODEL, C_INPUT, C_OUTPUT};
	Datum	   *d[12];
	Oid			argtypes[12];
	Datum		args[12];
	ListCell   *lc;
	int			i = 0;

	if (n == 0)
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "dsx.ingest_rows: SPI_connect failed");
	for (int a = 0; a < 12; a++)
		d[a] = palloc(n * sizeof(Datum));
	foreach(lc, st->conflicts)
	{
		Conflict   *c = lfirst(lc);

		CHECK_FOR_INTERRUPTS();

		d[0][i] = c->stored[C_FACTORY];
		d[1][i] = c->stored[C_EVENT_ID];
		for (int k = 0; k < 5; k++)
		{
			d[2 + k][i] = c->stored[cols[k]];
			d[7 + k][i] = c->incoming[cols[k]];
		}
		i++;
	}
	for (int a = 0; a < 12; a++)
	{
		Oid			t = a < 2 ? TEXTOID : col_types[cols[(a - 2) % 5]];

		args[a] = array_of(d[a], n, t);
		argtypes[a] = get_array_type(t);
	}
	if (SPI_execute_with_args(st->keep_sql,
							  12, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "dsx.ingest_rows: conflicts failed");
	SPI_finish();
	MemoryContextReset(st->conflictcxt);
	st->conflicts = NIL;
	st->cid = GetCurrentCommandId(true);	/* the statement above took a command id */
}

/* ------------------------------------------------------------ the function */

/* Refuses a row whose occurred_at a dsx.usage cannot carry (infinity, 4713 BC, year
 * 294276: the daily rollup could not be printed or read back), naming its event. The
 * inbox's CHECK refuses them at load; a source without it is refused here, row by row as
 * it is read, before the row is compared, probed or written (and the error undoes the
 * rows written before it). */
static void
check_occurred_at(Store *st, TupleTableSlot *in)
{
	TimestampTz at = DatumGetTimestampTz(in->tts_values[st->src_att[C_OCCURRED_AT] - 1]);

	if (!dsx_usage_timestamp_ok(at))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("occurred_at of event \"%s\" of factory \"%s\" out of range",
						TextDatumGetCString(in->tts_values[st->src_att[C_EVENT_ID] - 1]),
						TextDatumGetCString(in->tts_values[st->src_att[C_FACTORY] - 1])),
				 errdetail("occurred_at is %s; usage timestamps must lie from 0001-01-01 00:00:00 UTC up to, not including, 10000-01-01 00:00:00 UTC.",
						   timestamptz_to_str(at)),
				 errhint("Correct or remove the row, and call dsx.ingest() again.")));
}

/* Reads src: in all-new mode straight into usage_events; in the deduplicating mode in
 * runs of rows sorted and looked up together. */
static void
move_rows(Store *st, Relation src, bool dedup)
{
	TupleTableSlot *in = table_slot_create(src, &st->estate->es_tupleTable);
	TableScanDesc scan = table_beginscan(src, GetActiveSnapshot(), 0, NULL);
	MemoryContext runcxt = AllocSetContextCreate(CurrentMemoryContext, "dsx ingest rows",
												 ALLOCSET_DEFAULT_SIZES);
	Row		   *rows = NULL;
	int64		nrows = 0;
	int64		maxrows = 0;
	int64		seq = 0;
	Ordinals	ordinals;
	bool		expanded;

	ordinals_init(&ordinals);
	st->srcdesc = RelationGetDescr(src);
	st->srcvals = palloc(Max(st->srcdesc->natts, 1) * sizeof(Datum));
	st->srcnulls = palloc(Max(st->srcdesc->natts, 1) * sizeof(bool));
	st->srcslot = table_slot_create(src, &st->estate->es_tupleTable);
	while (table_scan_getnextslot(scan, ForwardScanDirection, in))
	{
		CHECK_FOR_INTERRUPTS();
		slot_getallattrs(in);
		expanded = false;
		for (int c = 0; c < C_BATCH; c++)
		{
			/* the inbox refuses NULLs; a source that does not is refused here */
			if (in->tts_isnull[st->src_att[c] - 1])
				ereport(ERROR,
						(errcode(ERRCODE_NOT_NULL_VIOLATION),
						 errmsg("null value in column \"%s\" of relation \"usage_events\"",
								col_names[c])));
			if (col_types[c] == TEXTOID)
				in->tts_values[st->src_att[c] - 1] =
					plain_text(in->tts_values[st->src_att[c] - 1], &expanded);
		}
		check_occurred_at(st, in);
		if (!dedup)
		{
			/* a stored key among the first rows: deduplicate, before writing anything */
			if (seq++ < STORE_FIRST_PROBES &&
				probe(st, in->tts_values[st->src_att[C_FACTORY] - 1],
					  in->tts_values[st->src_att[C_EVENT_ID] - 1]))
				ereport(ERROR,
						(errcode(ERRCODE_UNIQUE_VIOLATION),
						 errmsg("event \"%s\" of factory \"%s\" is already stored",
								TextDatumGetCString(in->tts_values[st->src_att[C_EVENT_ID] - 1]),
								TextDatumGetCString(in->tts_values[st->src_att[C_FACTORY] - 1]))));
			store_event(st, in, NULL);
			continue;
		}

		/* deduplicating: keep the row */
		if (nrows == maxrows)
		{
			maxrows = Max(maxrows * 2, 4096);
			rows = rows == NULL ? MemoryContextAllocHuge(runcxt, maxrows * sizeof(Row))
				: repalloc_huge(rows, maxrows * sizeof(Row));
		}
		{
			MemoryContext old = MemoryContextSwitchTo(runcxt);
			Row		   *r = &rows[nrows++];
			bool		dummy;

			r->tup = expanded ? heap_form_tuple(st->srcdesc, in->tts_values, in->tts_isnull)
				: ExecCopySlotHeapTuple(in);
			r->seq = seq++;
			r->factory = heap_getattr(r->tup, st->src_att[C_FACTORY], st->srcdesc, &dummy);
			r->event_id = heap_getattr(r->tup, st->src_att[C_EVENT_ID], st->srcdesc, &dummy);
			r->stored = false;
			r->abbrev = abbreviate(r->event_id);
			MemoryContextSwitchTo(old);
			r->ordinal = ordinal_of(&ordinals, r->factory);
		}
		if (MemoryContextMemAllocated(runcxt, true) >= st->budget)
		{
			dedup_run(st, rows, nrows);
			MemoryContextReset(runcxt);
			rows = NULL;
			nrows = maxrows = 0;
		}
	}
	if (dedup)
		dedup_run(st, rows, nrows);
	else
	{
		flush_heap(st);
		flush_keys(st);
	}
	table_endscan(scan);
	MemoryContextDelete(runcxt);
}

PG_FUNCTION_INFO_V1(dsx_ingest_rows);
PG_FUNCTION_INFO_V1(dsx_ingest_rows_into);

/* keep_conflicts' statement, into conflicts (a quoted name): conflict_id its default, or
 * kept_id_base + nextval(kept_ids) where kept_ids is given. */
static char *
keep_statement(const char *conflicts, Oid kept_ids, int64 kept_id_base)
{
	char	   *id_col = "",
			   *id_val = "";

	if (OidIsValid(kept_ids))
	{
		id_col = "conflict_id, ";
		id_val = psprintf("OVERRIDING SYSTEM VALUE SELECT " INT64_FORMAT " OPERATOR(pg_catalog.+) "
						  "pg_catalog.nextval(%u::pg_catalog.oid::pg_catalog.regclass), g.* FROM (",
						  kept_id_base, kept_ids);
	}
	return psprintf("INSERT INTO %s AS c "
					"(%sfactory, event_id, stored_occurred_at, stored_customer, stored_model, "
					" stored_input_tokens, stored_output_tokens, incoming_occurred_at, "
					" incoming_customer, incoming_model, incoming_input_tokens, "
					" incoming_output_tokens, times_seen) %s"
					"SELECT f, e, sa, sc, sm, si, so, ia, ic, im, ii, io, count(*) "
					"FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3), "
					"  pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7), "
					"  pg_catalog.unnest($8), pg_catalog.unnest($9), pg_catalog.unnest($10), pg_catalog.unnest($11), "
					"  pg_catalog.unnest($12)) "
					"  AS r(f, e, sa, sc, sm, si, so, ia, ic, im, ii, io) "
					"GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 ORDER BY 1, 2%s "
					"ON CONFLICT (factory, event_id, incoming_occurred_at, incoming_customer, "
					"             incoming_model, incoming_input_tokens, incoming_output_tokens) "
					"DO UPDATE SET times_seen = c.times_seen + excluded.times_seen, "
					"              last_seen = pg_catalog.now()",
					conflicts, id_col, id_val, OidIsValid(kept_ids) ? ") g" : "");
}

/* The quoted, qualified name of a relation, for the SQL statements of the step. */
static const char *
relation_name(Oid relid)
{
	char	   *name = get_rel_name(relid);

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), name);
}

/* A table of dsx's by name; an error when it is missing. */
static Oid
dsx_table(const char *name)
{
	Oid			relid = get_relname_relid(name, get_namespace_oid("dsx", false));

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"dsx.%s\" does not exist", name)));
	return relid;
}

/* The step, from src into events, daily and conflicts, reading the time zones and the
 * registered factories from factories: dsx.ingest_rows and dsx.ingest_rows_into. */
static Datum
ingest_into(FunctionCallInfo fcinfo, Oid src_id, Oid events_id, Oid daily_id,
			Oid conflicts_id, Oid factories_id, Oid kept_ids, int64 kept_id_base,
			int64 batch, bool dedup)
{
	TupleDesc	result_desc;
	Datum		result[3] = {0, 0, 0};
	bool		result_null[3] = {true, true, true};
	Relation	src;
	Store		st = {0};
	HASHCTL		ctl;
	Oid			opfuncs[2];

	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "dsx.ingest_rows must return a record");
	result_desc = BlessTupleDesc(result_desc);

	st.daily_name = relation_name(daily_id);
	st.factories_name = relation_name(factories_id);
	st.keep_sql = keep_statement(relation_name(conflicts_id), kept_ids, kept_id_base);
	/* table privileges as INSERT ... SELECT checks them; column grants are SQL's to judge */
	if (pg_class_aclcheck(src_id, GetUserId(), ACL_SELECT) != ACLCHECK_OK ||
		pg_class_aclcheck(events_id, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(result_desc, result, result_null)));

	src = table_open(src_id, AccessShareLock);
	st.rel = table_open(events_id, RowExclusiveLock);
	st.batch = batch;
	st.estate = CreateExecutorState();
	st.rri = makeNode(ResultRelInfo);
	InitResultRelInfo(st.rri, st.rel, 0, NULL, 0);
	ExecOpenIndices(st.rri, false);
	if (!plain_target(&st, src, daily_id) || !split_indexes(&st))
	{
		ExecCloseIndices(st.rri);
		FreeExecutorState(st.estate);
		table_close(st.rel, NoLock);
		table_close(src, NoLock);
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(result_desc, result, result_null)));
	}

	st.cxt = AllocSetContextCreate(CurrentMemoryContext, "dsx ingest", ALLOCSET_DEFAULT_SIZES);
	st.conflictcxt = AllocSetContextCreate(CurrentMemoryContext, "dsx ingest conflicts",
										   ALLOCSET_DEFAULT_SIZES);
	st.keycxt = AllocSetContextCreate(CurrentMemoryContext, "dsx ingest keys",
									  ALLOCSET_DEFAULT_SIZES);
	st.budget = (Size) maintenance_work_mem * 1024;
	st.cid = GetCurrentCommandId(true);
	st.bistate = GetBulkInsertState();
	for (int i = 0; i < STORE_HEAP_BATCH; i++)
		st.slots[i] = table_slot_create(st.rel, &st.estate->es_tupleTable);
	st.found = table_slot_create(st.rel, &st.estate->es_tupleTable);
	/* lookups see what this command stores too (SnapshotSelf) */
	st.probe = index_beginscan(st.rel, st.pk, SnapshotSelf, 2, 0);
	for (int k = 0; k < 2; k++)
	{
		opfuncs[k] = get_opcode(get_opfamily_member(st.pk->rd_opfamily[k], st.pk->rd_opcintype[k],
													st.pk->rd_opcintype[k], BTEqualStrategyNumber));
		ScanKeyEntryInitialize(&st.probekeys[k], 0, k + 1, BTEqualStrategyNumber, InvalidOid,
							   st.pk->rd_indcollation[k], opfuncs[k], (Datum) 0);
	}
	st.walk = index_beginscan(st.rel, st.pk, SnapshotSelf, 2, 0);
	st.walk->xs_want_itup = true;
	st.fetch = table_index_fetch_begin(st.rel);
	ScanKeyEntryInitialize(&st.walkkeys[0], 0, 1, BTEqualStrategyNumber, InvalidOid,
						   st.pk->rd_indcollation[0], opfuncs[0], (Datum) 0);
	ScanKeyEntryInitialize(&st.walkkeys[1], 0, 2, BTGreaterEqualStrategyNumber, InvalidOid,
						   st.pk->rd_indcollation[1],
						   get_opcode(get_opfamily_member(st.pk->rd_opfamily[1], st.pk->rd_opcintype[1],
														  st.pk->rd_opcintype[1], BTGreaterEqualStrategyNumber)),
						   (Datum) 0);
	fmgr_info_copy(&st.order, index_getprocinfo(st.pk, 2, BTORDER_PROC), CurrentMemoryContext);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(RollKey);
	ctl.entrysize = sizeof(RollEntry);
	ctl.hash = roll_hash;
	ctl.match = roll_match;
	ctl.hcxt = st.cxt;
	st.rollup = hash_create("dsx ingest rollup", 1024, &ctl,
							HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	initStringInfo(&st.rollbuf);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "dsx.ingest_rows: SPI_connect failed");
	load_zones(&st, factories_id);
	SPI_finish();

	move_rows(&st, src, dedup);

	elog(DEBUG1, "dsx.ingest_rows: %lld keys looked up by walking the key, %lld by probes",
		 (long long) st.walked, (long long) st.probed);
	index_endscan(st.probe);
	index_endscan(st.walk);
	table_index_fetch_end(st.fetch);
	FreeBulkInsertState(st.bistate);
	ExecCloseIndices(st.rri);
	ExecResetTupleTable(st.estate->es_tupleTable, false);
	FreeExecutorState(st.estate);
	table_close(st.rel, NoLock);
	table_close(src, NoLock);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "dsx.ingest_rows: SPI_connect failed");
	finish_rollup(&st);
	SPI_finish();

	result[0] = Int64GetDatum(st.inserted);
	result[1] = Int64GetDatum(st.duplicates);
	result[2] = Int64GetDatum(st.nconflicts);
	result_null[0] = result_null[1] = result_null[2] = false;
	MemoryContextDelete(st.keycxt);
	MemoryContextDelete(st.conflictcxt);
	MemoryContextDelete(st.cxt);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(result_desc, result, result_null)));
}

/*
 * dsx.ingest_rows(src regclass, batch bigint, dedup boolean,
 *                 OUT inserted bigint, OUT duplicates bigint, OUT conflicts bigint)
 * into dsx's own tables.
 */
Datum
dsx_ingest_rows(PG_FUNCTION_ARGS)
{
	return ingest_into(fcinfo, PG_GETARG_OID(0), dsx_table("usage_events"), dsx_table("usage_daily"),
					   dsx_table("usage_conflicts"), dsx_table("factories"), InvalidOid, 0,
					   PG_GETARG_INT64(1), PG_GETARG_BOOL(2));
}

/*
 * dsx.ingest_rows_into(src regclass, events regclass, daily regclass, kept regclass,
 *                      factories regclass, kept_ids regclass, kept_id_base bigint,
 *                      batch bigint, dedup boolean,
 *                      OUT inserted bigint, OUT duplicates bigint, OUT conflicts bigint)
 * into the given tables: on a Citus node, one group of co-located shards and the node's
 * copy of the factories (dsx.ingest_shard). A conflict kept is numbered kept_id_base +
 * nextval(kept_ids).
 */
Datum
dsx_ingest_rows_into(PG_FUNCTION_ARGS)
{
	return ingest_into(fcinfo, PG_GETARG_OID(0), PG_GETARG_OID(1), PG_GETARG_OID(2),
					   PG_GETARG_OID(3), PG_GETARG_OID(4), PG_GETARG_OID(5), PG_GETARG_INT64(6),
					   PG_GETARG_INT64(7), PG_GETARG_BOOL(8));
}
