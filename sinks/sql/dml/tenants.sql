-- The statements of the tenants' database roles (sinks/tenants.py; tables in v5_tenants.sql).
-- Loaded by name by outcome_pulse.sinks.sql_text. Statements with {} are psycopg.sql templates:
-- the role and database names are filled as quoted identifiers, the SCRAM verifier as a literal.

-- name: role_exists
SELECT 1 FROM pg_roles WHERE rolname = %s

-- name: create_role
CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}

-- name: set_role_password
ALTER ROLE {} LOGIN PASSWORD {}

-- name: grant_group
GRANT {} TO {}

-- name: current_database
SELECT current_database()

-- name: grant_connect
GRANT CONNECT ON DATABASE {} TO {}

-- name: has_tenants_table
SELECT to_regclass('pulse_tenants') IS NOT NULL

-- name: role_of_other_client
SELECT client FROM pulse_tenants WHERE role_name = %s AND client <> %s

-- name: is_provider_member
-- Whether the role is a member of the provider's group role (it must not become a client's).
SELECT 1 FROM pg_auth_members m
JOIN pg_roles g ON g.oid = m.roleid
JOIN pg_roles r ON r.oid = m.member
WHERE r.rolname = %s AND g.rolname = 'pulse_provider'

-- name: upsert_tenant
INSERT INTO pulse_tenants (client, role_name) VALUES (%s, %s)
ON CONFLICT (client) DO UPDATE SET role_name = EXCLUDED.role_name

-- name: client_of_role
SELECT client FROM pulse_tenants WHERE role_name = %s

-- name: select_tenants
SELECT client, role_name FROM pulse_tenants ORDER BY client
