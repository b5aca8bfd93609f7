import { describe, expect, it } from "vitest";
import { CONTROLS } from "../../checks/cis";
import { CIS_CONTROL_IDS } from "../../model/cis";
import { PG_CRON_DATABASE, postgresParameters, validateStackConfig } from "../../model/config";
import { CONSOLE_CLIENT_RESERVE, connectionBudget, pgbouncerPoolSizes, roleConnectionLimits } from "../../model/connection-budget";
import {
  ALTERNATING_ROLES,
  APP_ROLE,
  DATABASE_NAME,
  DECLARED_ROLES,
  DRILL_ROLE,
  LOGIN_ROLES,
  LOGIN_USERS,
  METABASE_MONITORING_VIEWS,
  MIGRATOR_ROLE,
  MONITOR_ROLE,
  MONITORING_SCHEMA,
  MONITORING_VIEWS,
  OWNER_ROLE,
  READONLY_ROLE,
  SCHEMAS,
  SINGLE_USER_ROLES,
  TABLE_GRANTS,
  declaredGrants,
  declaredRoles,
  grantProblems,
  isAlternating,
  loginUsers,
  twinOf,
} from "../../model/database";
import { DRILL_DATABASE } from "../../model/drill";
import { MIN_MAX_CONNECTIONS, MAX_MAX_CONNECTIONS, SUPERUSER_RESERVED_CONNECTIONS } from "../../model/tuning";
import { pgadminServers, serverCertificateNames } from "../../model/topology";

describe("the declared database (model/database.ts)", () => {
  it("splits the login roles into alternating and single-user ones, each exactly once", () => {
    expect([...ALTERNATING_ROLES, ...SINGLE_USER_ROLES].sort()).toEqual([...LOGIN_ROLES].sort());
    expect(ALTERNATING_ROLES.filter((r) => (SINGLE_USER_ROLES as readonly string[]).includes(r))).toEqual([]);
    expect(LOGIN_ROLES.filter(isAlternating)).toEqual([...ALTERNATING_ROLES]);
  });

  it("declares the owner, every login role and a twin of each alternating role", () => {
    expect(LOGIN_USERS).toEqual([...LOGIN_ROLES, ...ALTERNATING_ROLES.map(twinOf)]);
    expect(loginUsers([APP_ROLE, MONITOR_ROLE])).toEqual([APP_ROLE, MONITOR_ROLE, "kryonix_app_b"]);
    expect(DECLARED_ROLES).toEqual([OWNER_ROLE, ...LOGIN_USERS]);
    expect(new Set(DECLARED_ROLES).size).toBe(DECLARED_ROLES.length);
  });

  it("describes each role: only the owner cannot log in, twins become their role at login", () => {
    const roles = declaredRoles();
    expect(Object.keys(roles).sort()).toEqual([...DECLARED_ROLES].sort());
    expect(roles[OWNER_ROLE]).toEqual({ login: false, memberOf: [] });
    expect(roles[MIGRATOR_ROLE]).toEqual({ login: true, memberOf: [OWNER_ROLE] });
    expect(roles[MONITOR_ROLE].memberOf).toEqual(["pg_monitor"]);
    expect(roles[DRILL_ROLE].memberOf).toEqual(["pg_maintain"]);
    expect(roles[twinOf(APP_ROLE)]).toEqual({ login: true, memberOf: [APP_ROLE], settings: [`role=${APP_ROLE}`] });
  });

  it("declares every grant the Database component makes, table grants with their default privileges", () => {
    const grants = declaredGrants();
    for (const [role, bySchema] of Object.entries(TABLE_GRANTS)) {
      for (const [schema, privs] of Object.entries(bySchema)) {
        expect(grants).toContainEqual({ role, schema, objectType: "table", privileges: [...privs!.tables], defaults: true });
        if (privs!.sequences) expect(grants).toContainEqual({ role, schema, objectType: "sequence", privileges: [...privs!.sequences], defaults: true });
      }
    }
    expect(grants).toContainEqual({ role: MONITOR_ROLE, schema: MONITORING_SCHEMA, objectType: "table", privileges: ["SELECT"], objects: MONITORING_VIEWS });
    expect(grants).toContainEqual({ role: READONLY_ROLE, schema: MONITORING_SCHEMA, objectType: "table", privileges: ["SELECT"], objects: METABASE_MONITORING_VIEWS });
    expect(grants.filter((g) => g.role === DRILL_ROLE).map((g) => g.schema)).toEqual([...SCHEMAS]);
    expect(grants.filter((g) => g.role === DRILL_ROLE).every((g) => g.objectType === "schema" && g.privileges.join() === "USAGE")).toBe(true);
  });

  it("lets Metabase read only monitoring views that exist, and grants no ALL", () => {
    expect(METABASE_MONITORING_VIEWS.every((v) => (MONITORING_VIEWS as readonly string[]).includes(v))).toBe(true);
    expect(grantProblems(TABLE_GRANTS)).toEqual([]);
    expect(grantProblems({ kryonix_app: { core: { tables: ["ALL"] } } })).toHaveLength(1);
  });

  it("is the one place the database's name is written: pg_cron and the drill use it", () => {
    expect(PG_CRON_DATABASE).toBe(DATABASE_NAME);
    expect(DRILL_DATABASE).toBe(DATABASE_NAME);
  });
});

