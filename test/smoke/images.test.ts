/**
 * The images of images/*, for real: built through buildImages (scripts/images.ts), then run on the
 * local Docker engine with every published port on 127.0.0.1 and every name prefixed
 * kryonix-imgtest-<random>. Secrets are files mounted read-only (root-owned, mode 0600, as the
 * strictest upload would be); no secret may show in `docker inspect` or `docker logs`.
 * Requires `npm run toolchain` (base image, MinIO and mc) and a psql client on the host.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildImages } from "../../scripts/images";
import { readStatus } from "../../toolchain/toolchain-state";
import { freePort, sh, type Result, dockerLeftovers, removeDockerObjects } from "../support/process";
import { dockerOk, waitHealthy } from "../support/docker";
import { PGBOUNCER_UID } from "../../model/pg-socket";

const PREFIX = `kryonix-imgtest-${randomBytes(4).toString("hex")}`;
const NETWORK = `${PREFIX}-net`;
const name = (service: string) => `${PREFIX}-${service}`;

let tags: Record<string, string> = {};
let work = "";




/** A secret file as the strictest upload would leave it: root's (the test user's), mode 0600. */
function secretFile(rel: string, content: string): string {
  const file = path.join(work, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

function password(): string {
  return randomBytes(18).toString("base64url");
}

/** Neither `docker inspect` (env, command, labels, mounts) nor `docker logs` may contain a secret. */
function expectNoSecret(container: string, secrets: string[]) {
  const inspect = dockerOk(["inspect", container]);
  const logs = sh("docker", ["logs", container]).out;
  const config = JSON.parse(inspect)[0].Config as { Env: string[]; Cmd: string[] | null; Entrypoint: string[] | null };
  for (const secret of secrets) {
    expect(inspect.includes(secret), `${container}: a secret is in docker inspect`).toBe(false);
    expect(JSON.stringify([config.Env, config.Cmd, config.Entrypoint]).includes(secret)).toBe(false);
    expect(logs.includes(secret), `${container}: a secret is in docker logs`).toBe(false);
  }
}

const cleanup = () => removeDockerObjects(PREFIX);
const leftovers = () => dockerLeftovers(PREFIX);

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "kryonix-imgtest-"));
  const t0 = Date.now();
  tags = await buildImages({ log: (s) => process.stdout.write(`[images] ${s}\n`) });
  process.stdout.write(`[images] ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(tags)}\n`);
  dockerOk(["network", "create", "--label", "org.kryonix.test=images", NETWORK]);
});

afterAll(() => {
  cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
  const left = leftovers();
  if (left.length) throw new Error(`left behind: ${left.join(", ")}`);
});

describe("images", () => {
  it("are tagged kryonix/<service>:<hash12>, and a second build changes nothing", async () => {
    expect(Object.keys(tags).sort()).toEqual(["minio", "pgadmin", "pgbouncer", "pgbouncer-exporter", "postgres", "postgres-exporter", "prometheus", "proxy"]);
    for (const [service, tag] of Object.entries(tags)) expect(tag).toMatch(new RegExp(`^kryonix/${service}:[0-9a-f]{12}$`));
    const lines: string[] = [];
    const again = await buildImages({ log: (s) => lines.push(s) });
    expect(again).toEqual(tags);
    expect(lines.every((l) => /up to date, not rebuilt/.test(l)), lines.join("\n")).toBe(true);
  });
});

