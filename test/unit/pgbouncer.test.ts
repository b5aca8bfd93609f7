import { describe, expect, it } from "vitest";
import { PgbouncerIniOptions, pgbouncerAuthQuery, renderPgbouncerAuthFunctionSql, renderPgbouncerIni } from "../../render/pgbouncer";
import { pgbouncerPoolSizes } from "../../model/connection-budget";

describe("pgbouncerPoolSizes", () => {
  it("sizes pools for the default 100 connections", () => {
    expect(pgbouncerPoolSizes(100)).toEqual({
      default_pool_size: 19,
      min_pool_size: 4,
      reserve_pool_size: 4,
      // 80% of (100 - 3 superuser-reserved)
      max_db_connections: 77,
      // 10x max_connections, plus the console's reserve.
      max_client_conn: 1020,
    });
  });

  it.each([10, 11, 50, 100, 200, 500, 1000, 10000])("keeps headroom and invariants for max_connections=%i", (max) => {
    const pools = pgbouncerPoolSizes(max);
    expect(pools.max_client_conn).toBeGreaterThanOrEqual(10 * max);
    expect(pools.max_db_connections).toBeLessThanOrEqual(Math.floor(0.8 * (max - 3)));
    expect(pools.max_db_connections).toBeGreaterThan(0);
    expect(pools.default_pool_size + pools.reserve_pool_size).toBeLessThanOrEqual(pools.max_db_connections);
    expect(pools.min_pool_size).toBeLessThanOrEqual(pools.default_pool_size);
    expect(pools.reserve_pool_size).toBeGreaterThanOrEqual(1);
  });

  it("handles the smallest server", () => {
    expect(pgbouncerPoolSizes(10)).toEqual({
      default_pool_size: 2,
      min_pool_size: 0,
      reserve_pool_size: 1,
      max_db_connections: 5,
      max_client_conn: 120,
    });
  });

  it.each([9, 10001, 50.5, Number.NaN])("rejects max_connections=%s", (max) => {
    expect(() => pgbouncerPoolSizes(max)).toThrow(/^max_connections: .* is invalid: an integer from 10 to 10000$/);
  });
});

describe("renderPgbouncerIni", () => {
  const options: PgbouncerIniOptions = {
    listenPort: 6432,
    dbHost: "kryonix-dev-postgres",
    dbPort: 5432,
    dbName: "kryonix",
    authUser: "pgbouncer_auth",
    authQuery: pgbouncerAuthQuery("pgbouncer"),
    pools: pgbouncerPoolSizes(100),
  };
  const ini = renderPgbouncerIni(options);
  const lines = ini.split("\n");

  it.each([
    "[databases]",
    "kryonix = host=kryonix-dev-postgres port=5432 dbname=kryonix",
    "[pgbouncer]",
    "listen_addr = 0.0.0.0",
    "listen_port = 6432",
    "auth_type = scram-sha-256",
    "auth_file = /etc/pgbouncer/userlist.txt",
    "auth_user = pgbouncer_auth",
    "auth_query = SELECT usename, passwd FROM pgbouncer.get_auth($1)",
    "admin_users = pgbouncer_auth",
    "stats_users = pgbouncer_auth",
    "pool_mode = transaction",
    "max_client_conn = 1020",
    "default_pool_size = 19",
    "min_pool_size = 4",
    "reserve_pool_size = 4",
    "max_db_connections = 77",
    "max_prepared_statements = 200",
    "ignore_startup_parameters = extra_float_digits,search_path",
    "client_tls_sslmode = require",
    "server_tls_sslmode = verify-full",
    "server_tls_ca_file = /etc/kryonix/tls/ca.crt",
    "client_tls_protocols = tlsv1.2,tlsv1.3",
    "log_connections = 1",
    "log_disconnections = 1",
  ])("contains %j", (line) => {
    expect(lines).toContain(line);
  });

  it("puts the [databases] section before [pgbouncer]", () => {
    expect(lines.indexOf("[databases]")).toBeLessThan(lines.indexOf("[pgbouncer]"));
  });

  it("contains no password", () => {
    expect(ini).not.toMatch(/^\s*password\s*=/m);
    expect(ini).not.toMatch(/password=/i);
  });

  it("honours maxPreparedStatements and console users", () => {
    const custom = renderPgbouncerIni({ ...options, maxPreparedStatements: 0, adminUsers: ["ops"], statsUsers: ["ops", "monitor"] });
    expect(custom).toContain("max_prepared_statements = 0\n");
    expect(custom).toContain("admin_users = ops\n");
    expect(custom).toContain("stats_users = ops,monitor\n");
  });

  it("is deterministic", () => {
    expect(renderPgbouncerIni(options)).toBe(ini);
  });

  it.each<[Partial<PgbouncerIniOptions>, RegExp]>([
    [{ listenPort: 0 }, /^pgbouncer\.ini listen_port: 0 is invalid: an integer port from 1 to 65535$/],
    [{ dbPort: 70000 }, /\[databases\] port: 70000 is invalid/],
    [{ dbHost: "bad host" }, /\[databases\] host: "bad host" is invalid: a hostname/],
    [{ dbName: "Kryonix" }, /\[databases\] dbname: "Kryonix" is invalid: a lower-case identifier/],
    [{ dbName: "pgbouncer" }, /dbname: "pgbouncer" is invalid: any name except pgbouncer/],
    [{ authUser: "x; drop" }, /auth_user: "x; drop" is invalid/],
    [{ adminUsers: ["Admin"] }, /admin_users\/stats_users: "Admin" is invalid/],
    [{ authQuery: "SELECT 1" }, /auth_query: "SELECT 1" is invalid: .*\$1/],
    [{ authQuery: "SELECT $1;\nDROP TABLE x" }, /auth_query: .* is invalid/],
    [{ maxPreparedStatements: -1 }, /max_prepared_statements: -1 is invalid: an integer from 0 to 100000/],
  ])("rejects %j", (override, message) => {
    expect(() => renderPgbouncerIni({ ...options, ...override })).toThrow(message);
  });

  it("rejects inconsistent pools", () => {
    const pools = pgbouncerPoolSizes(100);
    expect(() => renderPgbouncerIni({ ...options, pools: { ...pools, default_pool_size: 80 } })).toThrow(
      "pgbouncer.ini default_pool_size + reserve_pool_size: 84 is invalid: at most max_db_connections (77)",
    );
    expect(() => renderPgbouncerIni({ ...options, pools: { ...pools, min_pool_size: 30 } })).toThrow(
      "pgbouncer.ini min_pool_size: 30 is invalid: at most default_pool_size (19)",
    );
    expect(() => renderPgbouncerIni({ ...options, pools: { ...pools, max_client_conn: 0 } })).toThrow(
      "pgbouncer.ini max_client_conn: 0 is invalid: an integer >= 1",
    );
  });
});

