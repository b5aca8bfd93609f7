import { invalid } from "../model/messages";
import { pgbouncerTlsLines } from "../model/tls";
import type { PgbouncerPools } from "../model/connection-budget";

export interface PgbouncerIniOptions {
  listenPort: number;
  /** PostgreSQL's host name, or the absolute path of the directory holding its Unix socket (no TLS on that leg). */
  dbHost: string;
  dbPort: number;
  dbName: string;
  /** The role PgBouncer logs in as to run authQuery; its line is the only one in userlist.txt. */
  authUser: string;
  authQuery: string;
  pools: PgbouncerPools;
  /** Prepared statements tracked per server connection in transaction mode; 0 disables. */
  maxPreparedStatements?: number;
  /** Console users; default [authUser], the only role PgBouncer can verify without a backend. */
  adminUsers?: readonly string[];
  statsUsers?: readonly string[];
  /** Where the container finds userlist.txt; default USERLIST_PATH. */
  authFile?: string;
}

export const DEFAULT_MAX_PREPARED_STATEMENTS = 200;
export const USERLIST_PATH = "/etc/pgbouncer/userlist.txt";
// Lower-case only: PgBouncer and PostgreSQL would otherwise disagree on case folding.
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9])?$/;
const SOCKET_DIR = /^\/[A-Za-z0-9._\/-]{1,200}$/;

function checkPort(setting: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(invalid(setting, port, "an integer port from 1 to 65535"));
  }
}

function checkIdentifier(setting: string, name: string): void {
  if (typeof name !== "string" || !IDENTIFIER.test(name)) {
    const allowed = "a lower-case identifier: a-z, 0-9 and _, not starting with a digit, at most 63 characters";
    throw new Error(invalid(setting, name, allowed));
  }
}

function checkPools(pools: PgbouncerPools): void {
  for (const [key, value] of Object.entries(pools)) {
    const min = key === "min_pool_size" ? 0 : 1;
    if (!Number.isInteger(value) || value < min) {
      throw new Error(invalid(`pgbouncer.ini ${key}`, value, `an integer >= ${min}`));
    }
  }
  if (pools.default_pool_size + pools.reserve_pool_size > pools.max_db_connections) {
    throw new Error(
      invalid(
        "pgbouncer.ini default_pool_size + reserve_pool_size",
        pools.default_pool_size + pools.reserve_pool_size,
        `at most max_db_connections (${pools.max_db_connections})`,
      ),
    );
  }
  if (pools.min_pool_size > pools.default_pool_size) {
    throw new Error(invalid("pgbouncer.ini min_pool_size", pools.min_pool_size, `at most default_pool_size (${pools.default_pool_size})`));
  }
}

/** The auth_query matching renderPgbouncerAuthFunctionSql(schema, ...). */
export function pgbouncerAuthQuery(schema: string): string {
  checkIdentifier("pgbouncer auth schema", schema);
  return `SELECT usename, passwd FROM ${schema}.get_auth($1)`;
}

/**
 * pgbouncer.ini for one database in transaction pooling mode. It holds no
 * password: the auth_user's SCRAM secret goes into userlist.txt when the
 * container starts, and every other role is looked up through auth_query.
 */
