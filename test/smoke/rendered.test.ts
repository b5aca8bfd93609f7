/**
 * The files and SQL the stack renders, for real, on the real images. The Pulumi provider plugins
 * cannot run here, so instead of `pulumi up` this test does by hand, step by step, what the
 * components would do, using the same pure functions and constants:
 *
 *   - components/postgres.ts: the dev stack's postgresql.conf and pg_hba.conf and a generated
 *     superuser password, copied into a created-not-started container as root-owned 0444 files at
 *     the paths the component uploads to (Docker's copy API, as the provider's `uploads`), with the
 *     dev memory/CPU limits and the component's healthcheck command;
 *   - components/database.ts: roles (SCRAM secrets, model/scram.ts), database, schemas, grants and
 *     default privileges (from TABLE_GRANTS), extensions, as SQL; PgBouncer's get_auth() through
 *     the component's own SqlScript provider; the monitoring views' grant after the DDL;
 *   - components/migrations.ts: applyMigrations with loadMigrationFiles() as kryonix_migrator,
 *     SET LOCAL ROLE kryonix_owner, over io/pg-connect.ts; then the dynamic provider's read/diff;
 *   - components/pgbouncer.ts: pgbouncerIni() and renderUserlist(), uploaded the same way.
 *
 * Every name is prefixed kryonix-rtest-<random>, on its own Docker network; ports are published on
 * 127.0.0.1 only and the host connects only through 127.0.0.1. Needs `npm run toolchain` (images).
 */
import { PG_SOCKET_DIR, postgresSocketParameters } from "../../model/pg-socket";
import { DRILL_ROLE, APP_ROLE, DATABASE_NAME, LOGIN_ROLES, MIGRATOR_ROLE, MONITOR_ROLE, METABASE_MONITORING_VIEWS, MONITORING_VIEWS, OWNER_ROLE, PGBOUNCER_AUTH_SCHEMA, PGBOUNCER_ROLE, READONLY_ROLE, SCHEMAS, TABLE_GRANTS, type LoginRole, PGBOUNCER_PORT, POSTGRES_DATA_DIR, POSTGRES_PORT, SUPERUSER } from "../../model/database";
import { randomBytes, randomInt } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeMigrationsProvider, migrationInputs, type MigrationsOutputs } from "../../providers/sql-migrations";
import { PGBOUNCER_HEALTHCHECK, PGBOUNCER_INI_FILE, PGBOUNCER_USERLIST_FILE, checkPgbouncerArgs, pgbouncerIni, renderUserlist, type PgbouncerArgs } from "../../components/pgbouncer";
import { PG_HBA_FILE, POSTGRES_CONF_FILE, POSTGRES_HEALTHCHECK, POSTGRES_PASSWORD_FILE, checkPostgresArgs, postgresConf } from "../../components/postgres";
import { makeSqlScriptProvider } from "../../providers/sql-script";
import { postgresParameters, resourceName, validateStackConfig } from "../../model/config";
import { connectionBudget } from "../../model/connection-budget";
import { LOOPBACK, memoryMiB } from "../../model/containers";
import { applyMigrations } from "../../io/migration-runner";
import { LEDGER_TABLE } from "../../model/migrations";
import { loadMigrationFiles } from "../../io/migrations-fs";
import { connectPg, type PgConnection } from "../../io/pg-connect";
import { renderPgHbaConf } from "../../render/pg-hba";
import { renderPgbouncerAuthFunctionSql } from "../../render/pgbouncer";
import { PGBOUNCER_USER } from "../../model/pg-socket";
import { scramSha256Secret } from "../../model/scram";
import { readStatus } from "../../toolchain/toolchain-state";
import { POSTGRES_TLS_PASSPHRASE_FILE, TLS_DIR, TLS_KEY_FILE, pgSsl, postgresTlsParameters, tlsVolumeFiles } from "../../model/tls";
import { encryptPrivateKeyPem } from "../../model/tls-key";
import { tarArchive, writerDockerArgs } from "../../render/tls-volume";
import { dockerOrThrow } from "../../io/docker-cli";
import { freePort, sh, sleep, dockerLeftovers, removeDockerObjects } from "../support/process";
import { dockerOk, engineOfDocker, uploadFiles, waitHealthy } from "../support/docker";
import { createCertificateAuthority, issueServerCertificate } from "../support/pki";

const PREFIX = `kryonix-rtest-${randomBytes(4).toString("hex")}`;
const NETWORK = `${PREFIX}-net`;
const PG_CONTAINER = `${PREFIX}-postgres`;
const PG_VOLUME = `${PREFIX}-pgdata`;
/** PgBouncer's leg to PostgreSQL: the Unix socket volume both containers mount (model/pg-socket.ts). */
const SOCKET_VOLUME = `${PREFIX}-pgsocket`;
const BOUNCER_CONTAINER = `${PREFIX}-pgbouncer`;
const STACK = "dev";

/** The seed's log_line_prefix (../shared/seed/parte-02-postgresql.md, "CONFIGURAÇÃO POSTGRESQL"). */
const SEED_LOG_LINE_PREFIX = "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ";
/** The seed's indexes that sql/003_indexes.sql creates under the same name. */
const SEED_INDEXES = [
  "auth.idx_users_company_id",
  "core.idx_projects_company_id",
  "core.idx_automations_project_id",
  "analytics.idx_sessions_user_id",
  "audit.idx_audit_user_id",
  "audit.idx_audit_created_at",
];
/** The seed's idx_users_email and idx_users_keycloak_id are the UNIQUE constraints' own indexes. */
const UNIQUE_INDEXES = ["auth.users_email_key", "auth.users_keycloak_id_key"];
const TABLES = [
  "auth.companies",
  "auth.users",
  "core.projects",
  "core.automations",
  "analytics.user_sessions",
  "analytics.system_metrics",
  "audit.activity_logs",
  "integration.webhooks",
  LEDGER_TABLE,
];
/** ensure_user_sessions_partitions()'s default months_ahead (sql/004_partitions.sql). */
const MONTHS_AHEAD = 3;