describe("renderPgbouncerAuthFunctionSql", () => {
  const sql = renderPgbouncerAuthFunctionSql("pgbouncer", "pgbouncer_auth");
  const lines = sql.split("\n").map((line) => line.trim());

  it.each([
    'CREATE SCHEMA IF NOT EXISTS "pgbouncer";',
    'REVOKE ALL ON SCHEMA "pgbouncer" FROM PUBLIC;',
    'GRANT USAGE ON SCHEMA "pgbouncer" TO "pgbouncer_auth";',
    'CREATE OR REPLACE FUNCTION "pgbouncer".get_auth(p_usename text)',
    "RETURNS TABLE (usename name, passwd text)",
    "SECURITY DEFINER",
    "SET search_path = pg_catalog, pg_temp",
    "FROM pg_catalog.pg_authid AS a",
    "WHERE a.rolname = p_usename",
    "AND a.rolcanlogin",
    "AND NOT a.rolsuper",
    'REVOKE ALL ON FUNCTION "pgbouncer".get_auth(text) FROM PUBLIC;',
    'GRANT EXECUTE ON FUNCTION "pgbouncer".get_auth(text) TO "pgbouncer_auth";',
  ])("contains %j", (line) => {
    expect(lines).toContain(line);
  });

  it("revokes PUBLIC before granting the lookup role", () => {
    expect(sql.indexOf("REVOKE ALL ON FUNCTION")).toBeLessThan(sql.indexOf("GRANT EXECUTE"));
    expect(sql.match(/GRANT EXECUTE/g)).toHaveLength(1);
  });

  it("matches the query the ini uses", () => {
    expect(pgbouncerAuthQuery("pgbouncer")).toBe("SELECT usename, passwd FROM pgbouncer.get_auth($1)");
    expect(sql).toContain('"pgbouncer".get_auth(p_usename text)');
  });

  it("rejects identifiers that would need quoting or inject SQL", () => {
    expect(renderPgbouncerAuthFunctionSql("pgbouncer", "pgbouncer_auth", ["kryonix_drill"])).toContain(
      "AND NOT a.rolsuper\n      AND a.rolname <> ALL (ARRAY['kryonix_drill']::name[])\n",
    );
    expect(() => renderPgbouncerAuthFunctionSql("pgbouncer", "x", ["a'b"])).toThrow(/direct-only role/);
    expect(() => renderPgbouncerAuthFunctionSql("pg-bouncer", "x")).toThrow(/^pgbouncer auth schema: "pg-bouncer" is invalid: a lower-case identifier/);
    expect(() => renderPgbouncerAuthFunctionSql("pgbouncer", 'x"; DROP ROLE postgres; --')).toThrow(/pgbouncer auth lookup role: .* is invalid/);
    expect(() => pgbouncerAuthQuery("Public")).toThrow(/pgbouncer auth schema: "Public" is invalid/);
  });
});
