/**
 * What the stack declares inside the database, built from the very data the stack is made from
 * (model/database.ts's roles, grants and extensions; the files of sql/), so the drift check
 * follows every role, grant, view or extension added there without a copy to keep in step.
 */
import { SCHEDULER_EXTENSION } from "../model/backup-schedule";
import { DATABASE_NAME, declaredGrants, declaredRoles, EXTENSIONS, OWNER_ROLE, PGBOUNCER_AUTH_SCHEMA, SCHEMAS, SUPERUSER } from "../model/database";
import { LEDGER_TABLE, type MigrationFile } from "../model/migrations";
import { type Declared, sqlObjects } from "./drift";

/** The Declared model of checks/drift.ts for the given sql/ files. */
export function declaredDatabase(files: readonly MigrationFile[]): Declared {
  const sql = sqlObjects(files);
  return {
    database: DATABASE_NAME,
    superuser: SUPERUSER,
    owner: OWNER_ROLE,
    roles: declaredRoles(),
    schemas: [...SCHEMAS],
    grants: declaredGrants(),
    // pg_cron: the partitions job's scheduler (components/schedules.ts), in kryonix_saas.
    extensions: [...new Set(["plpgsql", ...EXTENSIONS, SCHEDULER_EXTENSION, ...sql.extensions])].sort(),
    relations: sql.relations,
    indexes: sql.indexes,
    ledgerTable: LEDGER_TABLE,
  };
}

/** The schemas whose relations the drift check lists: the managed ones, PgBouncer's and public. */
export const CHECKED_SCHEMAS = [...SCHEMAS, PGBOUNCER_AUTH_SCHEMA, "public"];