describe("postgres", () => {
  const pgPassword = password();
  let port = 0;

  const psql = (sql: string, pw: string, p = port, user = "postgres", db = "postgres") =>
    sh("psql", ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(p), "-U", user, "-d", db, "-c", sql], {
      env: { ...process.env, PGPASSWORD: pw, PGCONNECT_TIMEOUT: "10", PGPASSFILE: "/dev/null", PGSSLMODE: "disable" },
    });

  // Every test below needs the server up: a first start initialises the cluster.
  beforeAll(async () => {
    port = await freePort();
    // With a trailing newline, as most tools write a password file.
    const pwFile = secretFile("postgres/password", `${pgPassword}\n`);
    dockerOk([
      "run", "-d", "--name", name("postgres"), "--network", NETWORK, "--network-alias", "postgres",
      "-v", `${name("pgdata")}:/var/lib/postgresql/data`,
      "-v", `${pwFile}:/run/kryonix/postgres-password:ro`,
      "-p", `127.0.0.1:${port}:5432`,
      tags.postgres,
    ]);
    const ms = await waitHealthy(name("postgres"), 180_000);
    process.stdout.write(`[postgres] healthy after ${(ms / 1000).toFixed(1)} s\n`);
  });

  it("accepts the password over TCP with data checksums and scram-sha-256, UTF8, C.UTF-8", () => {
    const r = psql("SHOW data_checksums; SHOW password_encryption; SHOW server_encoding; SELECT datlocale FROM pg_database WHERE datname = 'postgres'", pgPassword);
    expect(r.code, r.out).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual(["on", "scram-sha-256", "UTF8", "C.UTF-8"]);
  });

  it("refuses a wrong password", () => {
    const r = psql("SELECT 1", `${pgPassword}x`);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/password authentication failed for user "postgres"/);
  });

  it("lets the postgres OS user in by peer authentication (docker exec -u postgres psql)", () => {
    const r = sh("docker", ["exec", "-u", "postgres", name("postgres"), "psql", "-Atc", "select 1"]);
    expect(r.code, r.out).toBe(0);
    expect(r.stdout.trim()).toBe("1");
  });

  it("has pgaudit and pg_stat_statements available (and preloaded by default)", () => {
    const r = psql("SELECT name FROM pg_available_extensions WHERE name IN ('pgaudit', 'pg_stat_statements') ORDER BY name", pgPassword);
    expect(r.code, r.out).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual(["pg_stat_statements", "pgaudit"]);
    const c = psql("CREATE EXTENSION pg_stat_statements; CREATE EXTENSION pgaudit; SELECT count(*) >= 0 FROM pg_stat_statements", pgPassword);
    expect(c.code, c.out).toBe(0);
  });

  it("runs pgbackrest", () => {
    const r = sh("docker", ["exec", name("postgres"), "pgbackrest", "--version"]);
    expect(r.code, r.out).toBe(0);
    expect(r.stdout).toMatch(/^pgBackRest 2\.\d+/);
  });

  it("keeps the password out of docker inspect and docker logs, and runs postgres unprivileged", () => {
    expectNoSecret(name("postgres"), [pgPassword]);
    // tini is PID 1 (it forwards docker stop's signal); the postmaster is its child, as postgres.
    expect(dockerOk(["exec", name("postgres"), "cat", "/proc/1/comm"])).toBe("tini");
    const children = dockerOk(["exec", name("postgres"), "ps", "-o", "uid=,comm=", "--ppid", "1"]).trim().split("\n").map((l) => l.trim().split(/\s+/));
    const postmaster = children.find(([, comm]) => comm === "postgres");
    expect(postmaster, JSON.stringify(children)).toBeDefined();
    expect(postmaster![0]).not.toBe("0");
  });

  describe("pgbouncer in front of it", () => {
    const appPassword = password();
    let bouncerPort = 0;

    it("starts on the network with a SCRAM secret in its auth file and becomes healthy", async () => {
      // The role is created over stdin: its password is on no command line.
      const create = sh(
        "psql",
        ["-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres"],
        { env: { ...process.env, PGPASSWORD: pgPassword, PGPASSFILE: "/dev/null" }, input: `CREATE ROLE app_user LOGIN PASSWORD '${appPassword}';\n` },
      );
      expect(create.code, create.out).toBe(0);
      const secret = psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'app_user'", pgPassword);
      expect(secret.stdout.trim()).toMatch(/^SCRAM-SHA-256\$/);

      const conf = path.join(work, "pgbouncer");
      mkdirSync(conf, { recursive: true });
      writeFileSync(
        path.join(conf, "pgbouncer.ini"),
        [
          "[databases]",
          "postgres = host=postgres port=5432 dbname=postgres",
          "[pgbouncer]",
          "listen_addr = 0.0.0.0",
          "listen_port = 6432",
          "auth_type = scram-sha-256",
          "auth_file = /etc/kryonix/userlist.txt",
          "pool_mode = transaction",
          "",
        ].join("\n"),
        { mode: 0o644 },
      );
      secretFile("pgbouncer/userlist.txt", `"app_user" "${secret.stdout.trim()}"\n`);

      bouncerPort = await freePort();
      dockerOk([
        "run", "-d", "--name", name("pgbouncer"), "--network", NETWORK, "--network-alias", "pgbouncer",
        "-v", `${conf}:/etc/kryonix:ro`,
        "-p", `127.0.0.1:${bouncerPort}:6432`,
        tags.pgbouncer,
      ]);
      await waitHealthy(name("pgbouncer"), 60_000);
    });

    it("answers pg_isready on 127.0.0.1 and serves a query as the role (SCRAM)", () => {
      const ready = sh("pg_isready", ["-h", "127.0.0.1", "-p", String(bouncerPort)]);
      expect(ready.code, ready.out).toBe(0);
      const r = psql("SELECT current_user", appPassword, bouncerPort, "app_user");
      expect(r.code, r.out).toBe(0);
      expect(r.stdout.trim()).toBe("app_user");
      const bad = psql("SELECT 1", `${appPassword}x`, bouncerPort, "app_user");
      expect(bad.code).not.toBe(0);
    });

    it("runs pgbouncer as its own user (not root, not the postgres image's postgres), with no secret in inspect or logs", () => {
      const status = dockerOk(["exec", name("pgbouncer"), "cat", "/proc/1/status"]);
      const uid = status.match(/^Uid:\s+(\d+)\s/m)![1];
      expect(uid).toBe(String(PGBOUNCER_UID));
      expect(uid).not.toBe(dockerOk(["exec", name("postgres"), "id", "-u", "postgres"]).trim());
      expect(dockerOk(["exec", name("pgbouncer"), "cat", "/proc/1/comm"])).toBe("pgbouncer");
      expectNoSecret(name("pgbouncer"), [appPassword, pgPassword]);
    });
  });
});

