/**
 * Security and resilience for real, on a stack of its own ("sectest": containers
 * kryonix-sectest-*, free ports on 127.0.0.1, its own backend and passphrase):
 *
 *   1. `npm run up` from empty;
 *   2. TLS end to end: plain-text connections refused by PostgreSQL and PgBouncer; verify-full
 *      against the stack CA succeeds on both, with TLS on the PgBouncer-to-PostgreSQL leg too;
 *      another CA or another host name is refused by the client; TLS 1.1 and a weak TLS 1.2
 *      cipher are refused by both servers; psql with sslmode=verify-full and the CA file works;
 *
 * Each step prints how long it took.
 */
import { Client, type ClientConfig } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { caFilePath } from "../../lib/tls-files";
import { pgSsl } from "../../lib/tls";
import { createCertificateAuthority } from "../support/pki";
import { dockerLeftovers, sh } from "../support/process";
import { openTestStack, testStackName, type TestStack } from "../support/stack";
import { pgTlsHandshake } from "../support/tls-probe";

const STACK = testStackName("sectest");
const PREFIX = `kryonix-${STACK}-`;

let t: TestStack;
const timed = <T>(step: string, fn: () => Promise<T> | T) => t.timed(step, fn);
const npmScript = (script: string, ...args: string[]) => t.npm(script, ...args);
let o: Record<string, any>;

type Path = "postgres" | "pgbouncer";

/** A client of the stack on the host, through 127.0.0.1; verify-full against the stack CA unless `ssl` says otherwise. */
async function connect(path: Path, user: string, password: string, ssl: ClientConfig["ssl"] | undefined = undefined): Promise<Client> {
  const endpoint = o.endpoints[path];
  const client = new Client({
    host: endpoint.host,
    port: endpoint.port,
    database: endpoint.database,
    user,
    password,
    ssl: ssl === undefined ? pgSsl(o.caCertificate, endpoint.host) : ssl,
    connectionTimeoutMillis: 15_000,
  });
  await client.connect();
  return client;
}

async function withClient<T>(path: Path, user: string, password: string, fn: (c: Client) => Promise<T>, ssl?: ClientConfig["ssl"]): Promise<T> {
  const client = await connect(path, user, password, ssl);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const superuser = <T>(fn: (c: Client) => Promise<T>) => withClient("postgres", o.credentials.postgres.user, o.credentials.postgres.password, fn);
const app = <T>(fn: (c: Client) => Promise<T>, ssl?: ClientConfig["ssl"]) => withClient("pgbouncer", "kryonix_app", o.credentials.roles.kryonix_app, fn, ssl);

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected an error, but it succeeded");
}

beforeAll(async () => {
  t = await openTestStack(STACK, "security test");
});

afterAll(() => {
  t?.dispose();
});

