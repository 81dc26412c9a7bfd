-- Seed scenario, part 40: the DSX agreements and the credit facilities behind the campuses.
-- The vendor takes 30 % of what is distributable up to $50 M a month and 20 % above it.
-- Facilities finance about 70 % of GPU capex (roughly $60,000 a GPU installed, with
-- networking and power): Sharon AI 40,000 GPUs -> $1.68 B over 5 years at 9 %; Firmus
-- 170,000 GPUs -> $6.5 B over 7 years at 8.5 %, first payments due at the end of August.
-- Firmus bills in rupiah and settles with the vendor and its lender in dollars, at the
-- rate of each month's last day; from October the vendor's first tier falls to 25 %.
-- Firmus's campus is project-financed: its power (metered, at a tariff) and a fixed cost
-- are paid first; below the senior facility ranks a mezzanine one the vendor does not
-- support; a reserve holds six months of debt service, funded from the campus's cash; and
-- a lock-up covenant traps distributions while the DSCR is below 1.20.
INSERT INTO dsx.parties (party, kind, display_name) VALUES
    ('gpu-capital', 'lender', 'GPU Capital (senior lender)'),
    ('straits-mezz', 'lender', 'Straits Mezzanine Fund');

INSERT INTO dsx.agreements (agreement, partner, vendor, factory, revenue_split, starts, settle_lag,
                            settlement_currency, fx_rule, dsra_months, lockup_dscr) VALUES
    ('dsx-sharon-ai', 'sharon-ai', 'nvidia', 'sharon-ai-gb300',
     'vendor=30%, partner=70%; from 50000000: vendor=20%, partner=80%', '2026-08-01', '1 day', 'USD', 'period_end', 0, NULL),
    ('dsx-firmus',    'firmus',    'nvidia', 'firmus-batam',
     'vendor=30%, partner=70%; from 50000000: vendor=20%, partner=80%', '2026-08-01', '1 day', 'USD', 'period_end', 6, 1.20);
INSERT INTO dsx.agreement_splits (agreement, valid_from, revenue_split) VALUES
    ('dsx-firmus', '2026-10-01', 'vendor=25%, partner=75%; from 50000000: vendor=20%, partner=80%');
-- US dollars per rupiah, made up: twice a month
INSERT INTO dsx.fx_rates (base, quote, rate_date, rate) VALUES
    ('IDR', 'USD', '2026-08-01', 0.0000612), ('IDR', 'USD', '2026-08-16', 0.0000609),
    ('IDR', 'USD', '2026-09-01', 0.0000607), ('IDR', 'USD', '2026-09-16', 0.0000605),
    ('IDR', 'USD', '2026-10-01', 0.0000603), ('IDR', 'USD', '2026-10-16', 0.0000601),
    ('IDR', 'USD', '2026-11-01', 0.0000600);

INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods,
                                   first_due, method, frequency, day_count) VALUES
    ('sharon-ai-senior', 'dsx-sharon-ai', 'gpu-capital', 1680000000, 0.09,  60, '2026-08-31', 'annuity', 'monthly', '30/360'),
    ('firmus-senior',    'dsx-firmus',    'gpu-capital', 6500000000, 0.085, 84, '2026-08-31', 'annuity', 'monthly', '30/360');
-- the mezzanine: $600 M over 5 years at 12 %, rank 2, not supported (its shortfalls are
-- carried as arrears)
INSERT INTO dsx.credit_facilities (facility, agreement, lender, principal, annual_rate, periods,
                                   first_due, method, frequency, day_count, rank, supported) VALUES
    ('firmus-mezzanine', 'dsx-firmus', 'straits-mezz', 600000000, 0.12, 60, '2026-08-31', 'annuity', 'monthly', '30/360', 2, false);
-- Firmus's costs, in dollars: power at $85 per MWh metered, $8 M a month for the site
INSERT INTO dsx.operating_costs (agreement, cost, kind, amount) VALUES
    ('dsx-firmus', 'batam-power', 'power', 85),
    ('dsx-firmus', 'batam-site', 'fixed', 8000000);
