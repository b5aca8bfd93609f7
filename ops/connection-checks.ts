/**
 * `npm run test:db:connection`: logs in to a running stack as every login role, with the
 * passwords from the stack's secrets, and checks what each role may do and is refused.
 *
 * What is expected of each role is data (EXPECTATIONS): one entry per role, listing where it
 * logs in (or must be refused) and the probes to run there. Every probe yields one row; nothing
 * here throws on a failed connection or statement, it becomes a failed row instead.
 */
import { Client, type ClientConfig, type QueryResult } from "pg";
import { type AlternatingRole, isAlternating, twinOf } from "../model/database";
import { pgSsl } from "../model/tls";

export interface Endpoint {
  host: string;
  port: number;
  database: string;
}

export interface ConnectionTarget {
  stack: string;
  /** Direct to PostgreSQL: the admin path. */
  postgres: Endpoint;
  /** Through PgBouncer: the applications' path. */
  pgbouncer: Endpoint;
  superuser: { user: string; password: string };
  /** Login role -> password. */
  roles: Record<string, string>;
  /** The stack CA (PEM): every connection is TLS, verify-full against it. */
  caCertificate: string;
  /**
   * How PgBouncer reaches PostgreSQL: over the Unix socket the two containers share (`single`), or
   * over TCP with TLS through HAProxy to the leader (`ha`). Default socket.
   */
  pgbouncerLeg?: "socket" | "tls";
}

export type ConnectionPath = "pgbouncer" | "direct" | "pgbouncer-admin";

export interface CheckResult {
  role: string;
  path: ConnectionPath;
  check: string;
  ok: boolean;
  detail: string;
}

export interface CheckOptions {
  /** node-postgres `ssl` for every connection; default: verify-full against the target's CA (model/tls.ts pgSsl). */
  ssl?: ClientConfig["ssl"];
}

/**
 * Something a session may (allowed: true) or may not do. Writes run inside one transaction that
 * is rolled back, each probe under its own savepoint, so a refusal does not abort the others
 * and nothing persists.
 */
export type Probe =
  /** pg_has_role(current_user, role, 'MEMBER'). */
  | { kind: "member"; role: string; allowed: boolean }
  /** has_schema_privilege(schema, 'CREATE'), for each schema. */
  | { kind: "create"; schemas: readonly string[]; allowed: boolean }
  /** has_table_privilege on every table of the schema. */
  | { kind: "privilege"; privilege: "SELECT" | "INSERT" | "UPDATE" | "DELETE"; schema: string; allowed: boolean }
  /** A real SELECT from the schema's first table. */
  | { kind: "select"; schema: string; allowed: boolean }
  /** A real INSERT ... DEFAULT VALUES into the schema's first table, rolled back. */
  | { kind: "insert"; schema: string; allowed: boolean }
  /** A statement that must run, or be refused with insufficient_privilege. */
  | { kind: "statement"; action: string; sql: string; allowed: boolean };

/** Where a role logs in and what it is checked for there; or where its login must be refused. */
export type Session =
  | { path: "pgbouncer" | "direct"; login: "allowed"; probes: readonly Probe[] }
  /** PgBouncer's admin console: each SHOW CONFIG key must have the given value. */
  | { path: "pgbouncer-admin"; login: "allowed"; config: Readonly<Record<string, string>> }
  | { path: ConnectionPath; login: "refused" };

export interface RoleExpectation {
  role: string;
  /** The role the session is once logged in (current_user), when not `role`: a twin assumes its role. */
  actsAs?: string;
  sessions: readonly Session[];
}

const MANAGED_SCHEMAS = ["auth", "core", "analytics", "audit", "integration"] as const;

/**
 * Who may do what (see components/database.ts TABLE_GRANTS and the memberships it gives).
 * Adding a role is one entry here.
 */