// The dev stack as index.ts builds it, with the server logging to stderr (kryonix:serverLog docker):
// this test reads the server's log with `docker logs`; the stack tests cover the log files.
const config = validateStackConfig({ "kryonix:serverLog": "docker" }, STACK);
const parameters = postgresParameters(config);
const postgresqlConf = postgresConf({ parameters, stack: STACK });
/** What the server runs with: the tuned parameters and TLS (components/postgres.ts). */
const serverParameters: Record<string, string> = { ...parameters, listen_addresses: `localhost,${resourceName(STACK, "postgres")}`, ...postgresTlsParameters(), ...postgresSocketParameters() };
// components/pki.ts's certificates, made with openssl: the names index.ts gives PostgreSQL and PgBouncer.
const ca = createCertificateAuthority({ commonName: "kryonix-rtest CA", validityDays: 30 });
const serverTls = (service: "postgres" | "pgbouncer") => {
  const cert = issueServerCertificate({
    ca,
    commonName: resourceName(STACK, service),
    dnsNames: [resourceName(STACK, service), service, "localhost"],
    ipAddresses: [LOOPBACK],
    validityDays: 30,
  });
  return { certificatePem: cert.certificatePem, privateKeyPem: cert.privateKeyPem, caCertificate: ca.certificatePem };
};
const postgresTls = serverTls("postgres");
const pgbouncerTls = serverTls("pgbouncer");
/** The server's TLS volume as the stack writes it (providers/tls-files.ts): the same writer, the key owned by the image's server user; returns the `-v` mount. */
const tlsVolume = (service: "postgres" | "pgbouncer", tls: ReturnType<typeof serverTls>, image: string): string[] => {
  const volume = `${PREFIX}-${service}-tls`;
  const files = tlsVolumeFiles(tls, service === "pgbouncer" ? PGBOUNCER_USER : "postgres");
  dockerOrThrow(writerDockerArgs(volume, image, files.map((f) => f.name)), { input: tarArchive(files), timeoutMs: 300_000 });
  return ["-v", `${volume}:${TLS_DIR}:ro`];
};
const pgHbaConf = renderPgHbaConf();
const postgresMemoryMiB = memoryMiB(config.postgresMemoryBytes);

/** Like random.RandomPassword { length: 32, special: false, minLower/minUpper/minNumeric: 2 }. */
function generatedPassword(): string {
  const sets = ["abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789"];
  const all = sets.join("");
  const chars = [...sets.flatMap((s) => [s[randomInt(s.length)], s[randomInt(s.length)]])];
  while (chars.length < 32) chars.push(all[randomInt(all.length)]);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join("");
}

const superuserPassword = generatedPassword();
const tlsKeyPassphrase = generatedPassword();
const passwords = Object.fromEntries(LOGIN_ROLES.map((r) => [r, generatedPassword()])) as Record<LoginRole, string>;
// components/secrets.ts: RandomBytes { length: 16 } as the salt of each role's SCRAM verifier.
const scram = Object.fromEntries(LOGIN_ROLES.map((r) => [r, scramSha256Secret(passwords[r], randomBytes(16))])) as Record<LoginRole, string>;
const allPasswords = [superuserPassword, tlsKeyPassphrase, ...LOGIN_ROLES.map((r) => passwords[r])];

let tags: Record<string, string> = {};
let work = "";
let pgPort = 0;
let bouncerPort = 0;
const clients: pg.Client[] = [];

// ---- helpers -----------------------------------------------------------------




/** A node-postgres connection through 127.0.0.1 only, closed in afterAll if the test does not. */
async function connect(port: number, user: string, password: string, database: string): Promise<pg.Client> {
  const client = new pg.Client({
    host: "127.0.0.1",
    port,
    user,
    password,
    database,
    // verify-full against the stack CA, as every client of the stack (model/tls.ts).
    ssl: pgSsl(ca.certificatePem, "127.0.0.1"),
    application_name: "kryonix-rtest",
    connectionTimeoutMillis: 15_000,
  });
  clients.push(client);
  await client.connect();
  return client;
}

