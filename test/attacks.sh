#!/usr/bin/env bash
# test/attacks.sh — least privilege, tried as an attacker would: with the real logins of a
# loader, a partner, a vendor, an operator and an auditor, every attack found on dsx 1.0
# (rewriting the rollup, inserting events behind ingest, forging the ingest log, loading
# another partner's factory, running the bulk step directly, a vendor's verification that
# could not see usage) is made against a database at the default version and must be
# refused; the same attacks are made against a database created at 1.0 as the control,
# where they succeed (so that a refusal below is the new code's doing, not the test's).
# Then the calls that ignored cancellation or raised internal errors.
#
# Needs a running cluster with dsx installed (PGHOST, PGPORT); scripts/test.sh runs it with
# DSX_ROOT and PGBIN set. Prints TAP lines; exits non-zero on any failure.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tap.bash"

tag=$$
cur=dsx_attack_cur_$tag
old=dsx_attack_old_$tag
roles=(att_loader_$tag att_partner_$tag att_vendor_$tag att_op_$tag att_auditor_$tag att_grp_$tag att_m_$tag att_px_$tag)
loader=${roles[0]} partner=${roles[1]} vendor=${roles[2]} op=${roles[3]} auditor=${roles[4]}
grp=${roles[5]} member=${roles[6]} px=${roles[7]}
cleanup() {
  as_pg "$PGBIN/dropdb" --if-exists "$cur" 2>/dev/null
  as_pg "$PGBIN/dropdb" --if-exists "$old" 2>/dev/null
  local r
  for r in "${roles[@]}"; do as_pg "$PGBIN/psql" -X -q -d postgres -c "DROP ROLE IF EXISTS $r" 2>/dev/null; done
}
trap cleanup EXIT

# try DB ROLE SQL: run SQL logged in as ROLE; prints ok, or the SQLSTATE it failed with.
try() {
  local out
  out=$(as_pg env PGUSER="$2" "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -d "$1" -c "$3" 2>&1) &&
    { echo ok; return; }
  echo "$out" | sed -n 's/^.*ERROR: *\([0-9A-Z]\{5\}\).*$/\1/p' | head -n1
}

for r in "${roles[@]}"; do as_pg "$PGBIN/psql" -X -q -d postgres -c "CREATE ROLE $r LOGIN"; done
as_pg "$PGBIN/psql" -X -q -d postgres -c "GRANT dsx_operator TO $op" -c "GRANT dsx_loader TO $loader"

# The same books in both databases: two partners' factories, January settled.
read -r -d '' BOOKS <<'SQL'
INSERT INTO dsx.parties VALUES ('at-vendor', 'vendor', 'V'), ('at-p1', 'partner', 'P1'), ('at-p2', 'partner', 'P2');
INSERT INTO dsx.factories VALUES ('at-f1', 'at-p1', 'USD', 'x', 8, 1), ('at-f2', 'at-p2', 'USD', 'x', 8, 1);
INSERT INTO dsx.price_plans VALUES ('at-plan', 'm', '2', '8');
INSERT INTO dsx.customer_plans VALUES ('c1', 'at-f1', 'at-plan'), ('c1', 'at-f2', 'at-plan');
INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts)
VALUES ('at-a1', 'at-p1', 'at-vendor', 'at-f1', 'vendor=30%, partner=70%', '2026-01-01'),
       ('at-a2', 'at-p2', 'at-vendor', 'at-f2', 'vendor=30%, partner=70%', '2026-01-01');
INSERT INTO dsx.usage_inbox VALUES ('u1', '2026-01-03Z', 'at-f1', 'c1', 'm', 300000000, 20000000),
                                   ('u2', '2026-01-04Z', 'at-f2', 'c1', 'm', 100000000, 10000000);