const ROLE_EXPECTATIONS: readonly RoleExpectation[] = [
  {
    role: "kryonix_migrator",
    sessions: [
      {
        path: "pgbouncer",
        login: "allowed",
        probes: [
          { kind: "member", role: "kryonix_owner", allowed: true },
          { kind: "create", schemas: ["core"], allowed: true },
        ],
      },
    ],
  },
  {
    role: "kryonix_app",
    sessions: [
      {
        path: "pgbouncer",
        login: "allowed",
        probes: [
          { kind: "select", schema: "core", allowed: true },
          { kind: "insert", schema: "core", allowed: true },
          // Users are deactivated, never deleted: core and audit rows reference them.
          { kind: "privilege", privilege: "DELETE", schema: "auth", allowed: false },
          // The audit trail, and the migration ledger beside it, are append-only for the application.
          { kind: "privilege", privilege: "UPDATE", schema: "audit", allowed: false },
          { kind: "privilege", privilege: "DELETE", schema: "audit", allowed: false },
          { kind: "create", schemas: ["public", ...MANAGED_SCHEMAS], allowed: false },
          { kind: "statement", action: "read pg_authid", sql: "SELECT 1 FROM pg_catalog.pg_authid LIMIT 1", allowed: false },
        ],
      },
    ],
  },
  {
    role: "metabase_readonly",
    sessions: [
      {
        path: "pgbouncer",
        login: "allowed",
        probes: [
          { kind: "select", schema: "analytics", allowed: true },
          { kind: "select", schema: "core", allowed: true },
          { kind: "select", schema: "auth", allowed: false },
          { kind: "insert", schema: "analytics", allowed: false },
          { kind: "insert", schema: "core", allowed: false },
          // The data's monitoring views, not the ones that show other sessions (components/database.ts).
          {
            kind: "statement",
            action: "read audit.monitoring_cache_hit_ratio",
            sql: "SELECT cache_hit_ratio FROM audit.monitoring_cache_hit_ratio",
            allowed: true,
          },
          {
            kind: "statement",
            action: "read audit.monitoring_idle_in_transaction",
            sql: "SELECT pid FROM audit.monitoring_idle_in_transaction",
            allowed: false,
          },
        ],
      },
    ],
  },
  {
    role: "kryonix_monitor",
    sessions: [
      {
        path: "pgbouncer",
        login: "allowed",
        probes: [
          // pg_monitor is what shows other roles' sessions and statements instead of "<insufficient privilege>".
          { kind: "member", role: "pg_monitor", allowed: true },
          {
            kind: "statement",
            action: "read pg_stat_activity",
            sql: "SELECT count(*)::int AS sessions FROM pg_catalog.pg_stat_activity WHERE query IS NOT NULL",
            allowed: true,
          },
          {
            kind: "statement",
            action: "read audit.monitoring_active_connections",
            sql: "SELECT active_connections FROM audit.monitoring_active_connections",
            allowed: true,
          },
          {
            kind: "statement",
            action: "read audit.monitoring_last_backup",
            sql: "SELECT age_seconds FROM audit.monitoring_last_backup",
            allowed: true,
          },
          { kind: "insert", schema: "core", allowed: false },
          // Usage on audit (for the views), so this refusal is the table's own.
          { kind: "insert", schema: "audit", allowed: false },
        ],
      },
    ],
  },
  {
    role: "kryonix_pgbouncer",
    sessions: [{ path: "pgbouncer-admin", login: "allowed", config: { pool_mode: "transaction" } }],
  },
  {
    // The restore drill's role: reads no row (its sums come from a SECURITY DEFINER function), writes nothing, never through the pooler.
    role: "kryonix_drill",
    sessions: [
      {
        path: "direct",
        login: "allowed",
        probes: [
          { kind: "member", role: "pg_read_all_data", allowed: false },
          { kind: "member", role: "pg_maintain", allowed: true },
          { kind: "select", schema: "auth", allowed: false },
          {
            kind: "statement",
            action: "sum every table through kryonix.drill_table_sums()",
            sql: "SELECT count(*)::int AS tables FROM kryonix.drill_table_sums()",
            allowed: true,
          },
          { kind: "insert", schema: "core", allowed: false },
          { kind: "privilege", privilege: "UPDATE", schema: "core", allowed: false },
          { kind: "privilege", privilege: "DELETE", schema: "audit", allowed: false },
          { kind: "create", schemas: ["public", ...MANAGED_SCHEMAS], allowed: false },
          { kind: "statement", action: "switch WAL", sql: "SELECT pg_catalog.pg_switch_wal()", allowed: true },
          { kind: "statement", action: "read pg_authid", sql: "SELECT 1 FROM pg_catalog.pg_authid LIMIT 1", allowed: false },
        ],
      },
      { path: "pgbouncer", login: "refused" },
    ],
  },
  {
    role: "postgres",
    sessions: [
      { path: "direct", login: "allowed", probes: [] },
      // get_auth() never returns a superuser, so PgBouncer cannot authenticate it.
      { path: "pgbouncer", login: "refused" },
    ],
  },
];

