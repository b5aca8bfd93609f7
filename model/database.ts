/**
 * The declared database, as data: its name, schemas, roles and their login users, memberships,
 * grants, monitoring views and extensions, the superuser, and where the server listens and keeps
 * its data. components/database.ts and components/postgres.ts build it; the drift check, the
 * scripts and the benchmarks read it from here. Pure: nothing here does I/O or creates a resource.
 */
import { invalid } from "./messages";

export const DATABASE_NAME = "kryonix_saas";
/** The cluster's bootstrap superuser (the image's initdb). */
export const SUPERUSER = "postgres";
/** The database every cluster has, where the superuser logs in first and job runs are recorded. */
export const MAINTENANCE_DATABASE = "postgres";
/** PostgreSQL inside its container (the image's contract). */
export const POSTGRES_PORT = 5432;
export const POSTGRES_DATA_DIR = "/var/lib/postgresql/data";
/** PgBouncer inside its container (the image's contract): what applications connect to. */
export const PGBOUNCER_PORT = 6432;

export const SCHEMAS = ["auth", "core", "analytics", "audit", "integration"] as const;
export type Schema = (typeof SCHEMAS)[number];
/** The schema holding PgBouncer's SECURITY DEFINER lookup function (auth_query). */
export const PGBOUNCER_AUTH_SCHEMA = "pgbouncer";

/** Owns the schemas and everything the migrations create; nobody logs in as it. */
export const OWNER_ROLE = "kryonix_owner";
export const MIGRATOR_ROLE = "kryonix_migrator";
export const APP_ROLE = "kryonix_app";
export const READONLY_ROLE = "metabase_readonly";
export const MONITOR_ROLE = "kryonix_monitor";
export const PGBOUNCER_ROLE = "kryonix_pgbouncer";
/**
 * The restore drill's login (components/restore-drill.ts). It reads no table: row counts and
 * checksums come from kryonix.drill_table_sums() (model/drill.ts drillGrantsSql), not from
 * pg_read_all_data, which would also let it read pg_authid's password verifiers. It may take the
 * drill's SHARE locks (pg_maintain: PostgreSQL 17 lets MAINTAIN take any lock mode, SELECT only
 * ACCESS SHARE; USAGE on the schemas to name the tables), and writes no table: the runs it records
 * go through kryonix.record_job_run.
 */
export const DRILL_ROLE = "kryonix_drill";

/** Roles that log in; each gets a generated password. */
export const LOGIN_ROLES = [MIGRATOR_ROLE, APP_ROLE, READONLY_ROLE, MONITOR_ROLE, PGBOUNCER_ROLE, DRILL_ROLE] as const;
export type LoginRole = (typeof LOGIN_ROLES)[number];

/**
 * Roles whose clients live outside the stack: two login users each, the role and its twin
 * (model/rotation.ts, "alternating users").
 */
export const ALTERNATING_ROLES = [MIGRATOR_ROLE, APP_ROLE, READONLY_ROLE] as const;
export type AlternatingRole = (typeof ALTERNATING_ROLES)[number];
/** Roles whose only consumers are the stack's own containers: one login user, rolled in the same up. */
export const SINGLE_USER_ROLES = [MONITOR_ROLE, PGBOUNCER_ROLE, DRILL_ROLE] as const;
export const TWIN_SUFFIX = "_b";

export function isAlternating(role: string): role is AlternatingRole {
  return (ALTERNATING_ROLES as readonly string[]).includes(role);
}

/** The twin login user of an alternating role. Pure. */
export function twinOf(role: AlternatingRole): string {
  return `${role}${TWIN_SUFFIX}`;
}

/** Every login user of the roles: each role, then the twins of the alternating ones. Pure. */
export function loginUsers(roles: readonly string[]): string[] {
  return [...roles, ...roles.filter(isAlternating).map(twinOf)];
}

/**
 * Every user that logs in: the login roles, and the twin `<role>_b` of each role whose clients live
 * outside the stack. A twin is a member of its role and assumes it at login (ALTER ROLE ... SET
 * role), so it works with the role's grants and default privileges and whatever it creates is
 * owned by the role.
 */
export const LOGIN_USERS: readonly string[] = loginUsers(LOGIN_ROLES);
/** The roles the stack declares, by name: the owner, then every login user. */
export const DECLARED_ROLES: readonly string[] = [OWNER_ROLE, ...LOGIN_USERS];
/** The databases the stack declares. */
export const DECLARED_DATABASES: readonly string[] = [DATABASE_NAME];

