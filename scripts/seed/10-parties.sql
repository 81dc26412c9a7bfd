-- Seed scenario, part 10: the programme's parties and the two partners' factories.
-- Sharon AI: up to 40,000 Grace Blackwell GB300 GPUs in Australia, on Sydney time (summer
-- time starts on 4 October 2026), billing in US dollars. Firmus: a 360 MW campus in Batam,
-- Indonesia, scaling to 170,000 GPUs, on Jakarta time (UTC+7), billing its customers in
-- rupiah.
INSERT INTO dsx.parties (party, kind, display_name) VALUES
    ('nvidia',     'vendor',  'NVIDIA (DSX programme)'),
    ('sharon-ai',  'partner', 'Sharon AI'),
    ('firmus',     'partner', 'Firmus'),
    ('atlas-models',    'customer', 'Atlas Models (model builder)'),
    ('relay-inference', 'customer', 'Relay Inference (inference provider)'),
    ('kite-agents',     'customer', 'Kite Agents (agent platform)'),
    ('northwind-bank',  'customer', 'Northwind Bank (enterprise)'),
    ('sunda-telco',     'customer', 'Sunda Telco (enterprise)');

INSERT INTO dsx.factories (factory, partner, currency, region, gpus, power_mw, time_zone) VALUES
    ('sharon-ai-gb300', 'sharon-ai', 'USD', 'Australia',          40000,  60, 'Australia/Sydney'),
    ('firmus-batam',    'firmus',    'IDR', 'Batam, Indonesia',  170000, 360, 'Asia/Jakarta');

-- Who buys from which factory: four customers each, on three models.
CREATE TEMP TABLE seed_demand (factory text, customer text, model text, weight int) ON COMMIT PRESERVE ROWS;
INSERT INTO seed_demand VALUES
    ('sharon-ai-gb300', 'atlas-models',    'open-70b',      30),
    ('sharon-ai-gb300', 'atlas-models',    'reasoner-671b', 25),
    ('sharon-ai-gb300', 'relay-inference', 'open-70b',      20),
    ('sharon-ai-gb300', 'relay-inference', 'coder-32b',      8),
    ('sharon-ai-gb300', 'kite-agents',     'reasoner-671b', 10),
    ('sharon-ai-gb300', 'northwind-bank',  'coder-32b',      7),
    ('firmus-batam',    'atlas-models',    'reasoner-671b', 28),
    ('firmus-batam',    'relay-inference', 'open-70b',      24),
    ('firmus-batam',    'kite-agents',     'open-70b',      14),
    ('firmus-batam',    'kite-agents',     'coder-32b',      9),
    ('firmus-batam',    'sunda-telco',     'open-70b',      15),
    ('firmus-batam',    'sunda-telco',     'reasoner-671b', 10);