describe("the connection budget (model/connection-budget.ts)", () => {
  it("derives PgBouncer's pools and every role's limit from max_connections", () => {
    const budget = connectionBudget(100);
    expect(budget.maxConnections).toBe(100);
    expect(budget.pools).toEqual(pgbouncerPoolSizes(100));
    expect(budget.pools.max_db_connections).toBe(Math.floor((100 - SUPERUSER_RESERVED_CONNECTIONS) * 0.8));
    expect(budget.pools.max_client_conn).toBe(100 * 10 + CONSOLE_CLIENT_RESERVE);
    expect(budget.roleLimits).toEqual(roleConnectionLimits(budget.pools));
    expect(Object.keys(budget.roleLimits).sort()).toEqual([...LOGIN_ROLES].sort());
    // The application gets PgBouncer's whole share; Metabase and PgBouncer's lookup role one pool and its reserve.
    expect(budget.roleLimits[APP_ROLE]).toBe(budget.pools.max_db_connections);
    expect(budget.roleLimits[READONLY_ROLE]).toBe(budget.pools.default_pool_size + budget.pools.reserve_pool_size);
  });

  it.each([MIN_MAX_CONNECTIONS, 100, 500, MAX_MAX_CONNECTIONS])("gives every login role a limit of at least 1 and no more than PgBouncer's share (max_connections %i)", (n) => {
    const { pools, roleLimits } = connectionBudget(n);
    for (const role of LOGIN_ROLES) {
      expect(Number.isInteger(roleLimits[role]) && roleLimits[role] >= 1).toBe(true);
      expect(roleLimits[role]).toBeLessThanOrEqual(Math.max(pools.max_db_connections, 10));
    }
  });

  it.each([MIN_MAX_CONNECTIONS - 1, MAX_MAX_CONNECTIONS + 1, 50.5])("refuses max_connections %s", (n) => {
    expect(() => connectionBudget(n)).toThrow(/max_connections: .* is invalid: an integer from 10 to 10000/);
  });

  it("is computed from the stack's max_connections, a number, the one postgresql.conf gets", () => {
    const config = validateStackConfig({}, "dev");
    expect(config.maxConnections).toBe(100);
    expect(postgresParameters(config).max_connections).toBe("100");
    const raised = validateStackConfig({ "kryonix:postgresOverrides": { max_connections: "250" } }, "dev");
    expect(raised.maxConnections).toBe(250);
    expect(postgresParameters(raised).max_connections).toBe(String(raised.maxConnections));
    expect(connectionBudget(raised.maxConnections).pools.max_db_connections).toBe(Math.floor((250 - SUPERUSER_RESERVED_CONNECTIONS) * 0.8));
  });
});

describe("the stack's topology (model/topology.ts)", () => {
  it("names each server by container, alias and loopback, and the proxy by its public name unless config brings its certificate", () => {
    const names = serverCertificateNames({ stack: "dev", pgadminHost: "pgadmin.kryonix.localhost" });
    expect(Object.keys(names)).toEqual(["minio", "postgres", "pgbouncer", "proxy"]);
    expect(names.postgres).toEqual({ dnsNames: ["kryonix-dev-postgres", "postgres", "localhost"], ipAddresses: ["127.0.0.1"] });
    expect(names.proxy).toEqual({ dnsNames: ["pgadmin.kryonix.localhost"], ipAddresses: [] });
    expect(serverCertificateNames({ stack: "dev", pgadminHost: "x.example.com", proxyCertificate: "PEM" }).proxy).toBeUndefined();
  });

  it("registers in pgAdmin the monitoring role through PgBouncer (from the pgpass) and the superuser straight to PostgreSQL (asked for)", () => {
    expect(pgadminServers("dev")).toEqual([
      { name: "kryonix dev (PgBouncer)", host: "kryonix-dev-pgbouncer", port: 6432, database: DATABASE_NAME, username: MONITOR_ROLE, passFile: true },
      { name: "kryonix dev (PostgreSQL, DBA)", host: "kryonix-dev-postgres", port: 5432, database: DATABASE_NAME, username: "postgres" },
    ]);
  });
});

describe("the CIS controls (model/cis.ts)", () => {
  it("are what the audit judges, in the same order", () => {
    expect(CONTROLS.map((c) => c.id)).toEqual([...CIS_CONTROL_IDS]);
    expect(CONTROLS.every((c) => c.title.length > 0 && typeof c.check === "function")).toBe(true);
  });
});
