-- Seed scenario, part 30: price plans (per million tokens) and who is on which. List
-- prices for a large open model, a frontier reasoning model and a code model; the
-- enterprise plan pays more per token; the volume plan of the biggest buyer steps down on
-- its monthly volume (graduated, like tax brackets). Sharon AI's plans are in US dollars,
-- Firmus's (the -idr plans) in rupiah. From October Sharon AI's list price of the open
-- model falls: a dated amendment, not an edit of the row September was billed with.
INSERT INTO dsx.price_plans (plan, model, input_price, output_price) VALUES
    ('list',       'open-70b',      '0.60',  '0.80'),
    ('list',       'reasoner-671b', '2.00',  '8.00'),
    ('list',       'coder-32b',     '0.20',  '0.60'),
    ('enterprise', 'open-70b',      '0.90',  '1.20'),
    ('enterprise', 'reasoner-671b', '3.00', '12.00'),
    ('enterprise', 'coder-32b',     '0.30',  '0.90'),
    ('volume',     'open-70b',      'graduated: 0: 0.60, 1000000000000: 0.50, 10000000000000: 0.40',
                                    'graduated: 0: 0.80, 1000000000000: 0.70'),
    ('volume',     'reasoner-671b', 'graduated: 0: 2.00, 1000000000000: 1.80, 10000000000000: 1.50',
                                    'graduated: 0: 8.00, 1000000000000: 7.00'),
    ('volume',     'coder-32b',     'volume: 0: 0.20, 1000000000000: 0.15', 'volume: 0: 0.60, 1000000000000: 0.50'),
    ('list-idr',       'open-70b',      '9600',  '12800'),
    ('list-idr',       'reasoner-671b', '32000', '128000'),
    ('list-idr',       'coder-32b',     '3200',  '9600'),
    ('enterprise-idr', 'open-70b',      '14400', '19200'),
    ('enterprise-idr', 'reasoner-671b', '48000', '192000'),
    ('enterprise-idr', 'coder-32b',     '4800',  '14400'),
    ('volume-idr',     'open-70b',      'graduated: 0: 9600, 1000000000000: 8000, 10000000000000: 6400',
                                        'graduated: 0: 12800, 1000000000000: 11200'),
    ('volume-idr',     'reasoner-671b', 'graduated: 0: 32000, 1000000000000: 28800, 10000000000000: 24000',
                                        'graduated: 0: 128000, 1000000000000: 112000'),
    ('volume-idr',     'coder-32b',     'volume: 0: 3200, 1000000000000: 2400', 'volume: 0: 9600, 1000000000000: 8000');
INSERT INTO dsx.price_plans (plan, model, input_price, output_price, valid_from) VALUES
    ('list',       'open-70b',      '0.55',  '0.75', '2026-10-01');

INSERT INTO dsx.customer_plans (customer, factory, plan) VALUES
    ('atlas-models',    'sharon-ai-gb300', 'volume'),
    ('relay-inference', 'sharon-ai-gb300', 'list'),
    ('kite-agents',     'sharon-ai-gb300', 'list'),
    ('northwind-bank',  'sharon-ai-gb300', 'enterprise'),
    ('atlas-models',    'firmus-batam',    'volume-idr'),
    ('relay-inference', 'firmus-batam',    'list-idr'),
    ('kite-agents',     'firmus-batam',    'list-idr'),
    ('sunda-telco',     'firmus-batam',    'enterprise-idr');
