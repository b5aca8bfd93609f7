import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import { resourceName } from "../model/config";
import { throwProblems } from "../model/containers";
import {
  ALTERNATING_ROLES,
  APP_ROLE,
  CLUSTER_HARDENING,
  DATABASE_NAME,
  DRILL_ROLE,
  EXTENSIONS,
  IDENTIFIER,
  isAlternating,
  LOGIN_ROLES,
  LOGIN_USERS,
  type LoginRole,
  MAINTENANCE_DATABASE,
  METABASE_MONITORING_VIEWS,
  MIGRATOR_ROLE,
  MONITOR_ROLE,
  MONITORING_SCHEMA,
  MONITORING_VIEWS,
  OWNER_ROLE,
  PGBOUNCER_AUTH_SCHEMA,
  PGBOUNCER_ROLE,
  READONLY_ROLE,
  ROLE_MEMBERSHIPS,
  type Schema,
  SCHEMAS,
  type SchemaPrivileges,
  TABLE_GRANTS,
  grantProblems,
  twinOf,
} from "../model/database";
import { invalid } from "../model/messages";
import { renderPgbouncerAuthFunctionSql } from "../render/pgbouncer";
import type { KeptCluster } from "../checks/kept-cluster";
import { writeCaFile } from "../io/ca-file";
import type { RoleSecret } from "./secrets";
import { SqlScript } from "../providers/sql-script";
import { type SuperuserAccess, superuserConnection } from "./postgres";

/** What a client of a role logs in with now. */
export interface Login {
  user: string;
  password: string;
}

/** Whether the adopted cluster `adopt` has `name` among `kind`, so that it is imported rather than created. Pure. */
export function importedFrom(adopt: false | KeptCluster, kind: "roles" | "databases", name: string): boolean {
  return adopt !== false && adopt[kind].includes(name);
}

