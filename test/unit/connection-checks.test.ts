import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { APP_ROLE, DRILL_ROLE, LOGIN_ROLES, LOGIN_USERS, PGBOUNCER_ROLE, READONLY_ROLE, TABLE_GRANTS, ALTERNATING_ROLES, twinOf, SUPERUSER } from "../../model/database";
import {
  EXPECTATIONS,
  describeRows,
  errorText,
  isAuthenticationError,
  judgeAttempt,
  probeLabel,
  renderTable,
  runConnectionChecks,
  scrubSecrets,
  sessionChecks,
  summarize,
  targetSecrets,
  tlsDetail,
  backendLegOutcome,
  unreadableTargetMessage,
  type CheckResult,
  type ConnectionTarget,
  type Probe,
} from "../../ops/connection-checks";

const row = (over: Partial<CheckResult> = {}): CheckResult => ({
  role: "kryonix_app",
  path: "pgbouncer",
  check: "login",
  ok: true,
  detail: "current_user=kryonix_app",
  ...over,
});

/** A node-postgres server error, as far as the checks look at it. */
const serverError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: "FATAL" });

const target = (port: number, roles: Record<string, string>): ConnectionTarget => ({
  stack: "dev",
  postgres: { host: "127.0.0.1", port, database: "kryonix_saas" },
  pgbouncer: { host: "127.0.0.1", port, database: "kryonix_saas" },
  superuser: { user: SUPERUSER, password: "superuser-secret-0000" },
  roles,
  caCertificate: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
});

