-- 005_triggers.sql
--
-- updated_at is kept by the database, not left to each client: a BEFORE
-- UPDATE trigger sets it on every table that has the column. The WHEN clause
-- leaves a no-op UPDATE (no column changed) with its old updated_at.
CREATE FUNCTION core.set_updated_at()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$fn$;

CREATE TRIGGER set_updated_at BEFORE UPDATE ON auth.companies
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION core.set_updated_at();

CREATE TRIGGER set_updated_at BEFORE UPDATE ON auth.users
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION core.set_updated_at();

CREATE TRIGGER set_updated_at BEFORE UPDATE ON core.projects
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION core.set_updated_at();

CREATE TRIGGER set_updated_at BEFORE UPDATE ON core.automations
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION core.set_updated_at();

CREATE TRIGGER set_updated_at BEFORE UPDATE ON integration.webhooks
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION core.set_updated_at();