async function withClient<T>(port: number, user: string, password: string, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(port, user, password, database);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const superuser = <T>(database: string, work: (c: pg.Client) => Promise<T>) => withClient(pgPort, SUPERUSER, superuserPassword, database, work);
const viaBouncer = <T>(role: LoginRole, work: (c: pg.Client) => Promise<T>) => withClient(bouncerPort, role, passwords[role], DATABASE_NAME, work);

/** The error a promise rejects with (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error("expected an error, but it succeeded");
}

/** What a dynamic provider gets as its connection: the host side, 127.0.0.1 and the published port. */
const pgConnection = (user: string, password: string, database: string): PgConnection => ({ host: LOOPBACK, port: pgPort, database, user, password, ca: ca.certificatePem });

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * components/database.ts as SQL, derived from its exported constants. `cluster` runs in the
 * database postgres (one statement each: CREATE DATABASE cannot run in a transaction), `database`
 * in kryonix_saas, both as the superuser the postgresql provider logs in as.
 */
function databaseSql(): { cluster: string[]; database: string[] } {
  // The memberships database.ts gives loginRole(): migrator may SET ROLE to the owner, monitor gets pg_monitor.
  const memberships: Partial<Record<LoginRole, string[]>> = { [MIGRATOR_ROLE]: [OWNER_ROLE], [MONITOR_ROLE]: ["pg_monitor"] };
  const cluster = [
    `CREATE ROLE ${ident(OWNER_ROLE)} NOLOGIN`,
    // encryptedPassword: true: the SCRAM secret, never the password, is in the statement (and the log).
    ...LOGIN_ROLES.map((role) => `CREATE ROLE ${ident(role)} LOGIN ENCRYPTED PASSWORD '${scram[role]}'`),
    ...LOGIN_ROLES.flatMap((role) => (memberships[role] ?? []).map((m) => `GRANT ${ident(m)} TO ${ident(role)}`)),
    `CREATE DATABASE ${ident(DATABASE_NAME)} OWNER ${ident(OWNER_ROLE)} ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0`,
  ];
  const db = ident(DATABASE_NAME);
  const database = [
    // ifNotExists: true (a cluster kept by a destroy already has them).
    ...SCHEMAS.map((schema) => `CREATE SCHEMA IF NOT EXISTS ${ident(schema)} AUTHORIZATION ${ident(OWNER_ROLE)}`),
    // Grant public-schema: USAGE only for PUBLIC (no CREATE).
    "REVOKE ALL ON SCHEMA public FROM PUBLIC",
    "GRANT USAGE ON SCHEMA public TO PUBLIC",
    ...LOGIN_ROLES.map((role) => `GRANT CONNECT ON DATABASE ${db} TO ${ident(role)}`),
  ];
  for (const [role, bySchema] of Object.entries(TABLE_GRANTS)) {
    for (const [schema, privs] of Object.entries(bySchema)) {
      if (!privs) continue;
      const s = ident(schema);
      const r = ident(role);
      database.push(
        `GRANT USAGE ON SCHEMA ${s} TO ${r}`,
        `GRANT ${privs.tables.join(", ")} ON ALL TABLES IN SCHEMA ${s} TO ${r}`,
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(OWNER_ROLE)} IN SCHEMA ${s} GRANT ${privs.tables.join(", ")} ON TABLES TO ${r}`,
      );
      if (privs.sequences) {
        database.push(
          `GRANT ${privs.sequences.join(", ")} ON ALL SEQUENCES IN SCHEMA ${s} TO ${r}`,
          `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(OWNER_ROLE)} IN SCHEMA ${s} GRANT ${privs.sequences.join(", ")} ON SEQUENCES TO ${r}`,
        );
      }
    }
  }
  database.push(
    `GRANT USAGE ON SCHEMA audit TO ${ident(MONITOR_ROLE)}`,
    // database.ts: postgresql.Extension for both, in schema public, before any migration.
    "CREATE EXTENSION pg_stat_statements SCHEMA public",
    "CREATE EXTENSION pgaudit SCHEMA public",
  );
  return { cluster, database };
}

/** user_sessions partition names for the current UTC month and MONTHS_AHEAD after it. */
function expectedMonthlyPartitions(now = new Date()): string[] {
  const names: string[] = [];
  for (let i = 0; i <= MONTHS_AHEAD; i++) {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1));
    names.push(`user_sessions_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, "0")}`);
  }
  return names;
}

const cleanup = () => removeDockerObjects(PREFIX);
const leftovers = () => dockerLeftovers(PREFIX);

beforeAll(() => {
  tags = readStatus().images;
  for (const service of ["postgres", "pgbouncer"]) {
    expect(tags[service], `toolchain status has no ${service} image: run npm run toolchain`).toBeTruthy();
    expect(sh("docker", ["image", "inspect", tags[service]]).code, `${tags[service]} is not built: run npm run images`).toBe(0);
  }
  work = mkdtempSync(path.join(os.tmpdir(), "kryonix-rtest-"));
  dockerOk(["network", "create", "--label", "org.kryonix.test=rendered", NETWORK]);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
  const left = leftovers();
  if (left.length) throw new Error(`left behind: ${left.join(", ")}`);
});

// ---- 1. PostgreSQL with the dev stack's files -----------------------------------

describe("postgres with the dev stack's rendered postgresql.conf and pg_hba.conf", () => {
  it("starts from the uploaded files with the dev limits and becomes healthy", async () => {
    pgPort = await freePort();
    // The component's own checks accept these arguments.
    checkPostgresArgs({
      stack: STACK,
      image: tags.postgres,
      network: NETWORK,
      memoryBytes: config.postgresMemoryBytes,
      engine: engineOfDocker(),
      cpus: config.postgresCpus,
      parameters,
      serverLog: config.serverLog,
      hostPort: config.postgresPort,
      protectData: config.protectData,
      superuserPassword,
      tlsKeyPassphrase,
      pgbackrest: { config: "", secrets: "", caCertificate: "" },
      tls: postgresTls,
    });
    dockerOk([
      // The component's hostname: postgresql.conf listens on it.
      "create", "--name", PG_CONTAINER, "--hostname", resourceName(STACK, "postgres"),
      "--label", "org.kryonix.test=rendered",
      // The name PgBouncer's rendered ini points at, on this test's own network only.
      "--network", NETWORK, "--network-alias", resourceName(STACK, "postgres"), "--network-alias", "postgres",
      "--memory", `${postgresMemoryMiB}m`,
      "--cpus", String(config.postgresCpus),
      "--shm-size", `${Math.max(64, Math.floor(postgresMemoryMiB / 4))}m`,
      "-v", `${PG_VOLUME}:${POSTGRES_DATA_DIR}`,
      "-v", `${SOCKET_VOLUME}:${PG_SOCKET_DIR}`,
      // The key encrypted as components/postgres.ts writes it; the server opens it with the uploaded passphrase.
      ...tlsVolume("postgres", { ...postgresTls, privateKeyPem: encryptPrivateKeyPem(postgresTls.privateKeyPem, tlsKeyPassphrase) }, tags.postgres),
      "-p", `127.0.0.1:${pgPort}:${POSTGRES_PORT}`,
      // The component's healthcheck command (docker 20.10 has no start-interval: a short interval instead).
      "--health-cmd", POSTGRES_HEALTHCHECK.join(" "),
      "--health-interval", "1s", "--health-timeout", "5s", "--health-retries", "6", "--health-start-period", "120s",
      "--stop-signal", "SIGINT", "--stop-timeout", "60",
      "--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=5",
      tags.postgres,
    ]);
    uploadFiles(PG_CONTAINER, [
      { file: POSTGRES_PASSWORD_FILE, content: superuserPassword },
      { file: POSTGRES_TLS_PASSPHRASE_FILE, content: tlsKeyPassphrase },
      { file: POSTGRES_CONF_FILE, content: postgresqlConf },
      { file: PG_HBA_FILE, content: pgHbaConf },
    ], work);
    dockerOk(["start", PG_CONTAINER]);
    const ms = await waitHealthy(PG_CONTAINER, 180_000);
    process.stdout.write(`[rendered] postgres healthy after ${(ms / 1000).toFixed(1)} s\n`);

    const inspect = JSON.parse(dockerOk(["inspect", PG_CONTAINER]))[0];
    expect(inspect.HostConfig.Memory).toBe(config.postgresMemoryBytes);
    for (const bindings of Object.values(inspect.HostConfig.PortBindings) as { HostIp: string }[][]) {
      for (const b of bindings) expect(b.HostIp).toBe("127.0.0.1");
    }
    const modes = dockerOk(["exec", PG_CONTAINER, "stat", "-c", "%n %a %U", POSTGRES_PASSWORD_FILE, POSTGRES_TLS_PASSPHRASE_FILE, POSTGRES_CONF_FILE, PG_HBA_FILE]);
    expect(modes.split("\n")).toEqual([POSTGRES_PASSWORD_FILE, POSTGRES_TLS_PASSPHRASE_FILE, POSTGRES_CONF_FILE, PG_HBA_FILE].map((f) => `${f} 444 root`));
    // The key in the volume is encrypted: it opens only with the passphrase (CIS 6.8).
    expect(dockerOk(["exec", "-u", "postgres", PG_CONTAINER, "head", "-n", "1", TLS_KEY_FILE]).trim()).toBe("-----BEGIN ENCRYPTED PRIVATE KEY-----");
  });

  it("runs with the seed's tuning, both preloaded libraries, checksums and scram-sha-256", async () => {
    const show = await superuser("postgres", async (c) => {
      const names = [
        "shared_buffers", "work_mem", "effective_cache_size", "shared_preload_libraries", "data_checksums",
        "password_encryption", "log_line_prefix", "config_file", "hba_file", "max_connections",
      ];
      const out: Record<string, string> = {};
      for (const name of names) out[name] = (await c.query(`SHOW ${name}`)).rows[0][name];
      return out;
    });
    expect(show.shared_buffers).toBe("256MB");
    expect(show.work_mem).toBe("4MB");
    expect(show.effective_cache_size).toBe("1GB");
    const preload = show.shared_preload_libraries.split(",").map((s) => s.trim());
    expect(preload).toContain("pg_stat_statements");
    expect(preload).toContain("pgaudit");
    expect(show.data_checksums).toBe("on");
    expect(show.password_encryption).toBe("scram-sha-256");
    expect(show.log_line_prefix).toBe(SEED_LOG_LINE_PREFIX);
    // The uploads are readable by postgres (0444), so the server reads them in place.
    expect(show.config_file).toBe(POSTGRES_CONF_FILE);
    expect(show.hba_file).toBe(PG_HBA_FILE);
    expect(show.max_connections).toBe(parameters.max_connections);
  });

  it("applies every line of the rendered postgresql.conf and pg_hba.conf without error", async () => {
    const { settings, hba } = await superuser("postgres", async (c) => ({
      settings: (await c.query("SELECT name, setting, applied, error FROM pg_file_settings WHERE sourcefile = $1 ORDER BY name", [POSTGRES_CONF_FILE])).rows,
      hba: (await c.query("SELECT type, database, user_name, address, auth_method, error FROM pg_hba_file_rules ORDER BY rule_number")).rows,
    }));
    expect(settings.map((s) => s.name)).toEqual(Object.keys(serverParameters).sort());
    for (const s of settings) {
      expect(s.error, `${s.name}: ${s.error}`).toBeNull();
      expect(s.applied, `${s.name} = ${s.setting} not applied`).toBe(true);
      expect(s.setting).toBe(serverParameters[s.name]);
    }
    expect(hba.every((r) => r.error === null)).toBe(true);
    // The drill's role first (its two databases, then nothing else), then everyone over TLS.
    expect(hba.map((r) => [r.type, r.auth_method])).toEqual([["local", "peer"], ["hostssl", "scram-sha-256"], ["hostssl", "reject"], ["hostssl", "scram-sha-256"]]);
    expect(hba[1].user_name).toEqual([DRILL_ROLE]);
    expect(hba[2].user_name).toEqual([DRILL_ROLE]);
    expect(hba[3].user_name).toEqual(["all"]);
  });

  it("refuses the superuser with a wrong password over TCP", async () => {
    const err = await rejection(withClient(pgPort, SUPERUSER, `${superuserPassword}x`, "postgres", async () => undefined));
    expect(err.message).toMatch(/password authentication failed for user "postgres"/);
  });
});

// ---- 2. The database objects and the migrations ---------------------------------

describe("database objects as components/database.ts declares them, then the migrations", () => {
  it("creates the roles, database, schemas, grants, extensions and get_auth() as superuser", async () => {
    const sql = databaseSql();
    await superuser("postgres", async (c) => {
      for (const statement of sql.cluster) await c.query(statement);
      // The secrets are stored as given: clients log in with the passwords, never sent to the server.
      const { rows } = await c.query("SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1)", [[...LOGIN_ROLES]]);
      expect(Object.fromEntries(rows.map((r) => [r.rolname, r.rolpassword]))).toEqual(scram);
    });
    await superuser(DATABASE_NAME, async (c) => {
      for (const statement of sql.database) await c.query(statement);
      const owners = await c.query("SELECT nspname, pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = ANY($1) ORDER BY nspname", [[...SCHEMAS]]);
      expect(owners.rows).toEqual([...SCHEMAS].sort().map((nspname) => ({ nspname, owner: OWNER_ROLE })));
      const dbOwner = await c.query("SELECT pg_get_userbyid(datdba) AS owner, pg_encoding_to_char(encoding) AS encoding FROM pg_database WHERE datname = $1", [DATABASE_NAME]);
      expect(dbOwner.rows).toEqual([{ owner: OWNER_ROLE, encoding: "UTF8" }]);
    });
    // get_auth() through the component's own SqlScript provider (one transaction, node-postgres), as database.ts declares it.
    const pgbouncerAuth = {
      connection: pgConnection(SUPERUSER, superuserPassword, DATABASE_NAME),
      description: "pgbouncer auth function",
      sql: renderPgbouncerAuthFunctionSql(PGBOUNCER_AUTH_SCHEMA, PGBOUNCER_ROLE),
      destroySql: `DROP SCHEMA IF EXISTS "${PGBOUNCER_AUTH_SCHEMA}" CASCADE`,
    };
    const created = await makeSqlScriptProvider().create!(pgbouncerAuth);
    expect(created.id).toBe(`${DATABASE_NAME}/pgbouncer auth function`);
    // Idempotent: an update runs it again.
    await makeSqlScriptProvider().update!(created.id, pgbouncerAuth, pgbouncerAuth);
  });

  it("lets every login role in with its password, and lets only the lookup role run get_auth()", async () => {
    for (const role of LOGIN_ROLES) {
      const who = await withClient(pgPort, role, passwords[role], DATABASE_NAME, async (c) => (await c.query("SELECT current_user AS u")).rows[0].u);
      expect(who).toBe(role);
    }
    const auth = await withClient(pgPort, PGBOUNCER_ROLE, passwords[PGBOUNCER_ROLE], DATABASE_NAME, async (c) => ({
      app: (await c.query(`SELECT usename, passwd FROM ${PGBOUNCER_AUTH_SCHEMA}.get_auth($1)`, [APP_ROLE])).rows,
      superuser: (await c.query(`SELECT usename, passwd FROM ${PGBOUNCER_AUTH_SCHEMA}.get_auth($1)`, [SUPERUSER])).rows,
      owner: (await c.query(`SELECT usename, passwd FROM ${PGBOUNCER_AUTH_SCHEMA}.get_auth($1)`, [OWNER_ROLE])).rows,
      missing: (await c.query(`SELECT usename, passwd FROM ${PGBOUNCER_AUTH_SCHEMA}.get_auth($1)`, ["kryonix_no_such_role"])).rows,
      again: (await c.query(`SELECT usename, passwd FROM ${PGBOUNCER_AUTH_SCHEMA}.get_auth($1)`, ["kryonix_no_such_role"])).rows,
    }));
    expect(auth.app).toEqual([{ usename: APP_ROLE, passwd: scram[APP_ROLE] }]);
    // Anything else gets one decoy verifier (stable per name), never a real secret: PgBouncer
    // answers as for a wrong password, and the superuser cannot log in through it.
    for (const rows of [auth.superuser, auth.owner, auth.missing]) {
      expect(rows).toHaveLength(1);
      expect(rows[0].passwd).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    }
    expect(auth.again).toEqual(auth.missing);
    expect(auth.superuser[0].passwd).not.toBe(auth.owner[0].passwd);
    const denied = await rejection(
      withClient(pgPort, APP_ROLE, passwords[APP_ROLE], DATABASE_NAME, (c) => c.query(`SELECT * FROM ${PGBOUNCER_AUTH_SCHEMA}.get_auth($1)`, [APP_ROLE])),
    );
    expect(denied.message).toMatch(/permission denied/);
  });

  it("applies every file of sql/ as the migrator with role kryonix_owner, and nothing on a second run", async () => {
    const files = loadMigrationFiles();
    expect(files.length).toBeGreaterThan(0);
    // The connection the Migrations component opens: io/pg-connect.ts, to 127.0.0.1.
    const connection = pgConnection(MIGRATOR_ROLE, passwords[MIGRATOR_ROLE], DATABASE_NAME);
    const client = await connectPg(connection);
    try {
      const first = await applyMigrations(client, files, { role: OWNER_ROLE });
      expect(first).toEqual(files.map((f) => f.name));
      const second = await applyMigrations(client, files, { role: OWNER_ROLE });
      expect(second).toEqual([]);
      const ledger = await client.query(`SELECT name, applied_by FROM ${LEDGER_TABLE} ORDER BY name`);
      expect(ledger.rows).toEqual(files.map((f) => ({ name: f.name, applied_by: MIGRATOR_ROLE })));
    } finally {
      await client.end();
    }
    // The component's dynamic provider reads that ledger back and sees nothing left to do.
    const provider = makeMigrationsProvider();
    const inputs = { connection, role: OWNER_ROLE, files: migrationInputs(files) };
    const read = await provider.read!(`${DATABASE_NAME}/${LEDGER_TABLE}`, { ...inputs, applied: [] } as MigrationsOutputs);
    const outputs = read.props as MigrationsOutputs;
    expect(outputs.applied).toEqual(inputs.files.map((f) => ({ name: f.name, checksum: f.checksum })));
    const diff = await provider.diff!(`${DATABASE_NAME}/${LEDGER_TABLE}`, outputs, inputs);
    expect(diff.changes).toBe(false);
  });

  it("grants kryonix_monitor the monitoring views after the DDL (Database.monitoringGrant), and Metabase its share", async () => {
    const [before, after] = await superuser(DATABASE_NAME, async (c) => {
      /** The monitoring views `role` may read, sorted. */
      const readable = async (role: string) =>
        (
          await c.query("SELECT v FROM unnest($1::text[]) v WHERE has_table_privilege($2, 'audit.' || quote_ident(v), 'SELECT')", [[...MONITORING_VIEWS], role])
        ).rows
          .map((r) => r.v as string)
          .sort();
      const privileges = async () => ({
        monitor: await readable(MONITOR_ROLE),
        metabase: await readable(READONLY_ROLE),
        metabaseUsage: (await c.query("SELECT has_schema_privilege($1, 'audit', 'USAGE') AS usage", [READONLY_ROLE])).rows[0].usage,
      });
      const before = await privileges();
      await c.query(`GRANT SELECT ON ${MONITORING_VIEWS.map((v) => `audit.${ident(v)}`).join(", ")} TO ${ident(MONITOR_ROLE)}`);
      await c.query(`GRANT USAGE ON SCHEMA audit TO ${ident(READONLY_ROLE)}`);
      await c.query(`GRANT SELECT ON ${METABASE_MONITORING_VIEWS.map((v) => `audit.${ident(v)}`).join(", ")} TO ${ident(READONLY_ROLE)}`);
      const after = await privileges();
      // Read as the monitoring role (permissions are checked when the query starts, rows or not).
      await c.query(`SET ROLE ${ident(MONITOR_ROLE)}`);
      for (const view of MONITORING_VIEWS) await c.query(`SELECT * FROM audit.${ident(view)} LIMIT 0`);
      await c.query("RESET ROLE");
      return [before, after];
    });
    // The views are the migrations' (after the grants of TABLE_GRANTS): nobody could read them before.
    expect(before).toEqual({ monitor: [], metabase: [], metabaseUsage: false });
    expect(after).toEqual({ monitor: [...MONITORING_VIEWS].sort(), metabase: [...METABASE_MONITORING_VIEWS].sort(), metabaseUsage: true });
  });

  it("leaves the tables, the seed's indexes and the user_sessions partitions in place, owned by kryonix_owner", async () => {
    const found = await superuser(DATABASE_NAME, async (c) => ({
      tables: (
        await c.query(
          `SELECT n.nspname || '.' || c.relname AS name, pg_get_userbyid(c.relowner) AS owner
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1) AND NOT c.relispartition`,
          [[...SCHEMAS]],
        )
      ).rows,
      indexes: (await c.query("SELECT schemaname || '.' || indexname AS name FROM pg_indexes WHERE schemaname = ANY($1)", [[...SCHEMAS]])).rows.map((r) => r.name),
      partitions: (
        await c.query("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'analytics.user_sessions'::regclass ORDER BY 1")
      ).rows.map((r) => r.relname),
      partitioned: (await c.query("SELECT relkind FROM pg_class WHERE oid = 'analytics.user_sessions'::regclass")).rows[0].relkind,
      views: (await c.query("SELECT viewname FROM pg_views WHERE schemaname = 'audit' ORDER BY 1")).rows.map((r) => r.viewname),
    }));
    expect(found.tables.map((t) => t.name).sort()).toEqual([...TABLES].sort());
    for (const t of found.tables) expect(t.owner, t.name).toBe(OWNER_ROLE);
    for (const index of [...SEED_INDEXES, ...UNIQUE_INDEXES]) expect(found.indexes).toContain(index);
    expect(found.partitioned).toBe("p");
    expect(found.partitions).toEqual(["user_sessions_default", ...expectedMonthlyPartitions()].sort());
    expect(found.views).toEqual([...MONITORING_VIEWS].sort());
  });

  it("gives the roles exactly the table privileges of TABLE_GRANTS on what the migrations made", async () => {
    const privileges = ["SELECT", "INSERT", "UPDATE", "DELETE"];
    const rows = await superuser(DATABASE_NAME, async (c) =>
      (
        await c.query(
          `SELECT n.nspname AS schema, c.oid::regclass::text AS tbl, r.role, p.priv,
                  has_table_privilege(r.role, c.oid, p.priv) AS granted
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            CROSS JOIN unnest($2::text[]) AS r(role)
            CROSS JOIN unnest($3::text[]) AS p(priv)
            WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1)`,
          [[...SCHEMAS], Object.keys(TABLE_GRANTS), privileges],
        )
      ).rows,
    );
    expect(rows.length).toBeGreaterThan(0);
    const wrong = rows.filter((r) => {
      const grants = (TABLE_GRANTS as Record<string, Record<string, { tables: readonly string[] } | undefined>>)[r.role][r.schema];
      return r.granted !== (grants?.tables ?? []).includes(r.priv);
    });
    expect(wrong.map((r) => `${r.role} ${r.priv} on ${r.tbl}: ${r.granted}`)).toEqual([]);
  });
});

// ---- 3. PgBouncer with the rendered ini and userlist --------------------------------

describe("pgbouncer with the rendered pgbouncer.ini and userlist.txt", () => {
  // Every test below goes through PgBouncer: started on the network from the uploaded files.
  beforeAll(async () => {
    bouncerPort = await freePort();
    // As index.ts passes them to the Pgbouncer component.
    const args: PgbouncerArgs = {
      stack: STACK,
      image: tags.pgbouncer,
      network: NETWORK,
      memoryBytes: config.pgbouncerMemoryBytes,
      engine: engineOfDocker(),
      hostPort: config.pgbouncerPort,
      postgresHost: resourceName(STACK, "postgres"),
      postgresPort: POSTGRES_PORT,
      pools: connectionBudget(config.maxConnections).pools,
      database: DATABASE_NAME,
      authUser: PGBOUNCER_ROLE,
      authPassword: passwords[PGBOUNCER_ROLE],
      authSchema: PGBOUNCER_AUTH_SCHEMA,
      tls: pgbouncerTls,
    };
    checkPgbouncerArgs(args);
    dockerOk([
      "create", "--name", BOUNCER_CONTAINER, "--hostname", BOUNCER_CONTAINER,
      "--label", "org.kryonix.test=rendered",
      "--network", NETWORK, "--network-alias", "pgbouncer",
      "--memory", `${memoryMiB(config.pgbouncerMemoryBytes)}m`,
      "-p", `127.0.0.1:${bouncerPort}:${PGBOUNCER_PORT}`,
      "-v", `${SOCKET_VOLUME}:${PG_SOCKET_DIR}:ro`,
      ...tlsVolume("pgbouncer", pgbouncerTls, tags.pgbouncer),
      "--health-cmd", PGBOUNCER_HEALTHCHECK,
      "--health-interval", "1s", "--health-timeout", "5s", "--health-retries", "6", "--health-start-period", "30s",
      "--stop-signal", "SIGINT", "--stop-timeout", "30",
      "--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=5",
      tags.pgbouncer,
    ]);
    uploadFiles(BOUNCER_CONTAINER, [
      { file: PGBOUNCER_INI_FILE, content: pgbouncerIni(args) },
      { file: PGBOUNCER_USERLIST_FILE, content: renderUserlist(PGBOUNCER_ROLE, passwords[PGBOUNCER_ROLE]) },
    ], work);
    dockerOk(["start", BOUNCER_CONTAINER]);
    const ms = await waitHealthy(BOUNCER_CONTAINER, 60_000);
    process.stdout.write(`[rendered] pgbouncer healthy after ${(ms / 1000).toFixed(1)} s\n`);
  });

  it("lets the application role in through auth_query and runs a query", async () => {
    const row = await viaBouncer(APP_ROLE, async (c) => (await c.query("SELECT current_user AS u, current_database() AS db, 40 + 2 AS n")).rows[0]);
    expect(row).toEqual({ u: APP_ROLE, db: DATABASE_NAME, n: 42 });
    // Not in userlist.txt: PgBouncer found it through get_auth().
    const err = await rejection(withClient(bouncerPort, APP_ROLE, `${passwords[APP_ROLE]}x`, DATABASE_NAME, async () => undefined));
    expect(err.message).toMatch(/authentication failed/);
  });

  it("runs a protocol-level prepared statement twice in transaction pooling, across server connections", async () => {
    const a = await connect(bouncerPort, APP_ROLE, passwords[APP_ROLE], DATABASE_NAME);
    const b = await connect(bouncerPort, APP_ROLE, passwords[APP_ROLE], DATABASE_NAME);
    try {
      const stmt = { name: "kryonix_rtest_stmt", text: "SELECT pg_backend_pid() AS pid, $1::int + 1 AS n", values: [41] };
      const pids = new Set<number>();
      const first = (await a.query(stmt)).rows[0];
      expect(first.n).toBe(42);
      pids.add(first.pid);
      // b holds a server connection in a transaction (PgBouncer reuses servers LIFO, so most likely
      // the one a just used), so a's next execution runs where the statement was never prepared.
      for (let round = 0; round < 10 && pids.size < 2; round++) {
        await b.query("BEGIN");
        await b.query("SELECT pg_backend_pid()");
        const again = (await a.query(stmt)).rows[0];
        expect(again.n).toBe(42);
        pids.add(again.pid);
        await b.query("COMMIT");
      }
      const last = (await a.query(stmt)).rows[0];
      expect(last.n).toBe(42);
      expect(pids.size, "the prepared statement ran on two server connections").toBeGreaterThanOrEqual(2);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it("lets metabase_readonly read analytics, core and the data's monitoring views, and nothing more", async () => {
    await viaBouncer(READONLY_ROLE, async (c) => {
      expect((await c.query("SELECT count(*)::int AS n FROM analytics.system_metrics")).rows[0].n).toBe(0);
      expect((await c.query("SELECT count(*)::int AS n FROM analytics.user_sessions")).rows[0].n).toBe(0);
      expect((await c.query("SELECT count(*)::int AS n FROM core.projects")).rows[0].n).toBe(0);
      const insert = await rejection(c.query("INSERT INTO analytics.system_metrics (metric_name, metric_value) VALUES ('x', 1)"));
      expect(insert.message).toMatch(/permission denied for table system_metrics/);
      const auth = await rejection(c.query("SELECT * FROM auth.users"));
      expect(auth.message).toMatch(/permission denied for schema auth/);
      // Usage on audit for the monitoring views it may read; the audit trail itself stays closed.
      const audit = await rejection(c.query("SELECT * FROM audit.activity_logs"));
      expect(audit.message).toMatch(/permission denied for table activity_logs/);
      expect((await c.query("SELECT count(*)::int AS n FROM audit.monitoring_cache_hit_ratio")).rows[0].n).toBe(1);
      const sessions = await rejection(c.query("SELECT * FROM audit.monitoring_idle_in_transaction"));
      expect(sessions.message).toMatch(/permission denied for view monitoring_idle_in_transaction/);
    });
  });

  it("lets metabase_readonly read a table kryonix_owner creates after the migrations (default privileges)", async () => {
    await withClient(pgPort, MIGRATOR_ROLE, passwords[MIGRATOR_ROLE], DATABASE_NAME, async (c) => {
      await c.query("BEGIN");
      await c.query(`SET LOCAL ROLE ${ident(OWNER_ROLE)}`);
      await c.query("CREATE TABLE analytics.rtest_after_migrations (id integer PRIMARY KEY, note text NOT NULL)");
      await c.query("CREATE TABLE core.rtest_after_migrations (id integer PRIMARY KEY)");
      await c.query("INSERT INTO analytics.rtest_after_migrations VALUES (1, 'made by the owner')");
      await c.query("INSERT INTO core.rtest_after_migrations VALUES (7)");
      await c.query("COMMIT");
    });
    await viaBouncer(READONLY_ROLE, async (c) => {
      expect((await c.query("SELECT id, note FROM analytics.rtest_after_migrations")).rows).toEqual([{ id: 1, note: "made by the owner" }]);
      expect((await c.query("SELECT id FROM core.rtest_after_migrations")).rows).toEqual([{ id: 7 }]);
      const insert = await rejection(c.query("INSERT INTO analytics.rtest_after_migrations VALUES (2, 'no')"));
      expect(insert.message).toMatch(/permission denied/);
    });
    // And the application role its read-write default privileges.
    await viaBouncer(APP_ROLE, async (c) => {
      await c.query("INSERT INTO analytics.rtest_after_migrations VALUES (2, 'made by the app')");
      expect((await c.query("SELECT count(*)::int AS n FROM analytics.rtest_after_migrations")).rows[0].n).toBe(2);
    });
  });

  it("lets kryonix_monitor (pgAdmin's login) read every monitoring view, pg_stat_statements included", async () => {
    await viaBouncer(MONITOR_ROLE, async (c) => {
      for (const view of MONITORING_VIEWS) {
        const r = await c.query(`SELECT * FROM audit.${ident(view)} LIMIT 5`);
        expect(r.fields.length, view).toBeGreaterThan(0);
      }
      expect((await c.query("SELECT active_connections::int AS n FROM audit.monitoring_active_connections")).rows[0].n).toBeGreaterThanOrEqual(1);
      const slow = await c.query("SELECT query FROM audit.monitoring_slow_queries");
      expect(slow.rows.length).toBeGreaterThan(0);
      // pg_monitor: other roles' statements are readable, not "<insufficient privilege>".
      expect(slow.rows.some((r) => r.query === "<insufficient privilege>")).toBe(false);
      const sizes = await c.query("SELECT schemaname || '.' || tablename AS t FROM audit.monitoring_table_sizes");
      expect(sizes.rows.map((r) => r.t)).toContain("analytics.user_sessions");
      const write = await rejection(c.query("INSERT INTO core.projects (name) VALUES ('x')"));
      expect(write.message).toMatch(/permission denied/);
    });
  });

  it("refuses the superuser (get_auth() never returns a superuser's secret), and a missing role as a wrong password", async () => {
    const err = await rejection(withClient(bouncerPort, SUPERUSER, superuserPassword, DATABASE_NAME, async (c) => c.query("SELECT 1")));
    // get_auth() gives the superuser a decoy verifier: PgBouncer answers as for a wrong password.
    expect(err.message).toBe("SASL authentication failed");
    const missing = await rejection(withClient(bouncerPort, "kryonix_no_such_role", "x", DATABASE_NAME, async () => undefined));
    const wrong = await rejection(withClient(bouncerPort, APP_ROLE, `${passwords[APP_ROLE]}x`, DATABASE_NAME, async () => undefined));
    // A role that does not exist and a wrong password look the same.
    expect(missing.message).toBe(wrong.message);
    // PgBouncer stays up for everyone else.
    const who = await viaBouncer(READONLY_ROLE, async (c) => (await c.query("SELECT current_user AS u")).rows[0].u);
    expect(who).toBe(READONLY_ROLE);
  });
});

// ---- 4. No password in the logs ----------------------------------------------------

describe("logs", () => {
  it("postgres comes back healthy after a restart (no initdb, same uploaded files), data kept", async () => {
    dockerOk(["restart", "--time", "60", PG_CONTAINER]);
    await waitHealthy(PG_CONTAINER, 120_000);
    const n = await viaBouncer(APP_ROLE, async (c) => (await c.query("SELECT count(*)::int AS n FROM analytics.rtest_after_migrations")).rows[0].n);
    expect(n).toBe(2);
    const logs = sh("docker", ["logs", PG_CONTAINER]).out;
    expect(logs.match(/initialising a new cluster/g)?.length).toBe(1);
  });

  it("the postgres log uses the seed's prefix and holds none of the generated passwords", async () => {
    // The server logs to stderr without a collector: give the last lines a moment to arrive.
    await sleep(500);
    const logs = sh("docker", ["logs", PG_CONTAINER]).out;
    expect(logs.includes(`configuration: ${POSTGRES_CONF_FILE}`), "the entrypoint used the uploaded postgresql.conf").toBe(true);
    // log_line_prefix '%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ' on a statement pgaudit logs (class DDL).
    // (The whole log is not printed on failure: it is long, and would show a password if one were there.)
    const prefixed = new RegExp(
      `^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d \\w+ \\[\\d+\\]: \\[\\d+-1\\] user=${MIGRATOR_ROLE},db=${DATABASE_NAME},app=kryonix-rtest,client=\\S+ LOG:  (00000: )?AUDIT: SESSION,\\d+,\\d+,DDL,CREATE TABLE`,
      "m",
    );
    expect(prefixed.test(logs), "a statement logged with the seed's log_line_prefix").toBe(true);
    for (const secret of allPasswords) expect(logs.includes(secret), "a generated password is in the postgres log").toBe(false);
  });

  it("neither container shows a password in docker inspect, nor PgBouncer in its log", () => {
    for (const container of [PG_CONTAINER, BOUNCER_CONTAINER]) {
      const inspect = dockerOk(["inspect", container]);
      for (const secret of allPasswords) expect(inspect.includes(secret), `${container}: a password is in docker inspect`).toBe(false);
    }
    const logs = sh("docker", ["logs", BOUNCER_CONTAINER]).out;
    for (const secret of allPasswords) expect(logs.includes(secret), "a generated password is in the pgbouncer log").toBe(false);
  });
});

describe("cleanup", () => {
  it("removes every container, network and volume named with the test prefix", async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    cleanup();
    expect(leftovers()).toEqual([]);
  });
});