/** The roles each role is a member of (a twin's membership of its role comes on top). */
export const ROLE_MEMBERSHIPS: Readonly<Record<string, readonly string[]>> = {
  [MIGRATOR_ROLE]: [OWNER_ROLE],
  [MONITOR_ROLE]: ["pg_monitor"],
  [DRILL_ROLE]: ["pg_maintain"],
};

type Privileges = readonly string[];
export type SchemaPrivileges = Partial<Record<Schema, { tables: Privileges; sequences?: Privileges }>>;

const READ_WRITE = ["SELECT", "INSERT", "UPDATE", "DELETE"] as const;
const SEQUENCE_USE = ["USAGE", "SELECT"] as const;

/**
 * Who may do what, schema by schema, on the tables (and sequences) kryonix_owner
 * creates: granted on what exists and, as default privileges, on everything
 * created later. Privileges are spelled out, never ALL (PostgreSQL 17's
 * MAINTAIN is unknown to the provider and would show a diff on every up).
 * USAGE on each listed schema comes with it.
 *
 * - kryonix_app reads and writes the application schemas; auth is kept in
 *   step with Keycloak (no DELETE: users are deactivated, and rows are
 *   referenced by core and audit); audit is append-only for the application,
 *   which also keeps it from rewriting the migration ledger that lives there.
 * - metabase_readonly reads analytics and core, nothing else.
 */
export const TABLE_GRANTS: Readonly<Record<typeof APP_ROLE | typeof READONLY_ROLE, SchemaPrivileges>> = {
  [APP_ROLE]: {
    auth: { tables: ["SELECT", "INSERT", "UPDATE"], sequences: SEQUENCE_USE },
    core: { tables: READ_WRITE, sequences: SEQUENCE_USE },
    analytics: { tables: READ_WRITE, sequences: SEQUENCE_USE },
    audit: { tables: ["SELECT", "INSERT"], sequences: SEQUENCE_USE },
    integration: { tables: READ_WRITE, sequences: SEQUENCE_USE },
  },
  [READONLY_ROLE]: {
    analytics: { tables: ["SELECT"] },
    core: { tables: ["SELECT"] },
  },
};

/** The schema the monitoring views live in. */
export const MONITORING_SCHEMA: Schema = "audit";
/** The views of sql/006_monitoring.sql and sql/007_monitoring_health.sql, which the monitoring role may read. */
export const MONITORING_VIEWS = [
  "monitoring_active_connections",
  "monitoring_slow_queries",
  "monitoring_table_sizes",
  "monitoring_unused_indexes",
  "monitoring_cache_hit_ratio",
  "monitoring_connections",
  "monitoring_long_running",
  "monitoring_idle_in_transaction",
  "monitoring_lock_waits",
  "monitoring_bloat",
  "monitoring_archiver",
  "monitoring_last_backup",
] as const;

/**
 * The monitoring views Metabase may read too: sizes, cache, bloat and the archiver are about the
 * data, not about people. Sessions, statements and locks carry other roles' queries and client
 * addresses (and show NULLs without pg_monitor); the last backup needs pg_monitor's pg_ls_waldir().
 */
export const METABASE_MONITORING_VIEWS = [
  "monitoring_table_sizes",
  "monitoring_unused_indexes",
  "monitoring_cache_hit_ratio",
  "monitoring_bloat",
  "monitoring_archiver",
] as const satisfies readonly (typeof MONITORING_VIEWS)[number][];

/** Extensions the stack creates as superuser before any migration (sql/ may create more). */
export const EXTENSIONS = ["pg_stat_statements", "pgaudit"] as const;

/** The superuser's connection limit (CIS 5.5): the provider's sessions, a DBA's and the jobs'. Not enforced on a superuser. */
export const SUPERUSER_CONNECTION_LIMIT = 20;

/**
 * SQL run as the superuser in each database initdb creates: no privilege for PUBLIC on schema
 * public, and (once, in postgres) the superuser's connection limit. destroySql gives back
 * initdb's defaults.
 */