/** Every role's expectations, and the same for each twin (model/rotation.ts), which must be its role once logged in. */
export const EXPECTATIONS: readonly RoleExpectation[] = [
  ...ROLE_EXPECTATIONS,
  ...ROLE_EXPECTATIONS.filter((e) => isAlternating(e.role)).map((e) => ({ ...e, role: twinOf(e.role as AlternatingRole), actsAs: e.role })),
];

const CONNECTION_TIMEOUT_MS = 10_000;
// Client-side only (not a startup parameter, which PgBouncer would refuse): a probe stuck on a
// lock fails its row instead of hanging the command.
const QUERY_TIMEOUT_MS = 10_000;
const APPLICATION_NAME = "kryonix-connection-check";
const ADMIN_DATABASE = "pgbouncer";
const SAVEPOINT = "kryonix_check";
const INSUFFICIENT_PRIVILEGE = "42501";
const REDACTED = "[redacted]";

interface Outcome {
  ok: boolean;
  detail: string;
}

// ---- pure helpers -------------------------------------------------------------------------------

/** The check column of a probe's row, known before connecting. Pure. */
export function probeLabel(probe: Probe): string {
  const may = probe.allowed ? "may" : "may not";
  switch (probe.kind) {
    case "member":
      return `${probe.allowed ? "is" : "is not"} a member of ${probe.role}`;
    case "create":
      return `${may} CREATE in ${probe.schemas.join(", ")}`;
    case "privilege":
      return `${may} ${probe.privilege} on ${probe.schema}.*`;
    case "select":
      return `${may} SELECT from ${probe.schema}`;
    case "insert":
      return `${may} INSERT into ${probe.schema}`;
    case "statement":
      return `${may} ${probe.action}`;
  }
}

/** The check column of every row a session yields, in order. Pure. */
export function sessionChecks(session: Session): string[] {
  if (session.login === "refused") return ["login refused"];
  if (session.path === "pgbouncer-admin") return ["login", ...Object.keys(session.config)];
  return ["login", "server version", "tls", ...session.probes.map(probeLabel)];
}

/** Every password the target holds. Pure. */
export function targetSecrets(target: ConnectionTarget): string[] {
  return [target.superuser.password, ...Object.values(target.roles)];
}

/** `text` with every occurrence of each secret replaced by [redacted]. Pure. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  return [...secrets]
    .filter((s) => s.length > 0)
    // Longest first, so a password containing another is replaced whole.
    .sort((a, b) => b.length - a.length)
    .reduce((out, secret) => out.split(secret).join(REDACTED), text);
}

interface PgErrorLike {
  message?: unknown;
  code?: unknown;
  severity?: unknown;
  errors?: unknown;
}

/** An error as one line: SQLSTATE (or errno code) and message. Pure. */
export function errorText(err: unknown): string {
  const e = (typeof err === "object" && err !== null ? err : {}) as PgErrorLike;
  let message = typeof e.message === "string" ? e.message : "";
  // net.connect to a name with several addresses rejects with an AggregateError whose own message is empty.
  if (!message && Array.isArray(e.errors)) message = e.errors.map(errorText).join("; ");
  const code = typeof e.code === "string" && !message.includes(e.code) ? e.code : "";
  const text = [code, message].filter(Boolean).join(" ") || String(err);
  return text.replace(/\s+/g, " ").trim();
}