export interface DatabaseArgs {
  stack: string;
  /** The PostgreSQL container; every database object waits for it (it is created with wait: true, so: healthy). */
  server: pulumi.CustomResource;
  /**
   * How this machine reaches PostgreSQL as superuser (Postgres.superuser), verified (verify-full)
   * against the stack CA by the provider and the scripts.
   */
  superuser: SuperuserAccess;
  /** Each login role's connection limit (model/connection-budget.ts connectionBudget's roleLimits). */
  connectionLimits: Readonly<Record<LoginRole, number>>;
  /** Each login user's password and SCRAM verifier (Secrets.roles: the roles and their twins). */
  roleSecrets: Readonly<Record<string, RoleSecret>>;
  /** Role -> the login user its clients use now (Secrets.currentUsers). */
  currentUsers: Readonly<Record<string, string>>;
  /**
   * The volume holding the cluster. Every object here lives in it, so none is dropped when the
   * volume goes too (a destroy keeps the data): they are `deletedWith` it. Removing one object
   * from the code still drops or revokes it.
   */
  dataVolume: pulumi.Resource;
  /**
   * false, or what the cluster in the volume holds when it comes from an earlier deployment that
   * this stack's state no longer tracks (a destroy that kept the data; checks/kept-cluster.ts): each
   * role and the database are imported when the cluster has them and created when it lacks them
   * (a volume kept by a version that declared fewer roles).
   */
  adopt: false | KeptCluster;
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
  if (!args.dataVolume) problems.push(invalid("Database dataVolume", args.dataVolume, "the PostgreSQL data volume resource"));
  const adopt = args.adopt as unknown;
  const names = (v: unknown) => Array.isArray(v) && v.every((n) => typeof n === "string");
  if (adopt !== false && !(typeof adopt === "object" && adopt !== null && names((adopt as KeptCluster).roles) && names((adopt as KeptCluster).databases))) {
    problems.push(invalid("Database adopt", args.adopt, "false, or the kept cluster's {roles, databases} (checks/kept-cluster.ts)"));
  }
  for (const role of LOGIN_ROLES) {
    const limit = args.connectionLimits?.[role];
    if (!Number.isInteger(limit) || limit < 1) problems.push(invalid(`Database connectionLimits.${role}`, limit, "a whole number from 1 (connectionBudget(maxConnections).roleLimits)"));
  }
  for (const user of LOGIN_USERS) {
    if (!args.roleSecrets?.[user]) problems.push(invalid(`Database roleSecrets.${user}`, undefined, "the user's password and SCRAM verifier"));
  }
  for (const role of LOGIN_ROLES) {
    const users = isAlternating(role) ? [role, twinOf(role)] : [role];
    if (!users.includes(args.currentUsers?.[role])) problems.push(invalid(`Database currentUsers.${role}`, args.currentUsers?.[role], `one of ${users.join(", ")}`));
  }
  if (typeof args.superuser?.user !== "string" || !IDENTIFIER.test(args.superuser.user)) {
    problems.push(invalid("Database superuser.user", args.superuser?.user, "a lower-case role name"));
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
  /** Every login user's password (secrets; the roles and their twins), by user. */
  public readonly passwords: Readonly<Record<string, pulumi.Output<string>>>;
  /** Role -> the user and password its clients log in with now (a secret). */
  public readonly logins: Readonly<Record<LoginRole, pulumi.Output<Login>>>;
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
  private readonly dataVolume: pulumi.Resource;
  /** The last of the serial grants: later grants wait for it too. */
  private readonly lastGrant: pulumi.Resource;

  constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kryonix:db:Database", name, {}, opts);
    checkDatabaseArgs(args);
    this.logicalName = name;
    this.dataVolume = args.dataVolume;

    this.provider = new postgresql.Provider(
      `${name}-provider`,
      {
        // When adopting, the host waits for the new container: a preview then leaves the provider
        // unconfigured, and importing reads nothing from a server that is not there yet.
        host: args.adopt ? pulumi.all([args.server.id, args.superuser.host]).apply(([, host]) => host) : args.superuser.host,
        port: args.superuser.port,
        username: args.superuser.user,
        password: args.superuser.password,
        database: MAINTENANCE_DATABASE,
        // verify-full against the stack CA: the provider (lib/pq) reads it from a file.
        sslmode: "verify-full",
        sslrootcert: pulumi.output(args.superuser.ca).apply((pem) => writeCaFile(args.stack, pem)),
        superuser: true,
        connectTimeout: 30,
        expectedVersion: "17",
      },
      { parent: this, dependsOn: [args.server] },
    );
    // Everything below talks to the server through the provider, waits for the healthy container,
    // and lives in the data volume.
    const on = (more: pulumi.Resource[] = [], extra: pulumi.CustomResourceOptions = {}): pulumi.CustomResourceOptions => ({
      parent: this,
      provider: this.provider,
      dependsOn: [args.server, ...more],
      deletedWith: args.dataVolume,
      ...extra,
    });
    // Imported when the kept cluster has it; otherwise created, as on a fresh cluster. The ID is the
    // name, so a resource already in the state ignores the option.
    const adopted = (kind: "roles" | "databases", id: string): pulumi.CustomResourceOptions => (importedFrom(args.adopt, kind, id) ? { import: id } : {});

    // NOLOGIN, and a limit of 0 says so (CIS 5.5 reads every role's limit); SET ROLE is not a login.
    const owner = new postgresql.Role(`${name}-${OWNER_ROLE}`, { name: OWNER_ROLE, login: false, connectionLimit: 0 }, on([], adopted("roles", OWNER_ROLE)));

    const passwords: Record<string, pulumi.Output<string>> = {};
    for (const user of LOGIN_USERS) passwords[user] = pulumi.secret(args.roleSecrets[user].password);
    this.passwords = passwords;
    const logins = {} as Record<LoginRole, pulumi.Output<Login>>;
    for (const role of LOGIN_ROLES) {
      const user = args.currentUsers[role];
      logins[role] = pulumi.secret(passwords[user].apply((password) => ({ user, password })));
    }
    this.logins = logins;

    const limits = args.connectionLimits;
    const loginRole = (role: LoginRole, extra: Partial<postgresql.RoleArgs> = {}, user: string = role) =>
      new postgresql.Role(
        `${name}-${user}`,
        // The verifier, never the password, goes over the wire; pgaudit logs the statement with
        // the password <REDACTED>, and a failing one is not logged (log_min_error_statement=panic).
        { name: user, login: true, password: args.roleSecrets[user].scramVerifier, encryptedPassword: true, connectionLimit: limits[role], ...extra },
        on([], adopted("roles", user)),
      );
    // The owner by its resource's output, so the member waits for it.
    const memberships = (role: string) => ({ roles: (ROLE_MEMBERSHIPS[role] ?? []).map((r): pulumi.Input<string> => (r === OWNER_ROLE ? owner.name : r)) });
    const migrator = loginRole(MIGRATOR_ROLE, memberships(MIGRATOR_ROLE));
    const app = loginRole(APP_ROLE);
    const readonly = loginRole(READONLY_ROLE);
    const monitor = loginRole(MONITOR_ROLE, memberships(MONITOR_ROLE));
    const pgbouncer = loginRole(PGBOUNCER_ROLE);
    const drill = loginRole(DRILL_ROLE, memberships(DRILL_ROLE));
    const byRole = { [MIGRATOR_ROLE]: migrator, [APP_ROLE]: app, [READONLY_ROLE]: readonly };
    // Each twin: a member of its role (INHERIT: the role's grants) that becomes the role at login
    // (SET role), with the role's connection limit. Not a NOLOGIN group with two new users: the
    // role keeps logging in as it always did, and its grants, default privileges and objects stay
    // where they are.
    const twins = ALTERNATING_ROLES.map((role) =>
      loginRole(role, { roles: [byRole[role].name], inherit: true, assumeRole: byRole[role].name }, twinOf(role)),
    );
    this.roles = {
      [OWNER_ROLE]: owner,
      [MIGRATOR_ROLE]: migrator,
      [APP_ROLE]: app,
      [READONLY_ROLE]: readonly,
      [MONITOR_ROLE]: monitor,
      [PGBOUNCER_ROLE]: pgbouncer,
      ...Object.fromEntries(ALTERNATING_ROLES.map((role, i) => [twinOf(role), twins[i]])),
      [DRILL_ROLE]: drill,
    };

    const database = new postgresql.Database(
      `${name}-${DATABASE_NAME}`,
      { name: DATABASE_NAME, owner: owner.name, encoding: "UTF8", lcCollate: "C.UTF-8", lcCtype: "C.UTF-8", template: "template0" },
      // The template matters only to CREATE DATABASE and cannot be read back (an import would see none).
      on([], { ...adopted("databases", DATABASE_NAME), ignoreChanges: ["template"] }),
    );
    this.name = database.name;

    const schemas = Object.fromEntries(
      SCHEMAS.map((schema) => [
        schema,
        new postgresql.Schema(
          `${name}-schema-${schema}`,
          // dropCascade stays off: removing a schema from code must not silently drop its tables.
          // IF NOT EXISTS: a cluster kept by a destroy already has it.
          { name: schema, database: database.name, owner: owner.name, ifNotExists: true },
          on(),
        ),
      ]),
    ) as Record<Schema, postgresql.Schema>;

    // One at a time: each grant revokes, then grants, and two of them on the same schema or database
    // at once fail with "tuple concurrently updated" (they update the same ACL row).
    const grants: pulumi.Resource[] = [];
    const serially = <T extends pulumi.Resource>(make: (opts: pulumi.CustomResourceOptions) => T): T => {
      const made = make(on(grants.length ? [grants[grants.length - 1]] : []));
      grants.push(made);
      return made;
    };
    // PUBLIC has no privilege on schema public (CIS 4.10): it holds only the extensions' objects,
    // which the owner (pg_database_owner) reaches and the monitoring views read on its behalf.
    serially(
      (o) =>
        new postgresql.Grant(
          `${name}-public-schema`,
          { database: database.name, role: "public", schema: "public", objectType: "schema", privileges: [] },
          o,
        ),
    );
    for (const [role, resource] of [
      [MIGRATOR_ROLE, migrator],
      [APP_ROLE, app],
      [READONLY_ROLE, readonly],
      [MONITOR_ROLE, monitor],
      [PGBOUNCER_ROLE, pgbouncer],
      [DRILL_ROLE, drill],
    ] as const) {
      serially(
        (o) =>
          new postgresql.Grant(
            `${name}-${role}-connect`,
            { database: database.name, role: resource.name, objectType: "database", privileges: ["CONNECT"] },
            o,
          ),
      );
    }

    for (const [role, bySchema] of Object.entries(TABLE_GRANTS)) {
      const grantee = this.roles[role].name;
      for (const [schema, privs] of Object.entries(bySchema) as [Schema, NonNullable<SchemaPrivileges[Schema]>][]) {
        const target = { database: database.name, schema: schemas[schema].name };
        const id = `${name}-${role}-${schema}`;
        serially((o) => new postgresql.Grant(`${id}-usage`, { ...target, role: grantee, objectType: "schema", privileges: ["USAGE"] }, o));
        serially((o) => new postgresql.Grant(`${id}-tables`, { ...target, role: grantee, objectType: "table", privileges: [...privs.tables] }, o));
        serially(
          (o) =>
            new postgresql.DefaultPrivileges(
              `${id}-default-tables`,
              { ...target, role: grantee, owner: owner.name, objectType: "table", privileges: [...privs.tables] },
              o,
            ),
        );
        if (privs.sequences) {
          serially(
            (o) => new postgresql.Grant(`${id}-sequences`, { ...target, role: grantee, objectType: "sequence", privileges: [...privs.sequences!] }, o),
          );
          serially(
            (o) =>
              new postgresql.DefaultPrivileges(
                `${id}-default-sequences`,
                { ...target, role: grantee, owner: owner.name, objectType: "sequence", privileges: [...privs.sequences!] },
                o,
              ),
          );
        }
      }
    }
    // The drill's role names every table in its LOCK TABLE: USAGE on each schema, nothing on the tables.
    for (const schema of SCHEMAS) {
      serially(
        (o) =>
          new postgresql.Grant(
            `${name}-${DRILL_ROLE}-${schema}-usage`,
            { database: database.name, schema: schemas[schema].name, role: drill.name, objectType: "schema", privileges: ["USAGE"] },
            o,
          ),
      );
    }
    // The monitoring views live in audit; SELECT on them is granted after the DDL (see monitoringGrant).
    serially(
      (o) =>
        new postgresql.Grant(
          `${name}-${MONITOR_ROLE}-audit-usage`,
          { database: database.name, schema: schemas.audit.name, role: monitor.name, objectType: "schema", privileges: ["USAGE"] },
          o,
        ),
    );
    this.lastGrant = grants[grants.length - 1];

    // Created as superuser before any migration: pg_stat_statements is not a trusted extension.
    const extensions = EXTENSIONS.map(
      (ext) => new postgresql.Extension(`${name}-extension-${ext}`, { name: ext, database: database.name, schema: "public" }, on()),
    );

    const superuserIn = (db: pulumi.Input<string>) => superuserConnection(args.superuser, db);
    // What initdb leaves open in the databases it makes: PUBLIC's USAGE and CREATE on schema public
    // (template1's is copied into every database made from it), and a superuser without a
    // connection limit (CIS 4.10, 5.5). PostgreSQL does not enforce a role's limit on a superuser:
    // the number records how many sessions the stack's own work takes.
    const hardening = CLUSTER_HARDENING.map(
      ({ database: db, sql, destroySql }) =>
        new SqlScript(
          `${name}-hardening-${db}`,
          { description: `${db}: CIS hardening`, connection: superuserIn(db), sql: sql(args.superuser.user), destroySql: destroySql(args.superuser.user) },
          { parent: this, dependsOn: [args.server], deletedWith: args.dataVolume },
        ),
    );

    this.pgbouncerAuth = new SqlScript(
      `${name}-pgbouncer-auth`,
      {
        description: "pgbouncer auth function",
        connection: superuserIn(database.name),
        // The drill's role logs in directly from its own container, never through the pooler.
        sql: renderPgbouncerAuthFunctionSql(PGBOUNCER_AUTH_SCHEMA, PGBOUNCER_ROLE, [DRILL_ROLE]),
        destroySql: `DROP SCHEMA IF EXISTS "${PGBOUNCER_AUTH_SCHEMA}" CASCADE`,
      },
      { parent: this, dependsOn: [args.server, database, pgbouncer], deletedWith: args.dataVolume },
    );

    this.ready = [owner, migrator, app, readonly, monitor, pgbouncer, drill, ...twins, database, ...Object.values(schemas), ...grants, ...extensions, this.pgbouncerAuth, ...hardening];
    this.registerOutputs({ name: this.name, grants: grants.length, extensions: extensions.length });
  }