export function renderPgbouncerIni(options: PgbouncerIniOptions): string {
  const { listenPort, dbHost, dbPort, dbName, authUser, authQuery, pools } = options;
  const maxPreparedStatements = options.maxPreparedStatements ?? DEFAULT_MAX_PREPARED_STATEMENTS;
  const adminUsers = options.adminUsers ?? [authUser];
  const statsUsers = options.statsUsers ?? [authUser];
  const authFile = options.authFile ?? USERLIST_PATH;

  checkPort("pgbouncer.ini listen_port", listenPort);
  checkPort("pgbouncer.ini [databases] port", dbPort);
  const overSocket = typeof dbHost === "string" && SOCKET_DIR.test(dbHost);
  if (typeof dbHost !== "string" || !(HOSTNAME.test(dbHost) || overSocket)) {
    const allowed = "a hostname or IP address (letters, digits, '.', '-', '_'), or the absolute path of PostgreSQL's socket directory";
    throw new Error(invalid("pgbouncer.ini [databases] host", dbHost, allowed));
  }
  checkIdentifier("pgbouncer.ini [databases] dbname", dbName);
  // "pgbouncer" is the name of PgBouncer's own admin console database.
  if (dbName === "pgbouncer") {
    throw new Error(invalid("pgbouncer.ini [databases] dbname", dbName, "any name except pgbouncer, which is the admin console"));
  }
  checkIdentifier("pgbouncer.ini auth_user", authUser);
  for (const user of [...adminUsers, ...statsUsers]) checkIdentifier("pgbouncer.ini admin_users/stats_users", user);
  if (typeof authQuery !== "string" || !authQuery.includes("$1") || /[\r\n;]/.test(authQuery)) {
    const allowed = "a single SQL statement on one line, without ';', taking the user name as $1";
    throw new Error(invalid("pgbouncer.ini auth_query", authQuery, allowed));
  }
  if (!Number.isInteger(maxPreparedStatements) || maxPreparedStatements < 0 || maxPreparedStatements > 100_000) {
    throw new Error(invalid("pgbouncer.ini max_prepared_statements", maxPreparedStatements, "an integer from 0 to 100000"));
  }
  checkPools(pools);
  if (typeof authFile !== "string" || !/^\/[A-Za-z0-9._\/-]+$/.test(authFile)) {
    throw new Error(invalid("pgbouncer.ini auth_file", authFile, "an absolute path of letters, digits, '.', '_', '-' and '/'"));
  }

  return [
    "; Generated by kryonix-db; do not edit. No passwords live in this file.",
    "",
    "[databases]",
    // auth_query runs in this database, so the get_auth function must exist here.
    `${dbName} = host=${dbHost} port=${dbPort} dbname=${dbName}`,
    "",
    "[pgbouncer]",
    "listen_addr = 0.0.0.0",
    `listen_port = ${listenPort}`,
    "",
    "auth_type = scram-sha-256",
    `auth_file = ${authFile}`,
    `auth_user = ${authUser}`,
    `auth_query = ${authQuery}`,
    `admin_users = ${adminUsers.join(",")}`,
    `stats_users = ${statsUsers.join(",")}`,
    "",
    "pool_mode = transaction",
    `max_client_conn = ${pools.max_client_conn}`,
    `default_pool_size = ${pools.default_pool_size}`,
    `min_pool_size = ${pools.min_pool_size}`,
    `reserve_pool_size = ${pools.reserve_pool_size}`,
    `max_db_connections = ${pools.max_db_connections}`,
    // Lets drivers keep using protocol-level prepared statements in transaction mode.
    `max_prepared_statements = ${maxPreparedStatements}`,
    // JDBC and others send these at startup; PgBouncer would otherwise refuse the client.
    "ignore_startup_parameters = extra_float_digits,search_path",
    "",
    // TLS only from clients; over TCP, PostgreSQL verified by name against the stack CA (model/tls.ts).
    // PgBouncer asks for no TLS on a Unix socket, so there the server_tls lines would only mislead.
    ...pgbouncerTlsLines({ server: !overSocket }),
    "",
    // Over TCP the server is HAProxy's write port (`ha`): a failed login is a failover under way,
    // retried every second instead of every 15 (PgBouncer's default), which would add up to 15 s;
    // and a login opened while the old leader shuts down can hang: given up after 3 s, not 15
    // (measured: a switchover's first write through PgBouncer 18.7 s median with the default).
    ...(overSocket ? [] : ["server_login_retry = 1", "server_connect_timeout = 3", ""]),
    "log_connections = 1",
    "log_disconnections = 1",
    "",
  ].join("\n");
}

function quoteIdent(name: string): string {
  return `"${name}"`;
}

/**
 * SQL creating `<schema>.get_auth(p_usename text)`, the function auth_query
 * calls. It must be run by a superuser (it reads pg_authid as SECURITY
 * DEFINER) in the database PgBouncer serves. Only the lookup role may execute
 * it. It never returns the secret of a superuser, a role without LOGIN, an expired role (so the
 * pooler cannot be used to log in as postgres) or a role of `directOnly` (the restore drill's,
 * which logs in directly from its own container): for those, and for names no role has, it returns
 * a decoy verifier, so PgBouncer answers "SASL authentication failed" as for a wrong password.
 */
export function renderPgbouncerAuthFunctionSql(schema: string, lookupRole: string, directOnly: readonly string[] = []): string {
  checkIdentifier("pgbouncer auth schema", schema);
  checkIdentifier("pgbouncer auth lookup role", lookupRole);
  for (const r of directOnly) checkIdentifier("pgbouncer auth direct-only role", r);
  const direct = directOnly.length ? `\n      AND a.rolname <> ALL (ARRAY[${directOnly.map((r) => `'${r}'`).join(", ")}]::name[])` : "";
  const s = quoteIdent(schema);
  const role = quoteIdent(lookupRole);
  return `CREATE SCHEMA IF NOT EXISTS ${s};
REVOKE ALL ON SCHEMA ${s} FROM PUBLIC;
GRANT USAGE ON SCHEMA ${s} TO ${role};

CREATE OR REPLACE FUNCTION ${s}.get_auth(p_usename text)
RETURNS TABLE (usename name, passwd text)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $get_auth$
  WITH eligible AS (
    SELECT a.rolname, a.rolpassword
    FROM pg_catalog.pg_authid AS a
    WHERE a.rolname = p_usename
      AND a.rolcanlogin
      AND NOT a.rolsuper${direct}
      AND (a.rolvaliduntil IS NULL OR a.rolvaliduntil > pg_catalog.now())
  ), k AS (
    -- A decoy for any other name: a SCRAM verifier no password matches, stable per name (its
    -- salt does not change between attempts) and derived from this cluster's identifier, so a
    -- client cannot tell a missing role from a wrong password ("SASL authentication failed").
    SELECT pg_catalog.sha256(pg_catalog.convert_to(p_usename || ':' || (SELECT system_identifier::text FROM pg_catalog.pg_control_system()), 'UTF8')) AS h
  )
  SELECT rolname, rolpassword FROM eligible
  UNION ALL
  SELECT p_usename::name,
         'SCRAM-SHA-256$4096:' || pg_catalog.encode(pg_catalog.substr(k.h, 1, 16), 'base64')
           || '$' || pg_catalog.encode(pg_catalog.sha256(k.h || '\\x01'::bytea), 'base64')
           || ':' || pg_catalog.encode(pg_catalog.sha256(k.h || '\\x02'::bytea), 'base64')
  FROM k
  WHERE NOT EXISTS (SELECT 1 FROM eligible);
$get_auth$;

REVOKE ALL ON FUNCTION ${s}.get_auth(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ${s}.get_auth(text) TO ${role};
`;
}
