-- schema/34-access.tables.sql — the role-to-party maps (dsx.partner_roles, dsx.vendor_roles).
-- Created once.

CREATE TABLE dsx.partner_roles (
    role       name PRIMARY KEY,
    partner    text NOT NULL REFERENCES dsx.parties,
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    granted_by name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE dsx.partner_roles IS 'Database roles mapped to a partner by dsx.grant_partner(): the role, its members and whoever SET ROLEs to it see that partner''s rows';
COMMENT ON COLUMN dsx.partner_roles.role IS 'Role name (a login role, or a group whose members inherit the mapping)';
COMMENT ON COLUMN dsx.partner_roles.partner IS 'The partner (a party of kind partner) whose rows the role sees';
COMMENT ON COLUMN dsx.partner_roles.granted_at IS 'When the mapping was made';
COMMENT ON COLUMN dsx.partner_roles.granted_by IS 'Role that made it';

CREATE TABLE dsx.vendor_roles (
    role       name PRIMARY KEY,
    vendor     text NOT NULL REFERENCES dsx.parties,
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    granted_by name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE dsx.vendor_roles IS 'Database roles mapped to a vendor by dsx.grant_vendor(): the role sees the agreements of that vendor across partners (statements, credit support, factories; not customer-level usage)';
COMMENT ON COLUMN dsx.vendor_roles.role IS 'Role name';
COMMENT ON COLUMN dsx.vendor_roles.vendor IS 'The vendor (a party of kind vendor) whose agreements the role sees';
COMMENT ON COLUMN dsx.vendor_roles.granted_at IS 'When the mapping was made';
COMMENT ON COLUMN dsx.vendor_roles.granted_by IS 'Role that made it';

SELECT pg_catalog.pg_extension_config_dump('dsx.partner_roles', '');
SELECT pg_catalog.pg_extension_config_dump('dsx.vendor_roles', '');
