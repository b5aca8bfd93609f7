-- 003_indexes.sql
--
-- The seed's idx_users_email and idx_users_keycloak_id are left out on
-- purpose: email and keycloak_id are UNIQUE (002_tables.sql), and a UNIQUE
-- constraint already builds a unique b-tree index on its column
-- (users_email_key, users_keycloak_id_key) that serves the same lookups.
-- A second, plain index on the same column would only double the write cost
-- and the disk space.
--
-- Plain CREATE INDEX (no CONCURRENTLY): each migration file runs inside one
-- transaction, and the tables are new and empty when this runs.
CREATE INDEX idx_users_company_id       ON auth.users (company_id);
CREATE INDEX idx_projects_company_id    ON core.projects (company_id);
CREATE INDEX idx_automations_project_id ON core.automations (project_id);
-- On the partitioned table: every partition, present or future, gets its own.
CREATE INDEX idx_sessions_user_id       ON analytics.user_sessions (user_id);
CREATE INDEX idx_audit_user_id          ON audit.activity_logs (user_id);
CREATE INDEX idx_audit_created_at       ON audit.activity_logs (created_at);

-- Not in the seed: the two remaining foreign keys that had no index, so that
-- deleting a user or a company does not scan these tables.
CREATE INDEX idx_projects_owner_id      ON core.projects (owner_id);
CREATE INDEX idx_webhooks_company_id    ON integration.webhooks (company_id);
