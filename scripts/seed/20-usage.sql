-- Seed scenario, part 20: token usage, loaded through the real path (dsx.usage_inbox, then
-- dsx.ingest()). One meter reading per customer, model and minute. Volumes follow each
-- campus's size: about 650 tokens per second per GPU at full load, three input tokens for
-- each output token, a daily load curve in the campus's local time and a deterministic
-- jitter. Integer arithmetic only. Variables: :'from' and :'to' (dates, half-open, local
-- to each campus), :'tag' (event id prefix), :'load' (percent of the campus in use: a
-- campus ramping up sells less).
INSERT INTO dsx.usage_inbox (event_id, occurred_at, factory, customer, model, input_tokens, output_tokens)
SELECT :'tag' || '-' || d.customer || '-' || d.model || '-' || to_char(m, 'YYYYMMDDHH24MI'),
       m, d.factory, d.customer, d.model,
       tokens * 3 / 4, tokens / 4
  FROM seed_demand d
  JOIN dsx.factories f USING (factory)
 CROSS JOIN generate_series(dsx.local_midnight(:'from'::date, f.time_zone),
                            dsx.local_midnight(:'to'::date, f.time_zone) - interval '1 minute', interval '1 minute') m
 CROSS JOIN LATERAL (
     SELECT f.gpus::bigint * 650 * 60                        -- tokens a minute at full load
            * d.weight / 100                                 -- this customer's and model's share
            * :'load'::int / 100                             -- how much of the campus is live
            * (ARRAY[55,50,48,46,45,47,52,60,70,78,84,88,90,91,92,92,90,88,86,84,80,74,66,60])
                [extract(hour FROM m AT TIME ZONE f.time_zone)::int + 1] / 100
            * (90 + (hashtext(d.customer || d.model || m::text) & 2147483647) % 21) / 100
            AS tokens) t;
SELECT * FROM dsx.ingest();