SELECT * FROM dsx.ingest();
SELECT dsx.settle('at-a1', '2026-01-01'), dsx.settle('at-a2', '2026-01-01');
SQL
as_pg "$PGBIN/createdb" "$cur" && as_pg "$PGBIN/createdb" "$old"
q "$cur" -c "CREATE EXTENSION dsx" -c "$BOOKS" >/dev/null
q "$old" -c "CREATE EXTENSION dsx VERSION '1.0'" -c "$BOOKS" >/dev/null
is "$(q "$cur" -c "SELECT extversion FROM pg_extension WHERE extname = 'dsx'")|$(q "$old" -c "SELECT extversion FROM pg_extension WHERE extname = 'dsx'")" \
   "$(sed -n "s/^default_version *= *'\(.*\)'.*/\1/p" "$("$PGBIN/pg_config" --sharedir)/extension/dsx.control")|1.0" \
   "the attacked database is at the default version, the control at 1.0"
q "$cur" -c "SELECT dsx.grant_loader('$loader', 'at-f1'), dsx.grant_partner('$partner', 'at-p1'),
                    dsx.grant_vendor('$vendor', 'at-vendor')" -c "GRANT dsx_auditor TO $auditor" >/dev/null
q "$old" -c "SELECT dsx.grant_partner('$partner', 'at-p1'), dsx.grant_vendor('$vendor', 'at-vendor')" >/dev/null

# attack DESCRIPTION ROLE SQL [WANT]: refused in the current database (WANT, default 42501);
# allowed in the 1.0 control database.
attack() {
  local want=${4:-42501}
  is "$(try "$cur" "$2" "$3")" "$want" "$1: refused ($want)"
  is "$(try "$old" "$2" "$3")" ok "control, on 1.0: $1 went through"
}

# a loader rewriting another partner's rollup (1.0 then booked the difference as an adjustment)
attack "a loader updates another partner's daily rollup" "$loader" \
  "UPDATE dsx.usage_daily SET usage = usage OPERATOR(dsx.+) usage WHERE factory = 'at-f2'"
attack "a loader inserts an event behind ingest, with an old batch id" "$loader" \
  "INSERT INTO dsx.usage_events VALUES ('at-f1', 'forged', '2026-01-05Z', 'c1', 'm', 5, 5, 1)"
attack "a loader runs the bulk step directly" "$loader" \
  "SELECT * FROM dsx.ingest_rows('dsx.usage_inbox', 1, true)"
attack "a loader forges an ingest log row in another's name" "$loader" \
  "INSERT INTO dsx.ingest_log (batch_id, ingested_by, inserted, duplicates, conflicts) VALUES (9999, '$op', 0, 0, 0)"
attack "a loader loads usage of another partner's factory" "$loader" \
  "INSERT INTO dsx.usage_inbox VALUES ('x1', '2026-02-03Z', 'at-f2', 'c1', 'm', 1, 1)"
attack "a loader loads usage for an unknown customer of another partner's factory (blocking its settlement)" "$loader" \
  "INSERT INTO dsx.usage_inbox VALUES ('x2', '2026-02-03Z', 'at-f2', 'nobody', 'm', 1, 1)"
attack "a loader empties the inbox others load into" "$loader" "TRUNCATE dsx.usage_inbox"
attack "an operator rewrites the rollup" "$op" "UPDATE dsx.usage_daily SET usage = usage OPERATOR(dsx.+) usage"
attack "an operator writes a statement line by hand" "$op" \
  "INSERT INTO dsx.statement_lines SELECT agreement, period_start, for_period, customer || 'x', model, input_tokens, output_tokens, amount, plan, input_price, output_price FROM dsx.statement_lines LIMIT 1"