describe.sequential("security and resilience, for real", () => {
  it("1. comes up from empty with `npm run up`", async () => {
    const up = await timed("npm run up (from empty)", () => npmScript("up"));
    expect(up.code, up.out).toBe(0);
    o = await t.outputs();
    expect(o.caCertificate).toContain("BEGIN CERTIFICATE");
  });

  it("2. TLS only, verify-full against the stack CA, TLS 1.2+ with strong ciphers, on PostgreSQL and PgBouncer", async () => {
    await timed("TLS checks", async () => {
      // Plain text: refused by both.
      const plainPg = await rejection(withClient("postgres", "postgres", o.credentials.postgres.password, async () => undefined, false));
      expect(plainPg.message).toMatch(/no pg_hba\.conf entry .*no encryption/);
      const plainBouncer = await rejection(app(async () => undefined, false));
      expect(plainBouncer.message).toMatch(/SSL required/i);

      // verify-full with the stack CA: TLS on the client's leg, and on PgBouncer's leg to PostgreSQL.
      const direct = await superuser(async (c) => (await c.query("SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).rows[0]);
      expect(direct).toMatchObject({ ssl: true });
      expect(["TLSv1.2", "TLSv1.3"]).toContain(direct.version);
      const backendLeg = await app(async (c) => (await c.query("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).rows[0]);
      expect(backendLeg.ssl).toBe(true);
      // Every server connection PgBouncer holds is TLS.
      const plainBackends = await superuser(async (c) =>
        (await c.query("SELECT count(*)::int AS n FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.backend_type = 'client backend' AND NOT s.ssl")).rows[0].n,
      );
      expect(plainBackends).toBe(0);

      // The client really verifies: another CA, or a name the certificate does not carry, is refused.
      const otherCa = createCertificateAuthority({ commonName: "not the stack CA", validityDays: 2 }).certificatePem;
      for (const path of ["postgres", "pgbouncer"] as const) {
        const err = await rejection(withClient(path, "kryonix_app", o.credentials.roles.kryonix_app, async () => undefined, pgSsl(otherCa, "127.0.0.1")));
        expect(err.message).toMatch(/self[- ]signed|unable to verify|unable to get local issuer/i);
        const wrongName = await rejection(withClient(path, "kryonix_app", o.credentials.roles.kryonix_app, async () => undefined, pgSsl(o.caCertificate, "db.example.com")));
        expect(wrongName.message).toMatch(/Hostname\/IP does not match|not in the cert's altnames/i);
      }

      // Protocol versions and ciphers, seen from a raw handshake offering exactly one choice.
      for (const path of ["postgres", "pgbouncer"] as const) {
        const port = o.endpoints[path].port;
        const tls11 = await pgTlsHandshake(port, { minVersion: "TLSv1.1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" });
        expect(tls11.sslOffered, path).toBe(true);
        expect(tls11.ok, `${path}: TLS 1.1 accepted`).toBe(false);
        expect(tls11.error, path).toMatch(/protocol version|unsupported protocol|wrong version/i);
        const weak = await pgTlsHandshake(port, { minVersion: "TLSv1.2", maxVersion: "TLSv1.2", ciphers: "AES128-SHA:AES256-SHA:ECDHE-ECDSA-AES128-SHA@SECLEVEL=0" });
        expect(weak.ok, `${path}: a CBC/RSA-kx cipher accepted (${weak.cipher})`).toBe(false);
        const tls12 = await pgTlsHandshake(port, { minVersion: "TLSv1.2", maxVersion: "TLSv1.2" });
        expect(tls12, path).toMatchObject({ ok: true, protocol: "TLSv1.2" });
        expect(tls12.cipher, path).toMatch(/^ECDHE-ECDSA-(AES(128|256)-GCM|CHACHA20-POLY1305)/);
        const tls13 = await pgTlsHandshake(port, { minVersion: "TLSv1.3" });
        expect(tls13, path).toMatchObject({ ok: true, protocol: "TLSv1.3" });
      }

      // libpq (psql) with verify-full and the CA file the stack writes for its provider.
      const ca = caFilePath(STACK);
      for (const path of ["postgres", "pgbouncer"] as const) {
        const e = o.endpoints[path];
        const user = path === "postgres" ? "postgres" : "kryonix_app";
        const password = path === "postgres" ? o.credentials.postgres.password : o.credentials.roles.kryonix_app;
        const psql = sh("psql", ["-X", "-At", "-c", "SELECT 'ok'", `host=${e.host} port=${e.port} dbname=${e.database} user=${user} sslmode=verify-full sslrootcert=${ca}`], {
          env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: "15" },
        });
        expect(psql.code, psql.out).toBe(0);
        expect(psql.stdout.trim()).toBe("ok");
      }
    });
  });

  it("99. `npm run destroy -- --including-data` leaves nothing with the stack's name", async () => {
    const down = await timed("npm run destroy --including-data", () => npmScript("destroy", "--including-data"));
    expect(down.code, down.out).toBe(0);
    expect(dockerLeftovers(PREFIX)).toEqual([]);
  });
});
