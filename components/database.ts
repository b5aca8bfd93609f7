import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { resourceName } from "../lib/config";
import { throwProblems } from "../lib/containers";
import { invalid } from "../lib/messages";
import { renderPgbouncerAuthFunctionSql } from "../lib/pgbouncer";
import { scramSha256Secret } from "../lib/scram";
import { SqlScript } from "./sql-script";

export const DATABASE_NAME = "kryonix_saas";
export const SCHEMAS = ["auth", "core", "analytics", "audit", "integration"] as const;
export type Schema = (typeof SCHEMAS)[number];

export const OWNER_ROLE = "kryonix_owner";
export const MIGRATOR_ROLE = "kryonix_migrator";
export const APP_ROLE = "kryonix_app";
export const READONLY_ROLE = "metabase_readonly";
export const MONITOR_ROLE = "kryonix_monitor";
export const PGBOUNCER_ROLE = "kryonix_pgbouncer";
/** The schema holding PgBouncer's SECURITY DEFINER lookup function (auth_query). */
export const PGBOUNCER_AUTH_SCHEMA = "pgbouncer";

/** Roles that log in; each gets a generated password. */
export const LOGIN_ROLES = [MIGRATOR_ROLE, APP_ROLE, READONLY_ROLE, MONITOR_ROLE, PGBOUNCER_ROLE] as const;
export type LoginRole = (typeof LOGIN_ROLES)[number];

type Privileges = readonly string[];
type SchemaPrivileges = Partial<Record<Schema, { tables: Privileges; sequences?: Privileges }>>;

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

/** The views of sql/006_monitoring.sql, which the monitoring role may read. */
export const MONITORING_VIEWS = [
  "monitoring_active_connections",
  "monitoring_slow_queries",
  "monitoring_table_sizes",
  "monitoring_unused_indexes",
] as const;

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
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

export interface DatabaseArgs {
  stack: string;
  /** The PostgreSQL container; every database object waits for it (it is created with wait: true, so: healthy). */
  server: pulumi.Resource;
  /** Where this machine reaches PostgreSQL as superuser. */
  host: pulumi.Input<string>;
  port: pulumi.Input<number>;
  superuser: string;
  superuserPassword: pulumi.Input<string>;
}