# The functions that run with the owner's rights must not run the caller's code: a table the
# caller plants in the session's temporary schema, under a name such a function once used,
# with a trigger that would make the caller a superuser and forge usage of another factory.
plant() {  # plant TABLE COLUMNS EVENT: the session's planted table and trigger, as SQL
  cat <<SQL
CREATE TEMP TABLE $1 ($2);
CREATE FUNCTION pg_temp.evil() RETURNS trigger LANGUAGE plpgsql AS \\$f\\$
BEGIN
    EXECUTE format('ALTER ROLE %I SUPERUSER', session_user);
    INSERT INTO dsx.usage_events VALUES ('at-f2', 'forged', '2026-01-05Z', 'c1', 'm', 5, 5, 1);
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN RETURN NULL;
END \\$f\\$;
CREATE TRIGGER evil AFTER $3 ON pg_temp.$1 FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.evil();
SQL
}
as_pg env PGUSER="$loader" "$PGBIN/psql" -X -q -d "$cur" >/dev/null 2>&1 <<SQL
$(plant dsx_ingest_rows "event_id text, occurred_at timestamptz, factory text, customer text, model text, input_tokens bigint, output_tokens bigint" "INSERT OR UPDATE OR DELETE")
INSERT INTO dsx.usage_inbox VALUES ('pl1', '2026-02-05Z', 'at-f1', 'c1', 'm', 1, 1);
SELECT * FROM dsx.ingest();
SQL
as_pg env PGUSER="$op" "$PGBIN/psql" -X -q -d "$cur" >/dev/null 2>&1 <<SQL
$(plant dsx_void_days "customer text, model text, day date" "TRUNCATE OR INSERT OR DELETE")
SELECT dsx.void_events('at-f1', ARRAY['pl1'], 'planted');
SQL
is "$(q "$cur" -c "SELECT string_agg(rolname, ',') FROM pg_roles WHERE rolsuper AND rolname IN ('$loader', '$op')")" "" \
   "a table planted in the session's temporary schema does not run with the owner's rights (ingest, voids)"
is "$(q "$cur" -c "SELECT count(*) FROM dsx.usage_events WHERE event_id = 'forged'")" 0 "and forges no usage"
is "$(q "$cur" -c "SELECT count(*) FROM dsx.usage_events WHERE event_id = 'pl1'")|$(q "$cur" -c "SELECT count(*) FROM dsx.usage_voids WHERE event_id = 'pl1'")" "1|1" \
   "while the loader's ingest and the operator's void did their work"

# what the current version refuses and what it still lets each role do
is "$(q "$cur" -c "SELECT count(*) FROM dsx.usage_inbox WHERE event_id LIKE 'x%'")" 0 "nothing of the refused loads was stored"
is "$(try "$cur" "$loader" "INSERT INTO dsx.usage_inbox VALUES ('ok1', '2026-02-03Z', 'at-f1', 'c1', 'm', 1000000, 0)")" ok \
   "a loader loads its own factory's usage"
as_pg env PGUSER="$op" "$PGBIN/psql" -X -q -d "$cur" -c "INSERT INTO dsx.usage_inbox VALUES ('ok2', '2026-02-04Z', 'at-f2', 'c1', 'm', 1000000, 0)"
is "$(as_pg env PGUSER="$loader" "$PGBIN/psql" -X -q -At -d "$cur" -c "SELECT inserted FROM dsx.ingest()")" 1 \
   "the loader's ingest moves its own factory's row only"
is "$(q "$cur" -c "SELECT string_agg(event_id, ',') FROM dsx.usage_inbox")" ok2 "another factory's pending row stays for its own loader"
is "$(q "$cur" -c "SELECT ingested_by FROM dsx.ingest_log ORDER BY batch_id DESC LIMIT 1")" "$loader" "the log records the loader's login"
is "$(as_pg env PGUSER="$loader" "$PGBIN/psql" -X -q -At -d "$cur" -c "SELECT string_agg(DISTINCT factory, ',') FROM dsx.usage_events")" at-f1 \
   "a loader sees its own factory's events only"
is "$(try "$cur" "$loader" "SELECT * FROM dsx.usage_inbox")" 42501 "a loader does not read the inbox others load into"

# verification: the same answer for everyone who may see the statement, nothing for others
is "$(as_pg env PGUSER="$vendor" "$PGBIN/psql" -X -q -At -d "$cur" -c "SELECT dsx.verify_settlement('at-a1', '2026-01-01')")" t \
   "the vendor's verification of a correct statement says true"
is "$(as_pg env PGUSER="$vendor" "$PGBIN/psql" -X -q -At -d "$old" -c "SELECT dsx.verify_settlement('at-a1', '2026-01-01')" 2>/dev/null)" f \
   "control, on 1.0: it said false (the vendor cannot see usage)"
is "$(as_pg env PGUSER="$auditor" "$PGBIN/psql" -X -q -At -d "$cur" -c "SELECT dsx.verify_settlement('at-a2', '2026-01-01')")" t \
   "an auditor verifies any statement"