describe("pgadmin", () => {
  const email = "admin@kryonix.com.br";
  const adminPassword = password();
  let port = 0;
  const base = () => `http://127.0.0.1:${port}`;

  async function login(pw: string): Promise<{ status: number; location: string }> {
    const page = await fetch(`${base()}/login`);
    const cookies = page.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    const html = await page.text();
    const token = /csrfToken": "([^"]+)"/.exec(html)?.[1];
    expect(token, "csrf token on the login page").toBeTruthy();
    const res = await fetch(`${base()}/authenticate/login`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: cookies },
      body: new URLSearchParams({ csrf_token: token!, email, password: pw, language: "en" }).toString(),
    });
    return { status: res.status, location: res.headers.get("location") ?? "" };
  }

  // Every test below needs pgAdmin up: it sets itself up from the email, the password file and servers.json.
  beforeAll(async () => {
    port = await freePort();
    const pwFile = secretFile("pgadmin/password", adminPassword);
    const etc = path.join(work, "pgadmin-etc");
    mkdirSync(etc, { recursive: true });
    writeFileSync(
      path.join(etc, "servers.json"),
      JSON.stringify({
        Servers: { "1": { Name: "kryonix", Group: "KRYONIX", Host: "pgbouncer", Port: 6432, MaintenanceDB: "postgres", Username: "app_user", SSLMode: "disable" } },
      }),
    );
    dockerOk([
      "run", "-d", "--name", name("pgadmin"), "--network", NETWORK,
      "-e", `PGADMIN_DEFAULT_EMAIL=${email}`,
      "-v", `${name("pgadmin-data")}:/var/lib/pgadmin`,
      "-v", `${pwFile}:/run/kryonix/pgadmin-password:ro`,
      "-v", `${etc}:/etc/kryonix:ro`,
      "-p", `127.0.0.1:${port}:80`,
      tags.pgadmin,
    ]);
    const ms = await waitHealthy(name("pgadmin"), 240_000);
    process.stdout.write(`[pgadmin] healthy after ${(ms / 1000).toFixed(1)} s\n`);
  });

  it("answers /misc/ping and serves the login page on 127.0.0.1", async () => {
    const ping = await fetch(`${base()}/misc/ping`);
    expect(ping.status).toBe(200);
    expect(await ping.text()).toBe("PING");
    const page = await fetch(`${base()}/login`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<title>pgAdmin 4/);
  });

  it("logs the user in with the password from the file, and not with another", async () => {
    const ok = await login(adminPassword);
    expect(ok.status).toBe(302);
    expect(ok.location).toMatch(/\/browser\/$/);
    const bad = await login(`${adminPassword}x`);
    expect(bad.status).toBe(302);
    expect(bad.location).toMatch(/\/login/);
  });

  it("has the server of servers.json registered for the user, with no password", () => {
    const r = sh("docker", [
      "exec", "-u", "pgadmin", name("pgadmin"),
      "/opt/pgadmin/bin/python3", "/opt/pgadmin4/setup.py", "dump-servers", "/var/lib/pgadmin/dump.json", "--user", email,
    ]);
    expect(r.code, r.out).toBe(0);
    const dump = JSON.parse(dockerOk(["exec", name("pgadmin"), "cat", "/var/lib/pgadmin/dump.json"]));
    const servers = Object.values(dump.Servers) as { Name: string; Host: string; Port: number; Username: string }[];
    expect(servers.map((s) => [s.Name, s.Host, s.Port, s.Username])).toEqual([["kryonix", "pgbouncer", 6432, "app_user"]]);
    for (const server of servers) {
      expect(Object.keys(server)).not.toContain("Password");
      expect(Object.keys(server)).not.toContain("PassFile");
    }
  });

  it("keeps the password out of docker inspect and docker logs, and serves as an unprivileged user", () => {
    expectNoSecret(name("pgadmin"), [adminPassword]);
    const status = dockerOk(["exec", name("pgadmin"), "cat", "/proc/1/status"]);
    expect(status.match(/^Uid:\s+(\d+)\s/m)![1]).not.toBe("0");
  });
});