  /**
   * SELECT on the monitoring views for kryonix_monitor. The views are made by
   * sql/006_monitoring.sql, so pass the migrations in `after` (and have the
   * migrations depend on `ready`, not on this component, or the two would
   * wait for each other).
   */
  public monitoringGrant(after: pulumi.Resource): postgresql.Grant[] {
    const monitor = new postgresql.Grant(
      `${this.logicalName}-${MONITOR_ROLE}-monitoring-views`,
      {
        database: this.name,
        schema: MONITORING_SCHEMA,
        role: this.roles[MONITOR_ROLE].name,
        objectType: "table",
        objects: [...MONITORING_VIEWS],
        privileges: ["SELECT"],
      },
      { parent: this, provider: this.provider, dependsOn: [after, this.lastGrant], deletedWith: this.dataVolume },
    );
    // One after the other: grants on the same schema at once fail with "tuple concurrently updated".
    const readonlyUsage = new postgresql.Grant(
      `${this.logicalName}-${READONLY_ROLE}-audit-usage`,
      { database: this.name, schema: MONITORING_SCHEMA, role: this.roles[READONLY_ROLE].name, objectType: "schema", privileges: ["USAGE"] },
      { parent: this, provider: this.provider, dependsOn: [monitor], deletedWith: this.dataVolume },
    );
    const readonlyViews = new postgresql.Grant(
      `${this.logicalName}-${READONLY_ROLE}-monitoring-views`,
      {
        database: this.name,
        schema: MONITORING_SCHEMA,
        role: this.roles[READONLY_ROLE].name,
        objectType: "table",
        objects: [...METABASE_MONITORING_VIEWS],
        privileges: ["SELECT"],
      },
      { parent: this, provider: this.provider, dependsOn: [readonlyUsage], deletedWith: this.dataVolume },
    );
    return [monitor, readonlyUsage, readonlyViews];
  }
}