export const CLUSTER_HARDENING: readonly { database: string; sql: (superuser: string) => string; destroySql: (superuser: string) => string }[] = [
  {
    database: MAINTENANCE_DATABASE,
    sql: (su) => `REVOKE ALL ON SCHEMA public FROM PUBLIC;\nALTER ROLE "${su}" CONNECTION LIMIT ${SUPERUSER_CONNECTION_LIMIT};`,
    destroySql: (su) => `GRANT USAGE ON SCHEMA public TO PUBLIC;\nALTER ROLE "${su}" CONNECTION LIMIT -1;`,
  },
  { database: "template1", sql: () => "REVOKE ALL ON SCHEMA public FROM PUBLIC;", destroySql: () => "GRANT USAGE ON SCHEMA public TO PUBLIC;" },
];

/** A grant the stack declares, in the drift check's terms (checks/drift.ts DeclaredGrant has this shape). */
export interface GrantDeclaration {
  role: string;
  schema: string;
  objectType: "table" | "sequence" | "schema";
  privileges: string[];
  /** Also granted as default privileges of the owner (on what it creates later). */
  defaults?: boolean;
  /** Only these objects; absent: every object of the type in the schema. */
  objects?: readonly string[];
}

/**
 * Every grant on the schemas' objects the stack makes: TABLE_GRANTS (with default privileges),
 * SELECT on the monitoring views, the drill's USAGE on every schema. Pure.
 */
export function declaredGrants(): GrantDeclaration[] {
  const grants: GrantDeclaration[] = [];
  for (const [role, bySchema] of Object.entries(TABLE_GRANTS)) {
    for (const [schema, privs] of Object.entries(bySchema)) {
      if (!privs) continue;
      grants.push({ role, schema, objectType: "table", privileges: [...privs.tables], defaults: true });
      if (privs.sequences) grants.push({ role, schema, objectType: "sequence", privileges: [...privs.sequences], defaults: true });
    }
  }
  grants.push({ role: MONITOR_ROLE, schema: MONITORING_SCHEMA, objectType: "table", privileges: ["SELECT"], objects: MONITORING_VIEWS });
  grants.push({ role: READONLY_ROLE, schema: MONITORING_SCHEMA, objectType: "table", privileges: ["SELECT"], objects: METABASE_MONITORING_VIEWS });
  // The drill's LOCK TABLE names every table: USAGE on each schema, nothing on the tables.
  for (const schema of SCHEMAS) grants.push({ role: DRILL_ROLE, schema, objectType: "schema", privileges: ["USAGE"] });
  return grants;
}

/** Each declared role: whether it logs in, what it is a member of, and its per-role settings. Pure. */
export function declaredRoles(): Record<string, { login: boolean; memberOf: string[]; settings?: string[] }> {
  const roles: Record<string, { login: boolean; memberOf: string[]; settings?: string[] }> = {
    [OWNER_ROLE]: { login: false, memberOf: [...(ROLE_MEMBERSHIPS[OWNER_ROLE] ?? [])] },
  };
  for (const role of LOGIN_ROLES) roles[role] = { login: true, memberOf: [...(ROLE_MEMBERSHIPS[role] ?? [])] };
  // The twins: members of their role, which they become at login (ALTER ROLE ... SET role).
  for (const role of ALTERNATING_ROLES) roles[twinOf(role)] = { login: true, memberOf: [role], settings: [`role=${role}`] };
  return roles;
}

export const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const PRIVILEGES = new Set(["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "USAGE"]);

/** Problems with a grant table (unknown schema, ALL or an unknown privilege). Pure. */
export function grantProblems(grants: Readonly<Record<string, SchemaPrivileges>>): string[] {
  const problems: string[] = [];
  for (const [role, schemas] of Object.entries(grants)) {
    if (!IDENTIFIER.test(role)) problems.push(invalid("grant role", role, "a lower-case identifier"));
    for (const [schema, privs] of Object.entries(schemas ?? {})) {
      if (!(SCHEMAS as readonly string[]).includes(schema)) {
        problems.push(invalid(`grant schema for ${role}`, schema, `one of ${SCHEMAS.join(", ")}`));
      }
      for (const p of [...(privs?.tables ?? []), ...(privs?.sequences ?? [])]) {
        if (!PRIVILEGES.has(p)) problems.push(invalid(`privilege for ${role} on ${schema}`, p, `one of ${[...PRIVILEGES].join(", ")} (never ALL)`));
      }
      if (!privs?.tables?.length) problems.push(invalid(`table privileges for ${role} on ${schema}`, privs?.tables, "at least one privilege"));
    }
  }
  return problems;
}
