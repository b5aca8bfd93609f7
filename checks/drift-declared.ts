/**
 * What the stack declares inside the database, built from the very data the stack is made from
 * (components/database.ts's roles, grants and extensions; the files of sql/), so the drift check
 * follows every role, grant, view or extension added there without a copy to keep in step.
 */
import {
  DATABASE_NAME,
  DRILL_ROLE,
  EXTENSIONS,
  LOGIN_ROLES,
  METABASE_MONITORING_VIEWS,
  MONITOR_ROLE,
  MONITORING_VIEWS,
  OWNER_ROLE,
  PGBOUNCER_AUTH_SCHEMA,
  READONLY_ROLE,
  ROLE_MEMBERSHIPS,
  SCHEMAS,
  TABLE_GRANTS,
} from "../components/database";
import { SUPERUSER } from "../components/postgres";
import { SCHEDULER_EXTENSION } from "../model/backup-schedule";
import type { Declared, DeclaredGrant } from "./drift";
import { LEDGER_TABLE, type MigrationFile } from "../model/migrations";
import { ALTERNATING_ROLES, twinOf } from "../model/rotation";
import { sqlObjects } from "./drift";

/** The Declared model of checks/drift.ts for the given sql/ files. */
export function declaredDatabase(files: readonly MigrationFile[]): Declared {
  const grants: DeclaredGrant[] = [];
  for (const [role, bySchema] of Object.entries(TABLE_GRANTS)) {
    for (const [schema, privs] of Object.entries(bySchema)) {
      if (!privs) continue;
      grants.push({ role, schema, objectType: "table", privileges: [...privs.tables], defaults: true });
      if (privs.sequences) grants.push({ role, schema, objectType: "sequence", privileges: [...privs.sequences], defaults: true });
    }
  }
  // Database.monitoringGrant: the monitoring views in audit.
  grants.push({ role: MONITOR_ROLE, schema: "audit", objectType: "table", privileges: ["SELECT"], objects: MONITORING_VIEWS });
  grants.push({ role: READONLY_ROLE, schema: "audit", objectType: "table", privileges: ["SELECT"], objects: METABASE_MONITORING_VIEWS });
  // The restore drill's role: USAGE on every managed schema (its LOCK TABLE names the tables).
  for (const schema of SCHEMAS) grants.push({ role: DRILL_ROLE, schema, objectType: "schema", privileges: ["USAGE"] });
  const sql = sqlObjects(files);
  const roles: Declared["roles"] = { [OWNER_ROLE]: { login: false, memberOf: [...(ROLE_MEMBERSHIPS[OWNER_ROLE] ?? [])] } };
  for (const role of LOGIN_ROLES) roles[role] = { login: true, memberOf: [...(ROLE_MEMBERSHIPS[role] ?? [])] };
  // The twins of Database: members of their role, which they become at login (ALTER ROLE ... SET role).
  for (const role of ALTERNATING_ROLES) roles[twinOf(role)] = { login: true, memberOf: [role], settings: [`role=${role}`] };
  return {
    database: DATABASE_NAME,
    superuser: SUPERUSER,
    owner: OWNER_ROLE,
    roles,
    schemas: [...SCHEMAS],
    grants,
    // pg_cron: the partitions job's scheduler (components/schedules.ts), in kryonix_saas.
    extensions: [...new Set(["plpgsql", ...EXTENSIONS, SCHEDULER_EXTENSION, ...sql.extensions])].sort(),
    relations: sql.relations,
    indexes: sql.indexes,
    ledgerTable: LEDGER_TABLE,
  };
}

/** The schemas whose relations the drift check lists: the managed ones, PgBouncer's and public. */
export const CHECKED_SCHEMAS = [...SCHEMAS, PGBOUNCER_AUTH_SCHEMA, "public"];
