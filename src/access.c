/* src/access.c — dsx.sees(kind, key), the test every row-level security policy of dsx
 * makes: whether the current role may see the rows of a party, factory, agreement, plan or
 * role. A policy may not hold a subquery on a Citus table (its expression is copied onto
 * every shard and evaluated on the worker that holds it), so the policies call this
 * function on each row instead of running (SELECT dsx.current_partners()) once. It answers
 * from a set it computes on its first call in a query and keeps for the rest of that query
 * (in the call site's fn_extra, which lives as long as the query's executor state): the
 * keys of the kind the role may see, from dsx.visible_keys(role, kind), which runs with
 * the rights of the function's owner (the extension owner), so that the tables it reads
 * apply no policy of their own (which would call back here) and no role can read another
 * role's answer. On a Citus worker that query reads reference tables from inside a query on
 * a shard, which Citus allows when citus.allow_nested_distributed_execution is on: it is
 * set for the lookup alone (reference tables have a copy on every node, so the answer is
 * the coordinator's). */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

/* What a call site remembers: for which role and kind, and the sorted keys (as text). */
typedef struct SeesCache
{
	Oid			role;
	char	   *kind;
	int			nkeys;
	text	  **keys;
} SeesCache;

/* qsort/bsearch comparison of two texts in byte order (text equality is byte equality):
 * the bytes they share, then the length. A key is compared as it comes, without a copy. */
static int
compare_keys(const void *a, const void *b)
{
	const text *x = *(text *const *) a;
	const text *y = *(text *const *) b;
	int			lx = VARSIZE_ANY_EXHDR(x);
	int			ly = VARSIZE_ANY_EXHDR(y);
	int			c = memcmp(VARDATA_ANY(x), VARDATA_ANY(y), Min(lx, ly));

	return c != 0 ? c : (lx > ly) - (lx < ly);
}

/* The role that owns the function being called: the extension's owner. */
static Oid
function_owner(Oid fn)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fn);
	owner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;
	ReleaseSysCache(tup);
	return owner;
}

/* Fills the cache with the keys of the kind the role may see, looked up as the owner. */
static void
load_keys(SeesCache *cache, FunctionCallInfo fcinfo, Oid role, const char *kind)
{
	MemoryContext mcxt = fcinfo->flinfo->fn_mcxt;
	Oid			save_user;
	int			save_sec;
	int			nest;
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		args[2];
	int			ret;

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(function_owner(fcinfo->flinfo->fn_oid),
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	nest = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (GetConfigOption("citus.allow_nested_distributed_execution", true, false) != NULL)
		(void) set_config_option("citus.allow_nested_distributed_execution", "on", PGC_SUSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = ObjectIdGetDatum(role);
	args[1] = CStringGetTextDatum(kind);
	ret = SPI_execute_with_args("SELECT k FROM pg_catalog.unnest(dsx.visible_keys($1, $2)) k WHERE k IS NOT NULL",
								2, argtypes, args, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "dsx.visible_keys failed: %s", SPI_result_code_string(ret));

	cache->kind = NULL;			/* until the keys are all in */
	cache->nkeys = (int) SPI_processed;
	cache->keys = MemoryContextAlloc(mcxt, sizeof(text *) * Max(cache->nkeys, 1));
	for (int i = 0; i < cache->nkeys; i++)
	{
		char	   *k = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		MemoryContext old = MemoryContextSwitchTo(mcxt);

		cache->keys[i] = cstring_to_text(k);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	AtEOXact_GUC(true, nest);
	SetUserIdAndSecContext(save_user, save_sec);

	qsort(cache->keys, cache->nkeys, sizeof(text *), compare_keys);
	cache->role = role;
	cache->kind = MemoryContextStrdup(mcxt, kind);
}

/* The call site's keys of the kind for the current role, computed on its first call. */
static SeesCache *
keys_for(FunctionCallInfo fcinfo, const char *kind)
{
	SeesCache  *cache = (SeesCache *) fcinfo->flinfo->fn_extra;
	Oid			role = GetUserId();

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(SeesCache));
		fcinfo->flinfo->fn_extra = cache;
	}
	if (cache->kind == NULL || cache->role != role || strcmp(cache->kind, kind) != 0)
		load_keys(cache, fcinfo, role, kind);
	return cache;
}

/* The keys as a text[] (empty, not NULL, when there are none). */
static Datum
keys_array(SeesCache *cache)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(cache->nkeys, 1));

	for (int i = 0; i < cache->nkeys; i++)
		elems[i] = PointerGetDatum(cache->keys[i]);
	return PointerGetDatum(construct_array(elems, cache->nkeys, TEXTOID, -1, false, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(dsx_sees);
Datum
dsx_sees(PG_FUNCTION_ARGS)
{
	text	   *kind = PG_GETARG_TEXT_PP(0);
	text	   *key = PG_GETARG_TEXT_PP(1);
	SeesCache  *cache = (SeesCache *) fcinfo->flinfo->fn_extra;

	/* called on every row a policy filters: the kind is compared, not copied, while it
	 * stays the cached one */
	if (cache == NULL || cache->kind == NULL || cache->role != GetUserId() ||
		strlen(cache->kind) != VARSIZE_ANY_EXHDR(kind) ||
		memcmp(cache->kind, VARDATA_ANY(kind), VARSIZE_ANY_EXHDR(kind)) != 0)
		cache = keys_for(fcinfo, text_to_cstring(kind));

	PG_RETURN_BOOL(cache->nkeys > 0 &&
				   bsearch(&key, cache->keys, cache->nkeys, sizeof(text *), compare_keys) != NULL);
}

/*
 * The current role's keys of one kind, as the policies see them: what dsx.current_partners()
 * and its siblings return (in byte order). C, not SQL, so that they too can run on a Citus
 * worker, inside a query on a shard, and compute once per query.
 */
PG_FUNCTION_INFO_V1(dsx_current_partners);
Datum
dsx_current_partners(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(keys_array(keys_for(fcinfo, "partner")));
}

PG_FUNCTION_INFO_V1(dsx_current_vendors);
Datum
dsx_current_vendors(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(keys_array(keys_for(fcinfo, "vendor")));
}

PG_FUNCTION_INFO_V1(dsx_current_factories);
Datum
dsx_current_factories(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(keys_array(keys_for(fcinfo, "factory")));
}

PG_FUNCTION_INFO_V1(dsx_current_agreements);
Datum
dsx_current_agreements(PG_FUNCTION_ARGS)
{
	bool		with_vendor = PG_ARGISNULL(0) ? false : PG_GETARG_BOOL(0);

	PG_RETURN_DATUM(keys_array(keys_for(fcinfo, with_vendor ? "agreement" : "partner_agreement")));
}

PG_FUNCTION_INFO_V1(dsx_current_loader_factories);
Datum
dsx_current_loader_factories(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(keys_array(keys_for(fcinfo, "loader_factory")));
}