/** Throws when the arguments cannot work. Pure. */
export function checkDatabaseArgs(args: DatabaseArgs): void {
  const problems: string[] = [];
  try {
    resourceName(args.stack, "postgres");
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (!args.server) problems.push(invalid("Database server", args.server, "the PostgreSQL container resource"));
  if (typeof args.superuser !== "string" || !IDENTIFIER.test(args.superuser)) {
    problems.push(invalid("Database superuser", args.superuser, "a lower-case role name"));
  }
  problems.push(...grantProblems(TABLE_GRANTS));
  throwProblems("Database", problems);
}

/**
 * The database kryonix_saas and everything around its DDL, created through
 * @pulumi/postgresql on a provider built from the container's outputs:
 * the NOLOGIN owner role and its five schemas, the login roles with
 * generated passwords (set as SCRAM secrets, so no statement the server logs
 * carries a password), explicit grants and default privileges, the
 * extensions, CREATE on schema public revoked from PUBLIC, and PgBouncer's
 * auth_query function.
 */
export class Database extends pulumi.ComponentResource {
  public readonly provider: postgresql.Provider;
  public readonly name: pulumi.Output<string>;
  /** Every login role's password (secrets), for clients and the outputs. */
  public readonly passwords: Readonly<Record<LoginRole, pulumi.Output<string>>>;
  public readonly roles: Readonly<Record<string, postgresql.Role>>;
  /** get_auth(), PgBouncer's auth_query; PgBouncer can authenticate no one before it exists. */
  public readonly pgbouncerAuth: SqlScript;
  /**
   * Everything the DDL needs in place: roles, database, schemas, grants,
   * default privileges, extensions. Depend on this list rather than on the
   * component, which also holds the grants made after the DDL.
   */
  public readonly ready: pulumi.Resource[];
  private readonly logicalName: string;

  constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kryonix:db:Database", name, {}, opts);
    checkDatabaseArgs(args);
    this.logicalName = name;

    this.provider = new postgresql.Provider(
      `${name}-provider`,
      {
        host: args.host,
        port: args.port,
        username: args.superuser,
        password: args.superuserPassword,
        database: "postgres",
        sslmode: "disable",
        superuser: true,
        connectTimeout: 30,
        expectedVersion: "17",
      },
      { parent: this, dependsOn: [args.server] },
    );
    // Everything below talks to the server through the provider and waits for the healthy container.
    const on = (...more: pulumi.Resource[]): pulumi.CustomResourceOptions => ({
      parent: this,
      provider: this.provider,
      dependsOn: [args.server, ...more],
    });

    const owner = new postgresql.Role(`${name}-${OWNER_ROLE}`, { name: OWNER_ROLE, login: false }, on());

    const passwords = {} as Record<LoginRole, pulumi.Output<string>>;
    const scram = {} as Record<LoginRole, pulumi.Output<string>>;
    for (const role of LOGIN_ROLES) {
      const password = new random.RandomPassword(
        `${name}-${role}-password`,
        { length: 32, special: false, minLower: 2, minUpper: 2, minNumeric: 2 },
        { parent: this },
      );
      const salt = new random.RandomBytes(`${name}-${role}-salt`, { length: 16 }, { parent: this });
      passwords[role] = pulumi.secret(password.result);
      scram[role] = pulumi.secret(
        pulumi.all([password.result, salt.base64]).apply(([p, s]) => scramSha256Secret(p, Buffer.from(s, "base64"))),
      );
    }
    this.passwords = passwords;

    const loginRole = (role: LoginRole, extra: Partial<postgresql.RoleArgs> = {}) =>
      new postgresql.Role(
        `${name}-${role}`,
        { name: role, login: true, password: scram[role], encryptedPassword: true, ...extra },
        on(),
      );
    const migrator = loginRole(MIGRATOR_ROLE, { roles: [owner.name] });
    const app = loginRole(APP_ROLE);
    const readonly = loginRole(READONLY_ROLE);
    const monitor = loginRole(MONITOR_ROLE, { roles: ["pg_monitor"] });
    const pgbouncer = loginRole(PGBOUNCER_ROLE);
    this.roles = { [OWNER_ROLE]: owner, [MIGRATOR_ROLE]: migrator, [APP_ROLE]: app, [READONLY_ROLE]: readonly, [MONITOR_ROLE]: monitor, [PGBOUNCER_ROLE]: pgbouncer };

    const database = new postgresql.Database(
      `${name}-${DATABASE_NAME}`,
      { name: DATABASE_NAME, owner: owner.name, encoding: "UTF8", lcCollate: "C.UTF-8", lcCtype: "C.UTF-8", template: "template0" },
      on(),
    );
    this.name = database.name;

    const schemas = Object.fromEntries(
      SCHEMAS.map((schema) => [
        schema,
        new postgresql.Schema(
          `${name}-schema-${schema}`,
          // dropCascade stays off: removing a schema from code must not silently drop its tables.
          { name: schema, database: database.name, owner: owner.name, ifNotExists: false },
          on(),
        ),
      ]),
    ) as Record<Schema, postgresql.Schema>;

    const grants: pulumi.Resource[] = [];
    // PostgreSQL 15+ no longer lets PUBLIC create in schema public; this keeps it that way, explicitly.
    grants.push(
      new postgresql.Grant(
        `${name}-public-schema`,
        { database: database.name, role: "public", schema: "public", objectType: "schema", privileges: ["USAGE"] },
        on(),
      ),
    );
    for (const [role, resource] of [
      [MIGRATOR_ROLE, migrator],
      [APP_ROLE, app],
      [READONLY_ROLE, readonly],
      [MONITOR_ROLE, monitor],
      [PGBOUNCER_ROLE, pgbouncer],
    ] as const) {
      grants.push(
        new postgresql.Grant(
          `${name}-${role}-connect`,
          { database: database.name, role: resource.name, objectType: "database", privileges: ["CONNECT"] },
          on(),
        ),
      );
    }

    for (const [role, bySchema] of Object.entries(TABLE_GRANTS)) {
      const grantee = this.roles[role].name;
      for (const [schema, privs] of Object.entries(bySchema) as [Schema, { tables: Privileges; sequences?: Privileges }][]) {
        const target = { database: database.name, schema: schemas[schema].name };
        const id = `${name}-${role}-${schema}`;
        grants.push(
          new postgresql.Grant(`${id}-usage`, { ...target, role: grantee, objectType: "schema", privileges: ["USAGE"] }, on()),
          new postgresql.Grant(`${id}-tables`, { ...target, role: grantee, objectType: "table", privileges: [...privs.tables] }, on()),
          new postgresql.DefaultPrivileges(
            `${id}-default-tables`,
            { ...target, role: grantee, owner: owner.name, objectType: "table", privileges: [...privs.tables] },
            on(),
          ),
        );
        if (privs.sequences) {
          grants.push(
            new postgresql.Grant(`${id}-sequences`, { ...target, role: grantee, objectType: "sequence", privileges: [...privs.sequences] }, on()),
            new postgresql.DefaultPrivileges(
              `${id}-default-sequences`,
              { ...target, role: grantee, owner: owner.name, objectType: "sequence", privileges: [...privs.sequences] },
              on(),
            ),
          );
        }
      }
    }
    // The monitoring views live in audit; SELECT on them is granted after the DDL (see monitoringGrant).
    grants.push(
      new postgresql.Grant(
        `${name}-${MONITOR_ROLE}-audit-usage`,
        { database: database.name, schema: schemas.audit.name, role: monitor.name, objectType: "schema", privileges: ["USAGE"] },
        on(),
      ),
    );

    // Created as superuser before any migration: pg_stat_statements is not a trusted extension.
    const extensions = ["pg_stat_statements", "pgaudit"].map(
      (ext) => new postgresql.Extension(`${name}-extension-${ext}`, { name: ext, database: database.name, schema: "public" }, on()),
    );

    this.pgbouncerAuth = new SqlScript(
      `${name}-pgbouncer-auth`,
      {
        description: "pgbouncer auth function",
        connection: pulumi.secret(
          pulumi.all([args.host, args.port, args.superuserPassword, database.name]).apply(([host, port, password, db]) => ({
            host,
            port,
            database: db,
            user: args.superuser,
            password,
          })),
        ),
        sql: renderPgbouncerAuthFunctionSql(PGBOUNCER_AUTH_SCHEMA, PGBOUNCER_ROLE),
        destroySql: `DROP SCHEMA IF EXISTS "${PGBOUNCER_AUTH_SCHEMA}" CASCADE`,
      },
      { parent: this, dependsOn: [args.server, database, pgbouncer] },
    );

    this.ready = [owner, migrator, app, readonly, monitor, pgbouncer, database, ...Object.values(schemas), ...grants, ...extensions, this.pgbouncerAuth];
    this.registerOutputs({ name: this.name, grants: grants.length, extensions: extensions.length });
  }

  /**
   * SELECT on the monitoring views for kryonix_monitor. The views are made by
   * sql/006_monitoring.sql, so pass the migrations in `after` (and have the
   * migrations depend on `ready`, not on this component, or the two would
   * wait for each other).
   */
  public monitoringGrant(after: pulumi.Resource): postgresql.Grant {
    return new postgresql.Grant(
      `${this.logicalName}-${MONITOR_ROLE}-monitoring-views`,
      {
        database: this.name,
        schema: "audit",
        role: this.roles[MONITOR_ROLE].name,
        objectType: "table",
        objects: [...MONITORING_VIEWS],
        privileges: ["SELECT"],
      },
      { parent: this, provider: this.provider, dependsOn: [after] },
    );
  }
}