hidden=$(as_pg env PGUSER="$partner" "$PGBIN/psql" -X -q -At -d "$cur" -c "SELECT dsx.verify_settlement('at-a2', '2026-01-01')" 2>&1)
missing=$(as_pg env PGUSER="$partner" "$PGBIN/psql" -X -q -At -d "$cur" -c "SELECT dsx.verify_settlement('at-a2', '2031-01-01')" 2>&1)
is "${hidden/2026-01-01/P}" "${missing/2031-01-01/P}" "a partner asking about another partner's statement learns what it would of one that does not exist"
is "$(try "$cur" "$partner" "SELECT dsx.verify_settlement('at-a1', '2026-01-01')")" ok "a partner verifies its own statement"

# Acting as a role through SET ROLE: a login that does not inherit its memberships gets, once
# it SETs ROLE, what the role gets, from the row filters and from dsx's functions alike; and
# nobody acts through dsx's functions as a role it could not SET ROLE to.
as_pg "$PGBIN/psql" -X -q -d postgres -c "ALTER ROLE $grp NOLOGIN" -c "ALTER ROLE $member NOINHERIT" -c "ALTER ROLE $px NOINHERIT" \
  -c "GRANT $grp TO $member" -c "GRANT $partner TO $px"
q "$cur" -c "SELECT dsx.grant_loader('$grp', 'at-f1')" >/dev/null
is "$(as_pg env PGUSER="$member" "$PGBIN/psql" -X -q -At -d "$cur" -c "SET ROLE $grp" \
        -c "INSERT INTO dsx.usage_inbox VALUES ('sr1', '2026-02-06Z', 'at-f1', 'c1', 'm', 1, 1)" -c "SELECT inserted FROM dsx.ingest()")" 1 \
   "a member that SETs ROLE to a mapped loader group loads and ingests as the group"
is "$(as_pg env PGUSER="$px" "$PGBIN/psql" -X -q -At -d "$cur" -c "SET ROLE $partner" -c "SELECT dsx.verify_settlement('at-a1', '2026-01-01')")" t \
   "a member that SETs ROLE to a partner's role verifies what the role sees"
is "$(try "$cur" "$loader" "SELECT * FROM dsx.ingest_as('$op')")" 42501 "a loader cannot ingest as a role it cannot act as"
is "$(try "$cur" "$partner" "SELECT dsx.verify_settlement_as('$auditor', 'at-a2', '2026-01-01')")" P0002 \
   "a partner asking as the auditor learns what it would of a missing statement"

# auditors read everything, the history included, and write nothing
is "$(as_pg env PGUSER="$auditor" "$PGBIN/psql" -X -q -At -d "$cur" -c "SELECT count(*) > 0 FROM dsx.config_history")" t "an auditor reads the configuration history"
is "$(try "$cur" "$auditor" "UPDATE dsx.factories SET gpus = 1")" 42501 "an auditor cannot change the configuration"
is "$(try "$cur" "$auditor" "SELECT dsx.void_events('at-f1', ARRAY['u1'], 'x')")" 42501 "an auditor cannot void"
is "$(try "$cur" "$partner" "SELECT dsx.void_events('at-f1', ARRAY['u1'], 'x')")" 42501 "a partner cannot void"
is "$(try "$cur" "$op" "UPDATE dsx.config_history SET changed_by = 'x'")" 42501 "an operator cannot rewrite the history"

# no internal error, no call that ignores a timeout
is "$(try "$cur" "$partner" "SELECT dsx.usage_accum(NULL, 1, 1, now())")" ok "dsx.usage_accum called directly is no internal error"
t0=$(date +%s%N)
is "$(try "$cur" "$partner" "SET statement_timeout = '1s'; SELECT count(*) FROM dsx.amortize(1000000, 0.1, 60000000, '2026-01-15')")" 57014 \
   "a 60-million-period schedule stops at statement_timeout"
is "$(( ($(date +%s%N) - t0) / 1000000 < 2500 ))" 1 "within the second and a half that allows"
is "$(try "$cur" "$partner" "SET statement_timeout = '5s'; SELECT count(*) FROM dsx.amortize(1000000, 10, 1490000, '2026-01-15')")" ok \
   "the call that ran 9 s under a 5 s timeout on 1.0 now completes"

echo "1..$t"
[ "$failed" = 0 ]