/**
 * Whether a failed login was refused by authentication, as opposed to an unreachable server.
 * PostgreSQL says 28P01/28000; PgBouncer answers a user auth_query does not return with a
 * FATAL "no such user" under a protocol-violation SQLSTATE, so its wording counts too. Pure.
 */
export function isAuthenticationError(err: unknown): boolean {
  const e = (typeof err === "object" && err !== null ? err : {}) as PgErrorLike;
  // Only the server sends a severity; socket errors and timeouts have none.
  if (typeof e.severity !== "string") return false;
  if (typeof e.code === "string" && e.code.startsWith("28")) return true;
  return typeof e.message === "string" && /authentication failed|no such user|login rejected/i.test(e.message);
}

/** The detail of a session's TLS row, from its pg_stat_ssl row. Pure. */
export function tlsDetail(row: { ssl: boolean; version: string | null; cipher: string | null } | undefined): string {
  if (!row) return "ssl=unknown (no pg_stat_ssl row for this backend)";
  if (!row.ssl) return "ssl=off";
  return `ssl=on (${[row.version, row.cipher].filter(Boolean).join(" ")})`;
}

/**
 * The backend's own leg, as PostgreSQL sees it: a direct session must be TLS over TCP; a session
 * through PgBouncer must come over the Unix socket the two containers share (no client address, no
 * TLS: the leg never leaves the host's kernel). The client's leg to PgBouncer is TLS in both cases
 * (the check connects with verify-full). Pure.
 */
export function backendLegOutcome(
  path: "direct" | "pgbouncer",
  row: { ssl: boolean; version: string | null; cipher: string | null; unix: boolean } | undefined,
  pgbouncerLeg: "socket" | "tls" = "socket",
): { ok: boolean; detail: string } {
  if (!row) return { ok: false, detail: tlsDetail(undefined) };
  if (path === "pgbouncer" && pgbouncerLeg === "tls") return { ok: !row.unix && row.ssl, detail: row.unix ? "PgBouncer's leg: Unix socket, expected TLS over TCP through HAProxy" : `PgBouncer's leg through HAProxy: ${tlsDetail(row)}` };
  if (path === "pgbouncer") return { ok: row.unix && !row.ssl, detail: row.unix ? `PgBouncer's leg: Unix socket, ${tlsDetail(row)}` : `PgBouncer's leg over TCP (${tlsDetail(row)}), expected the shared Unix socket` };
  return { ok: row.ssl && !row.unix, detail: tlsDetail(row) };
}

/** For has_*_privilege results: ok when every item is as expected. Pure. */
function judgeEach(what: string, allowed: boolean, items: readonly { name: string; granted: boolean }[]): Outcome {
  const wrong = items.filter((i) => i.granted !== allowed);
  if (wrong.length === 0) return { ok: true, detail: `${what} ${allowed ? "granted" : "refused"} on ${items.map((i) => i.name).join(", ")}` };
  return {
    ok: false,
    detail: `${what} ${allowed ? "refused" : "granted"} on ${wrong.map((i) => i.name).join(", ")}, expected ${allowed ? "granted" : "refused"}`,
  };
}

/**
 * For a statement that was really run: allowed wants it to run, refused wants 42501.
 * `permitted` (an INSERT hitting a constraint) passed the privilege check but wrote nothing. Pure.
 */
export function judgeAttempt(allowed: boolean, attempt: { ran: string } | { permitted: string } | { failed: unknown }): Outcome {
  if ("ran" in attempt) return allowed ? { ok: true, detail: attempt.ran } : { ok: false, detail: `${attempt.ran}, expected ${INSUFFICIENT_PRIVILEGE}` };
  if ("permitted" in attempt) return allowed ? { ok: true, detail: attempt.permitted } : { ok: false, detail: `not refused: ${attempt.permitted}` };
  const refused = (attempt.failed as PgErrorLike)?.code === INSUFFICIENT_PRIVILEGE;
  if (refused) return { ok: !allowed, detail: `refused: ${errorText(attempt.failed)}` };
  return { ok: false, detail: errorText(attempt.failed) };
}