describe("minio", () => {
  const rootUser = `kx${randomBytes(6).toString("hex")}`;
  const rootPassword = password();
  let port = 0;
  let certs = "";

  function healthLive(): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = https.get(
        { host: "127.0.0.1", port, path: "/minio/health/live", ca: readFileSync(path.join(certs, "public.crt")), timeout: 10_000 },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.on("timeout", () => req.destroy(new Error("timeout")));
    });
  }

  it("starts with TLS and credentials from files and becomes healthy", async () => {
    certs = path.join(work, "minio-certs");
    mkdirSync(certs, { recursive: true });
    const cert = sh("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
      "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-keyout", path.join(certs, "private.key"), "-out", path.join(certs, "public.crt"),
    ]);
    expect(cert.code, cert.out).toBe(0);
    chmodSync(path.join(certs, "private.key"), 0o600);
    const userFile = secretFile("minio/root-user", `${rootUser}\n`);
    const passwordFile = secretFile("minio/root-password", `${rootPassword}\n`);

    port = await freePort();
    const consolePort = await freePort();
    dockerOk([
      "run", "-d", "--name", name("minio"), "--network", NETWORK,
      "-v", `${name("minio-data")}:/data`,
      "-v", `${userFile}:/run/kryonix/minio-root-user:ro`,
      "-v", `${passwordFile}:/run/kryonix/minio-root-password:ro`,
      "-v", `${certs}:/etc/kryonix/minio-certs:ro`,
      "-p", `127.0.0.1:${port}:9000`,
      "-p", `127.0.0.1:${consolePort}:9001`,
      tags.minio,
    ]);
    await waitHealthy(name("minio"), 120_000);
  });

  it("answers /minio/health/live over https, verified with the certificate as CA", async () => {
    expect(await healthLive()).toBe(200);
  });

  it("takes the root credentials from the files (and not MinIO's defaults)", () => {
    const status = readStatus();
    const mc = status.binDirs.map((d) => path.join(d, "mc")).find((f) => sh("test", ["-x", f]).code === 0);
    expect(mc, "mc from the toolchain").toBeTruthy();
    const mcEnv = (user: string, pw: string) => ({
      ...process.env,
      MC_HOST_kx: `https://${user}:${pw}@127.0.0.1:${port}`,
      SSL_CERT_FILE: path.join(certs, "public.crt"),
    });
    const config = path.join(work, "mc");
    const ok = sh(mc!, ["--config-dir", config, "mb", "kx/imgtest"], { env: mcEnv(rootUser, rootPassword) });
    expect(ok.code, ok.out).toBe(0);
    const defaults = sh(mc!, ["--config-dir", config, "ls", "kx"], { env: mcEnv("minioadmin", "minioadmin") });
    expect(defaults.code).not.toBe(0);
  });

  it("keeps the credentials out of docker inspect and docker logs, and runs minio unprivileged", () => {
    expectNoSecret(name("minio"), [rootUser, rootPassword]);
    const inspect = JSON.parse(dockerOk(["inspect", name("minio")]))[0];
    for (const binding of Object.values(inspect.HostConfig.PortBindings) as { HostIp: string }[][]) {
      for (const b of binding) expect(b.HostIp).toBe("127.0.0.1");
    }
    const status = dockerOk(["exec", name("minio"), "cat", "/proc/1/status"]);
    expect(status.match(/^Uid:\s+(\d+)\s/m)![1]).not.toBe("0");
  });
});