/** A TCP port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("EXPECTATIONS", () => {
  const byRole = new Map(EXPECTATIONS.map((e) => [e.role, e]));

  it("has one entry per login user of the stack (the roles and their twins), plus the superuser", () => {
    expect(EXPECTATIONS.map((e) => e.role).sort()).toEqual([...LOGIN_USERS, SUPERUSER].sort());
    expect(byRole.size).toBe(EXPECTATIONS.length);
  });

  it("expects of each twin exactly what is expected of its role, as that role once logged in", () => {
    for (const role of ALTERNATING_ROLES) {
      expect(byRole.get(twinOf(role))).toEqual({ role: twinOf(role), actsAs: role, sessions: byRole.get(role)!.sessions });
    }
  });

  it("sends every application login role through PgBouncer", () => {
    // The drill's role reads every table and logs in directly, from its own container only.
    for (const role of LOGIN_ROLES.filter((r) => r !== PGBOUNCER_ROLE && r !== DRILL_ROLE)) {
      expect(byRole.get(role)!.sessions, role).toContainEqual(expect.objectContaining({ path: "pgbouncer", login: "allowed" }));
    }
  });

  it("lets the superuser in directly only, and the PgBouncer role into the admin console in transaction mode", () => {
    expect(byRole.get(SUPERUSER)!.sessions).toEqual([
      { path: "direct", login: "allowed", probes: [] },
      { path: "pgbouncer", login: "refused" },
    ]);
    expect(byRole.get(PGBOUNCER_ROLE)!.sessions).toEqual([{ path: "pgbouncer-admin", login: "allowed", config: { pool_mode: "transaction" } }]);
  });

  it("asserts refusals as well as permissions for each application role", () => {
    for (const role of [APP_ROLE, READONLY_ROLE, "kryonix_monitor"]) {
      const probes = byRole.get(role)!.sessions.flatMap((s) => ("probes" in s ? s.probes : []));
      expect(probes.some((p) => p.allowed), role).toBe(true);
      expect(probes.some((p) => !p.allowed), role).toBe(true);
    }
  });

  it("agrees with the stack's TABLE_GRANTS", () => {
    const grants = TABLE_GRANTS as Record<string, Record<string, { tables: readonly string[] } | undefined>>;
    for (const { role, sessions } of EXPECTATIONS) {
      if (!grants[role]) continue;
      for (const probe of sessions.flatMap((s) => ("probes" in s ? s.probes : []))) {
        const tables = grants[role][(probe as { schema?: string }).schema ?? ""]?.tables ?? [];
        const privilege = probe.kind === "privilege" ? probe.privilege : probe.kind === "select" ? "SELECT" : probe.kind === "insert" ? "INSERT" : undefined;
        if (privilege) expect(tables.includes(privilege), `${role}: ${probeLabel(probe)}`).toBe(probe.allowed);
      }
    }
  });

  it("gives every row of a session a distinct check name", () => {
    for (const { role, sessions } of EXPECTATIONS) {
      for (const session of sessions) {
        const checks = sessionChecks(session);
        expect(new Set(checks).size, `${role} ${session.path}`).toBe(checks.length);
      }
    }
  });
});

describe("probeLabel and sessionChecks", () => {
  it.each<[Probe, string]>([
    [{ kind: "member", role: "pg_monitor", allowed: true }, "is a member of pg_monitor"],
    [{ kind: "create", schemas: ["public", "core"], allowed: false }, "may not CREATE in public, core"],
    [{ kind: "privilege", privilege: "DELETE", schema: "auth", allowed: false }, "may not DELETE on auth.*"],
    [{ kind: "select", schema: "core", allowed: true }, "may SELECT from core"],
    [{ kind: "insert", schema: "core", allowed: false }, "may not INSERT into core"],
    [{ kind: "statement", action: "read pg_authid", sql: "SELECT 1", allowed: false }, "may not read pg_authid"],
  ])("labels %j", (probe, label) => {
    expect(probeLabel(probe)).toBe(label);
  });

  it("adds login, server version and tls rows to a SQL session", () => {
    expect(sessionChecks({ path: "pgbouncer", login: "allowed", probes: [{ kind: "select", schema: "core", allowed: true }] })).toEqual([
      "login",
      "server version",
      "tls",
      "may SELECT from core",
    ]);
    expect(sessionChecks({ path: "pgbouncer-admin", login: "allowed", config: { pool_mode: "transaction" } })).toEqual(["login", "pool_mode"]);
    expect(sessionChecks({ path: "pgbouncer", login: "refused" })).toEqual(["login refused"]);
  });
});

describe("renderTable", () => {
  it("aligns the columns and says PASS or FAIL", () => {
    const text = renderTable([
      row(),
      row({ role: "postgres", path: "direct", check: "tls", detail: "ssl=off" }),
      row({ role: "kryonix_pgbouncer", path: "pgbouncer-admin", check: "pool_mode", ok: false, detail: "pool_mode=session, expected transaction" }),
    ]);
    expect(text.split("\n")).toEqual([
      "ROLE               PATH             CHECK      RESULT  DETAIL",
      "kryonix_app        pgbouncer        login      PASS    current_user=kryonix_app",
      "postgres           direct           tls        PASS    ssl=off",
      "kryonix_pgbouncer  pgbouncer-admin  pool_mode  FAIL    pool_mode=session, expected transaction",
    ]);
  });

  it("keeps a multi-line detail on its row", () => {
    const text = renderTable([row({ ok: false, detail: "login failed:\n  no such user" })]);
    expect(text.split("\n")).toHaveLength(2);
    expect(text).toContain("FAIL    login failed: no such user");
  });

  it("prints only the header for no rows", () => {
    expect(renderTable([])).toBe("ROLE  PATH  CHECK  RESULT  DETAIL");
  });
});

describe("summarize", () => {
  it("counts passes and failures into the final line", () => {
    expect(summarize([row(), row({ ok: false }), row()])).toEqual({ passed: 2, failed: 1, line: "2 passed, 1 failed" });
    expect(summarize([])).toEqual({ passed: 0, failed: 0, line: "0 passed, 0 failed" });
  });
});

describe("password scrubbing", () => {
  it("replaces every occurrence of every password", () => {
    const text = scrubSecrets("user=a password=S3cretA S3cretA again, and B0ther", ["S3cretA", "B0ther"]);
    expect(text).toBe("user=a password=[redacted] [redacted] again, and [redacted]");
  });

  it("replaces a password containing another one whole", () => {
    expect(scrubSecrets("pw=abcdef", ["abc", "abcdef"])).toBe("pw=[redacted]");
  });

  it("ignores empty secrets", () => {
    expect(scrubSecrets("nothing secret", ["", "zzz"])).toBe("nothing secret");
  });

  it("knows the superuser's and every role's password", () => {
    const secrets = targetSecrets(target(1, { kryonix_app: "app-pw", kryonix_monitor: "monitor-password" }));
    expect(secrets.sort()).toEqual(["app-pw", "monitor-password", "superuser-secret-0000"].sort());
  });
});

describe("errors", () => {
  it("writes an error as one line with its code", () => {
    expect(errorText(serverError("42501", "permission denied\nfor table projects"))).toBe("42501 permission denied for table projects");
    const refused = [new Error("connect ECONNREFUSED ::1:5432"), new Error("connect ECONNREFUSED 127.0.0.1:5432")];
    expect(errorText(Object.assign(new AggregateError(refused), { code: "ECONNREFUSED" }))).toBe(
      "connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432",
    );
    expect(errorText(Object.assign(new Error("Connection terminated due to connection timeout"), { code: "ETIMEDOUT" }))).toBe(
      "ETIMEDOUT Connection terminated due to connection timeout",
    );
    expect(errorText("boom")).toBe("boom");
  });

  it("tells an authentication refusal from an unreachable server", () => {
    expect(isAuthenticationError(serverError("28P01", 'password authentication failed for user "postgres"'))).toBe(true);
    // PgBouncer, when auth_query returns no row.
    expect(isAuthenticationError(serverError("08P01", "no such user"))).toBe(true);
    // PgBouncer, on a wrong password with SCRAM.
    expect(isAuthenticationError(serverError("08P01", "SASL authentication failed"))).toBe(true);
    expect(isAuthenticationError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6432"), { code: "ECONNREFUSED" }))).toBe(false);
    expect(isAuthenticationError(new Error("Connection terminated due to connection timeout"))).toBe(false);
    expect(isAuthenticationError(serverError("3D000", 'database "x" does not exist'))).toBe(false);
  });
});

describe("backendLegOutcome", () => {
  const tls = { ssl: true, version: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384", unix: false };
  const socket = { ssl: false, version: null, cipher: null, unix: true };
  it("direct: TLS over TCP; through PgBouncer: the shared Unix socket, no TLS", () => {
    expect(backendLegOutcome("direct", tls)).toEqual({ ok: true, detail: "ssl=on (TLSv1.3 TLS_AES_256_GCM_SHA384)" });
    expect(backendLegOutcome("direct", { ...tls, ssl: false, version: null, cipher: null }).ok).toBe(false);
    expect(backendLegOutcome("pgbouncer", socket)).toEqual({ ok: true, detail: "PgBouncer's leg: Unix socket, ssl=off" });
    expect(backendLegOutcome("pgbouncer", tls)).toMatchObject({ ok: false, detail: expect.stringMatching(/over TCP .*expected the shared Unix socket/) });
    expect(backendLegOutcome("pgbouncer", undefined).ok).toBe(false);
    // ha: through HAProxy the leg must be TLS over TCP, never the socket.
    expect(backendLegOutcome("pgbouncer", tls, "tls")).toEqual({ ok: true, detail: "PgBouncer's leg through HAProxy: ssl=on (TLSv1.3 TLS_AES_256_GCM_SHA384)" });
    expect(backendLegOutcome("pgbouncer", socket, "tls").ok).toBe(false);
  });
});

describe("tlsDetail", () => {
  it("reports the session's TLS state", () => {
    expect(tlsDetail({ ssl: false, version: null, cipher: null })).toBe("ssl=off");
    expect(tlsDetail({ ssl: true, version: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384" })).toBe("ssl=on (TLSv1.3 TLS_AES_256_GCM_SHA384)");
    expect(tlsDetail(undefined)).toMatch(/^ssl=unknown/);
  });
});

describe("judgeAttempt", () => {
  const denied = serverError("42501", "permission denied for schema auth");

  it("passes a refusal only with insufficient_privilege", () => {
    expect(judgeAttempt(false, { failed: denied })).toEqual({ ok: true, detail: "refused: 42501 permission denied for schema auth" });
    expect(judgeAttempt(false, { failed: serverError("42P01", "relation does not exist") }).ok).toBe(false);
    expect(judgeAttempt(false, { ran: "inserted a row into core.projects (rolled back)" })).toEqual({
      ok: false,
      detail: "inserted a row into core.projects (rolled back), expected 42501",
    });
  });

  it("passes a permission when the statement ran or got past the privilege check", () => {
    expect(judgeAttempt(true, { ran: "read core.projects" })).toEqual({ ok: true, detail: "read core.projects" });
    expect(judgeAttempt(true, { permitted: "allowed, the empty row was rejected" }).ok).toBe(true);
    expect(judgeAttempt(false, { permitted: "allowed, the empty row was rejected" }).ok).toBe(false);
    expect(judgeAttempt(true, { failed: denied }).ok).toBe(false);
  });
});

describe("describeRows", () => {
  it("shows a single row's values, else how many rows", () => {
    expect(describeRows({ rows: [{ sessions: 7 }], rowCount: 1 })).toBe("ran: sessions=7");
    expect(describeRows({ rows: [{ a: 1 }, { a: 2 }], rowCount: 2 })).toBe("ran: 2 rows");
    expect(describeRows({ rows: [], rowCount: 0 })).toBe("ran: 0 rows");
  });
});

describe("unreadableTargetMessage", () => {
  it("names the stack and the command that brings it up", () => {
    expect(unreadableTargetMessage("dev", new Error("no stack named dev"))).toMatch(/stack dev: no stack named dev[\s\S]*`npm run up`/);
    expect(unreadableTargetMessage("prod", new Error("x"))).toContain("`npm run up -- --stack prod`");
  });
});

describe("runConnectionChecks", () => {
  it("turns an unreachable stack into failed rows, one per check, without a password in them", async () => {
    const port = await closedPort();
    // A password that is also in the error text shows the details are scrubbed.
    const roles = Object.fromEntries(LOGIN_USERS.map((r) => [r, r === APP_ROLE ? "ECONNREFUSED" : `${r}-password`]));
    const results = await runConnectionChecks(target(port, roles));
    const expected = EXPECTATIONS.flatMap((e) => e.sessions.flatMap((s) => sessionChecks(s).map((check) => `${e.role} ${s.path} ${check}`)));
    expect(results.map((r) => `${r.role} ${r.path} ${r.check}`)).toEqual(expected);
    expect(results.every((r) => !r.ok)).toBe(true);
    for (const r of results) {
      expect(r.detail).not.toContain("ECONNREFUSED");
      expect(r.detail).toContain("[redacted]");
    }
  });

  it("fails the rows of a role whose password is missing", async () => {
    const results = await runConnectionChecks(target(await closedPort(), {}), {}, [
      { role: APP_ROLE, sessions: [{ path: "pgbouncer", login: "allowed", probes: [] }] },
    ]);
    expect(results).toEqual(
      ["login", "server version", "tls"].map((check) => ({
        role: APP_ROLE,
        path: "pgbouncer",
        check,
        ok: false,
        detail: `no password for ${APP_ROLE} in the stack's secrets`,
      })),
    );
  });
});