/** What a statement returned: a single row as `column=value` pairs, else the row count. Pure. */
export function describeRows(result: Pick<QueryResult, "rows" | "rowCount">): string {
  if (result.rows.length === 1) return `ran: ${Object.entries(result.rows[0]).map(([k, v]) => `${k}=${String(v)}`).join(", ")}`;
  const n = result.rowCount ?? result.rows.length;
  return `ran: ${n} row${n === 1 ? "" : "s"}`;
}

/** The rows as an aligned text table (role, path, check, PASS/FAIL, detail). Pure. */
export function renderTable(results: readonly CheckResult[]): string {
  const header = ["ROLE", "PATH", "CHECK", "RESULT", "DETAIL"];
  const rows = results.map((r) => [r.role, r.path, r.check, r.ok ? "PASS" : "FAIL", r.detail.replace(/\s+/g, " ")]);
  const widths = header.slice(0, -1).map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i < widths.length ? cell.padEnd(widths[i]) : cell))
      .join("  ")
      .trimEnd();
  return [header, ...rows].map(line).join("\n");
}

/** Counts, and the final line `N passed, M failed`. Pure. */
export function summarize(results: readonly CheckResult[]): { passed: number; failed: number; line: string } {
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  return { passed, failed, line: `${passed} passed, ${failed} failed` };
}

/** What to tell the user when the stack's connection details cannot be read. Pure. */
export function unreadableTargetMessage(stack: string, err: unknown): string {
  const up = stack === "dev" ? "npm run up" : `npm run up -- --stack ${stack}`;
  return `cannot read the connection details of stack ${stack}: ${errorText(err)}\nIs the stack up? Run \`${up}\`, then this command again.`;
}

// ---- against a server ---------------------------------------------------------------------------

function connectionConfig(target: ConnectionTarget, path: ConnectionPath, user: string, password: string, options: CheckOptions): ClientConfig {
  const endpoint = path === "direct" ? target.postgres : target.pgbouncer;
  return {
    host: endpoint.host,
    port: endpoint.port,
    database: path === "pgbouncer-admin" ? ADMIN_DATABASE : endpoint.database,
    user,
    password,
    ssl: options.ssl ?? pgSsl(target.caCertificate, endpoint.host),
    application_name: APPLICATION_NAME,
    connectionTimeoutMillis: CONNECTION_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
  };
}

function passwordOf(target: ConnectionTarget, role: string): string | undefined {
  if (role === target.superuser.user) return target.superuser.password;
  return Object.prototype.hasOwnProperty.call(target.roles, role) ? target.roles[role] : undefined;
}

/** Runs `work`, turning a throw into a failed outcome. */
async function attempt(work: () => Promise<Outcome>): Promise<Outcome> {
  try {
    return await work();
  } catch (err) {
    return { ok: false, detail: errorText(err) };
  }
}

