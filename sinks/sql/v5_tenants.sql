-- Version 5: tenant isolation enforced by PostgreSQL. Each client reads through a login role of
-- its own (`pulse tenants add CLIENT`), a member of the group role pulse_client; row-level
-- security shows such a role only the rows of its client's contracts (pulse_contracts maps
-- contract -> client, pulse_tenants maps client -> role). Members of pulse_provider (the
-- provider's Grafana role) see every row. The writers (the sink and the contract monitor) own
-- the tables, and row-level security does not apply to a table's owner, so they are unaffected.
-- Group roles are cluster-wide: created once, shared by every database of the cluster.

CREATE TABLE pulse_tenants (
    client     text        PRIMARY KEY,
    role_name  text        NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE pulse_tenants IS
    'Each client that reads its own rows through a database role of its own (row-level security).';
COMMENT ON COLUMN pulse_tenants.client IS 'Client id (pulse_contracts.client).';
COMMENT ON COLUMN pulse_tenants.role_name IS
    'The client''s login role; row-level security compares it with current_user.';
COMMENT ON COLUMN pulse_tenants.created_at IS 'When the tenant was added (server time, UTC).';

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pulse_client') THEN
        CREATE ROLE pulse_client NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pulse_provider') THEN
        CREATE ROLE pulse_provider NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- another database of the cluster created them at the same moment
END
$$;

-- What a client's dashboard reads, and nothing else: no events, item states or internals.
GRANT SELECT ON pulse_tenants, pulse_contracts, pulse_period_outcomes, pulse_period_forecasts,
                pulse_indicator_points
    TO pulse_client;

-- The provider reads everything, including tables and views created by later migrations.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO pulse_provider;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO pulse_provider;

ALTER TABLE pulse_tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY pulse_client_rows ON pulse_tenants FOR SELECT TO pulse_client
    USING (role_name = current_user);
CREATE POLICY pulse_provider_rows ON pulse_tenants FOR SELECT TO pulse_provider USING (true);

ALTER TABLE pulse_contracts ENABLE ROW LEVEL SECURITY;
CREATE POLICY pulse_client_rows ON pulse_contracts FOR SELECT TO pulse_client
    USING (client IN (SELECT t.client FROM pulse_tenants t WHERE t.role_name = current_user));
CREATE POLICY pulse_provider_rows ON pulse_contracts FOR SELECT TO pulse_provider USING (true);

-- Every table keyed by contract, whether or not clients may read it today (a later GRANT
-- cannot then leak another client's rows).
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['pulse_period_outcomes', 'pulse_period_forecasts',
                             'pulse_indicator_points', 'pulse_open_item_clocks',
                             'pulse_late_events', 'pulse_alerts', 'pulse_drift_signals']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY pulse_client_rows ON %I FOR SELECT TO pulse_client USING (contract IN '
            '(SELECT c.contract FROM pulse_contracts c JOIN pulse_tenants n ON n.client = c.client '
            'WHERE n.role_name = current_user))', t);
        EXECUTE format(
            'CREATE POLICY pulse_provider_rows ON %I FOR SELECT TO pulse_provider USING (true)', t);
    END LOOP;
END
$$;