describe("refusing to start unsafely", () => {
  /** Runs a container in the foreground to its exit; returns its exit code and output. */
  function runToExit(service: string, args: string[]): Result {
    return sh("docker", ["run", "--rm", "--name", name(`refuse-${service}-${randomBytes(3).toString("hex")}`), "--network", "none", ...args]);
  }

  it("postgres: no initdb without a password file", () => {
    const r = runToExit("postgres", [tags.postgres]);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/no superuser password file at \/run\/kryonix\/postgres-password/);
  });

  it("pgbouncer: no start without its configuration", () => {
    const r = runToExit("pgbouncer", [tags.pgbouncer]);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/no PgBouncer configuration at \/etc\/kryonix\/pgbouncer.ini/);
  });

  it("pgadmin: no start without the login email or the password file", () => {
    const noEmail = runToExit("pgadmin", [tags.pgadmin]);
    expect(noEmail.code).not.toBe(0);
    expect(noEmail.out).toMatch(/PGADMIN_DEFAULT_EMAIL is not set/);
    const noPassword = runToExit("pgadmin", ["-e", "PGADMIN_DEFAULT_EMAIL=admin@kryonix.com.br", tags.pgadmin]);
    expect(noPassword.code).not.toBe(0);
    expect(noPassword.out).toMatch(/no password file at \/run\/kryonix\/pgadmin-password/);
  });

  it("minio: no start with MinIO's default credentials (missing files) or with a secret in the environment", () => {
    const noFiles = runToExit("minio", [tags.minio]);
    expect(noFiles.code).not.toBe(0);
    expect(noFiles.out).toMatch(/no root user file at \/run\/kryonix\/minio-root-user/);
    const inEnv = runToExit("minio", ["-e", "MINIO_ROOT_PASSWORD=in-the-environment", tags.minio]);
    expect(inEnv.code).not.toBe(0);
    expect(inEnv.out).toMatch(/MINIO_ROOT_PASSWORD is set in the environment/);
  });
});

describe("cleanup", () => {
  it("removes every container, network and volume named with the test prefix", () => {
    cleanup();
    expect(leftovers()).toEqual([]);
  });
});