/** The schema's first table (by name), leaving partitions out; pg_catalog, because information_schema hides what the role may not touch. */
async function firstTable(client: Client, schema: string): Promise<string | undefined> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      ORDER BY c.relname LIMIT 1`,
    [schema],
  );
  return rows[0]?.name;
}

/** Runs one statement of a probe: ran, permitted (constraint error after the privilege check) or failed. */
async function tryStatement(client: Client, sql: string, describe: (result: QueryResult) => string) {
  try {
    return { ran: describe(await client.query(sql)) };
  } catch (err) {
    // Class 23 comes from the row itself, so the privilege check had already passed.
    if (/^23/.test(String((err as PgErrorLike).code))) return { permitted: `allowed, the empty row was rejected (${errorText(err)})` };
    return { failed: err };
  }
}

async function runProbe(client: Client, probe: Probe): Promise<Outcome> {
  switch (probe.kind) {
    case "member": {
      const { rows } = await client.query<{ member: boolean }>("SELECT pg_has_role(current_user, $1, 'MEMBER') AS member", [probe.role]);
      const member = rows[0].member;
      return { ok: member === probe.allowed, detail: member ? `member of ${probe.role}` : `not a member of ${probe.role}` };
    }
    case "create": {
      const { rows } = await client.query<{ name: string; granted: boolean }>(
        "SELECT s AS name, has_schema_privilege(s, 'CREATE') AS granted FROM unnest($1::text[]) AS s",
        [probe.schemas],
      );
      return judgeEach("CREATE", probe.allowed, rows);
    }
    case "privilege": {
      const { rows } = await client.query<{ name: string; granted: boolean }>(
        `SELECT format('%I.%I', n.nspname, c.relname) AS name, has_table_privilege(c.oid, $2) AS granted
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
          ORDER BY c.relname`,
        [probe.schema, probe.privilege],
      );
      if (rows.length === 0) return { ok: false, detail: `no table in schema ${probe.schema}` };
      return judgeEach(probe.privilege, probe.allowed, rows);
    }
    case "select":
    case "insert": {
      const table = await firstTable(client, probe.schema);
      if (!table) return { ok: false, detail: `no table in schema ${probe.schema}` };
      const outcome =
        probe.kind === "select"
          ? await tryStatement(client, `SELECT 1 FROM ${table} LIMIT 1`, () => `read ${table}`)
          : await tryStatement(client, `INSERT INTO ${table} DEFAULT VALUES`, () => `inserted a row into ${table} (rolled back)`);
      return judgeAttempt(probe.allowed, outcome);
    }
    case "statement":
      return judgeAttempt(probe.allowed, await tryStatement(client, probe.sql, describeRows));
  }
}

/** All probes in one transaction that is rolled back, each under a savepoint so a refusal leaves the rest running. */
async function runProbes(client: Client, probes: readonly Probe[]): Promise<Outcome[]> {
  if (probes.length === 0) return [];
  try {
    await client.query("BEGIN");
  } catch (err) {
    return probes.map(() => ({ ok: false, detail: errorText(err) }));
  }
  try {
    const outcomes: Outcome[] = [];
    for (const probe of probes) {
      outcomes.push(
        await attempt(async () => {
          await client.query(`SAVEPOINT ${SAVEPOINT}`);
          try {
            return await runProbe(client, probe);
          } finally {
            await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
            await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
          }
        }),
      );
    }
    return outcomes;
  } finally {
    await client.query("ROLLBACK").catch(() => undefined);
  }
}

async function runSqlSession(client: Client, role: string, probes: readonly Probe[], path: "direct" | "pgbouncer", pgbouncerLeg?: "socket" | "tls"): Promise<Outcome[]> {
  const login = await attempt(async () => {
    const { rows } = await client.query<{ current_user: string; version: string }>("SELECT current_user, version()");
    const { current_user: user, version } = rows[0];
    const server = version.split(",")[0];
    return user === role
      ? { ok: true, detail: `current_user=${user}, ${server}` }
      : { ok: false, detail: `current_user=${user}, expected ${role}` };
  });
  const serverVersion = await attempt(async () => {
    const { rows } = await client.query<{ server_version: string }>("SHOW server_version");
    return { ok: true, detail: `server_version=${rows[0].server_version}` };
  });
  // Through PgBouncer this is the PgBouncer-to-PostgreSQL leg: the backend cannot see the client's.
  const tls = await attempt(async () => {
    // As the session user: pg_stat_ssl shows a backend only to its own login user, and a twin's
    // backend belongs to the twin while current_user is its role. LOCAL, rolled back: the pooled
    // server connection stays as it was.
    await client.query("BEGIN");
    try {
      await client.query("SET LOCAL ROLE NONE");
      const { rows } = await client.query<{ ssl: boolean; version: string | null; cipher: string | null; unix: boolean }>(
        "SELECT s.ssl, s.version, s.cipher, a.client_port = -1 AS unix FROM pg_catalog.pg_stat_ssl s JOIN pg_catalog.pg_stat_activity a USING (pid) WHERE s.pid = pg_backend_pid()",
      );
      return backendLegOutcome(path, rows[0], pgbouncerLeg);
    } finally {
      await client.query("ROLLBACK").catch(() => undefined);
    }
  });
  return [login, serverVersion, tls, ...(await runProbes(client, probes))];
}

async function runAdminSession(client: Client, config: Readonly<Record<string, string>>): Promise<Outcome[]> {
  let values: Map<string, string>;
  try {
    // The admin console speaks only the simple query protocol: no parameters.
    const { rows } = await client.query<{ key: string; value: string }>("SHOW CONFIG");
    values = new Map(rows.map((r) => [r.key, r.value]));
  } catch (err) {
    const failed = { ok: false, detail: `SHOW CONFIG failed: ${errorText(err)}` };
    return [{ ok: true, detail: "admin console" }, ...Object.keys(config).map(() => failed)];
  }
  return [
    { ok: true, detail: "admin console" },
    ...Object.entries(config).map(([key, expected]): Outcome => {
      const actual = values.get(key);
      if (actual === undefined) return { ok: false, detail: `${key} not in SHOW CONFIG` };
      return actual === expected ? { ok: true, detail: `${key}=${actual}` } : { ok: false, detail: `${key}=${actual}, expected ${expected}` };
    }),
  ];
}

async function runSession(target: ConnectionTarget, role: string, session: Session, options: CheckOptions, actsAs?: string): Promise<Outcome[]> {
  const checks = sessionChecks(session);
  const failAll = (detail: string): Outcome[] => checks.map(() => ({ ok: false, detail }));
  const password = passwordOf(target, role);
  if (password === undefined) return failAll(`no password for ${role} in the stack's secrets`);

  const client = new Client(connectionConfig(target, session.path, role, password, options));
  // A server closing the connection emits 'error' on the client; the pending query reports it already.
  client.on("error", () => undefined);
  try {
    try {
      await client.connect();
    } catch (err) {
      if (session.login === "allowed") return failAll(`login failed: ${errorText(err)}`);
      return isAuthenticationError(err)
        ? [{ ok: true, detail: `refused: ${errorText(err)}` }]
        : [{ ok: false, detail: `${errorText(err)} (not an authentication refusal)` }];
    }
    if (session.login === "refused") return [{ ok: false, detail: "logged in, expected an authentication refusal" }];
    if (session.path === "pgbouncer-admin") return await runAdminSession(client, session.config);
    return await runSqlSession(client, actsAs ?? role, session.probes, session.path, target.pgbouncerLeg);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Runs every session of EXPECTATIONS (in parallel: one connection each) and returns one row per
 * check, in table order. Never throws for a server that is down or a role that is refused.
 * No detail holds a password.
 */
export async function runConnectionChecks(
  target: ConnectionTarget,
  options: CheckOptions = {},
  expectations: readonly RoleExpectation[] = EXPECTATIONS,
): Promise<CheckResult[]> {
  const secrets = targetSecrets(target);
  const sessions = expectations.flatMap((e) => e.sessions.map((session) => ({ role: e.role, actsAs: e.actsAs, session })));
  const outcomes = await Promise.all(
    sessions.map(({ role, actsAs, session }) =>
      // runSession catches what the server does; this covers a bad ClientConfig, so one session cannot sink the report.
      runSession(target, role, session, options, actsAs).catch((err: unknown) => sessionChecks(session).map(() => ({ ok: false, detail: errorText(err) }))),
    ),
  );
  return sessions.flatMap(({ role, session }, i) =>
    sessionChecks(session).map((check, j) => ({
      role,
      path: session.path,
      check,
      ok: outcomes[i][j].ok,
      detail: scrubSecrets(outcomes[i][j].detail, secrets),
    })),
  );
}
