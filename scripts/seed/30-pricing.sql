-- Seed scenario, part 30: price plans (USD per million tokens) and who is on which.
-- List prices for a large open model, a frontier reasoning model and a code model; the
-- enterprise plan pays more per token; the volume plan of the biggest buyer steps down
-- on its monthly volume (graduated, like tax brackets).
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
    ('volume',     'coder-32b',     'volume: 0: 0.20, 1000000000000: 0.15', 'volume: 0: 0.60, 1000000000000: 0.50');

INSERT INTO dsx.customer_plans (customer, factory, plan) VALUES
    ('atlas-models',    'sharon-ai-gb300', 'volume'),
    ('relay-inference', 'sharon-ai-gb300', 'list'),
    ('kite-agents',     'sharon-ai-gb300', 'list'),
    ('northwind-bank',  'sharon-ai-gb300', 'enterprise'),
    ('atlas-models',    'firmus-batam',    'volume'),
    ('relay-inference', 'firmus-batam',    'list'),
    ('kite-agents',     'firmus-batam',    'list'),
    ('sunda-telco',     'firmus-batam',    'enterprise');
