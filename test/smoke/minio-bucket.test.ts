/**
 * The MinioBucket dynamic provider (providers/minio-bucket.ts), for real, against the kryonix
 * minio image started the way components/minio.ts would start it: root credentials and an ECDSA
 * P-256 server certificate signed by a CA of the same shape as components/pki.ts makes (with
 * openssl here, test/support/pki.ts: the provider plugins cannot run) uploaded as root-owned 0444 files at
 * the component's paths, the API published on 127.0.0.1 only, waited for healthy with a deadline.
 * The provider is then called directly (create, read, diff, update, delete), as the engine would,
 * against https://127.0.0.1:<port>, trusting only the CA.
 *
 * Every name is prefixed kryonix-btest-<random>, on its own Docker network. Needs `npm run toolchain`.
 */
import { randomBytes, randomInt } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { Client as MinioClient } from "minio";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  MINIO_CERTS_DIR,
  MINIO_CONSOLE_PORT,
  MINIO_HEALTHCHECK,
  MINIO_PORT,
  MINIO_ROOT_PASSWORD_FILE,
  MINIO_ROOT_USER_FILE,
} from "../../components/minio";
import { BACKUP_BUCKET, makeMinioBucketProvider, type MinioBucketInputs, type MinioBucketOutputs } from "../../providers/minio-bucket";
import { MINIO_REGION } from "../../model/minio-policy";
import { PG_HBA_FILE, POSTGRES_CONF_FILE, POSTGRES_HEALTHCHECK, POSTGRES_PASSWORD_FILE } from "../../components/postgres";
import { POSTGRES_DATA_DIR } from "../../model/database";
import { postgresParameters, validateStackConfig } from "../../model/config";
import { CONFIG_DIR, LOOPBACK, SECRETS_DIR, memoryMiB } from "../../model/containers";
import { renderPgHbaConf } from "../../render/pg-hba";
import { renderPostgresqlConf } from "../../model/tuning";
import { readStatus } from "../../toolchain/toolchain-state";
import { dockerLeftovers, freePort, rejection, removeDockerObjects, sh } from "../support/process";
import { dockerOk, uploadFiles, waitHealthy } from "../support/docker";
import { createCertificateAuthority, issueServerCertificate } from "../support/pki";

const PREFIX = `kryonix-btest-${randomBytes(4).toString("hex")}`;
const NETWORK = `${PREFIX}-net`;
const MINIO_CONTAINER = `${PREFIX}-minio`;
const MINIO_VOLUME = `${PREFIX}-minio-data`;
const PG_CONTAINER = `${PREFIX}-postgres`;
const PG_VOLUME = `${PREFIX}-pgdata`;

/** Like random.RandomString { length: 20, special: false, upper: false } and RandomPassword { length: 40 }. */
function generated(length: number, alphabet: string): string {
  return Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join("");
}
const accessKey = generated(20, "abcdefghijklmnopqrstuvwxyz0123456789");
const secretKey = generated(40, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");

// The stack's CA and MinIO certificate, shaped as components/pki.ts makes them (names as index.ts gives them).
const ca = createCertificateAuthority({ commonName: "kryonix-btest CA", organization: "KRYONIX", validityDays: 30 });
const server = issueServerCertificate({
  ca,
  commonName: MINIO_CONTAINER,
  dnsNames: [MINIO_CONTAINER, "minio", "localhost"],
  ipAddresses: [LOOPBACK],
  validityDays: 7,
});

let tags: Record<string, string> = {};
let work = "";
let apiPort = 0;
let inputs: MinioBucketInputs;
const logged: string[] = [];
const provider = makeMinioBucketProvider(undefined, (m) => logged.push(m));




/** A full MinIO client for what the provider does not do (writing objects), trusting only the CA. */
function s3(): MinioClient {
  return new MinioClient({
    endPoint: LOOPBACK,
    port: apiPort,
    useSSL: true,
    accessKey,
    secretKey,
    region: MINIO_REGION,
    pathStyle: true,
    transportAgent: new https.Agent({ ca: ca.certificatePem }),
  });
}


const cleanup = () => removeDockerObjects(PREFIX);

beforeAll(() => {
  tags = readStatus().images;
  expect(tags.minio, "toolchain status has no minio image: run npm run toolchain").toBeTruthy();
  expect(sh("docker", ["image", "inspect", tags.minio]).code, `${tags.minio} is not built: run npm run images`).toBe(0);
  work = mkdtempSync(path.join(os.tmpdir(), "kryonix-btest-"));
  dockerOk(["network", "create", "--label", "org.kryonix.test=minio-bucket", NETWORK]);
});

afterAll(() => {
  cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
  const left = dockerLeftovers(PREFIX);
  if (left.length) throw new Error(`left behind: ${left.join(", ")}`);
});

describe("MinioBucket against the minio image", () => {
  it("starts minio with the component's uploaded credentials and certificate, healthy over TLS", async () => {
    apiPort = await freePort();
    dockerOk([
      "create", "--name", MINIO_CONTAINER, "--hostname", MINIO_CONTAINER,
      "--label", "org.kryonix.test=minio-bucket",
      "--network", NETWORK, "--network-alias", "minio",
      "-v", `${MINIO_VOLUME}:/data`,
      "-p", `${LOOPBACK}:${apiPort}:${MINIO_PORT}`,
      "--health-cmd", MINIO_HEALTHCHECK,
      "--health-interval", "1s", "--health-timeout", "5s", "--health-retries", "6", "--health-start-period", "60s",
      tags.minio,
    ]);
    // components/minio.ts's uploads, same paths and contents.
    uploadFiles(MINIO_CONTAINER, [
      { file: MINIO_ROOT_USER_FILE, content: accessKey },
      { file: MINIO_ROOT_PASSWORD_FILE, content: secretKey },
      { file: `${MINIO_CERTS_DIR}/public.crt`, content: server.certificatePem },
      { file: `${MINIO_CERTS_DIR}/private.key`, content: server.privateKeyPem },
      { file: `${MINIO_CERTS_DIR}/CAs/kryonix-ca.crt`, content: ca.certificatePem },
    ], work);
    dockerOk(["start", MINIO_CONTAINER]);
    await waitHealthy(MINIO_CONTAINER, 120_000);
    expect(MINIO_CONSOLE_PORT).not.toBe(MINIO_PORT);
    inputs = {
      endpoint: `https://${LOOPBACK}:${apiPort}`,
      caCertificatePem: ca.certificatePem,
      accessKey,
      secretKey,
      bucket: BACKUP_BUCKET,
      versioning: true,
    };
  });

  it("checks the inputs the component passes", async () => {
    expect((await provider.check!({}, inputs)).failures).toEqual([]);
  });

  it("creates the bucket with versioning Enabled", async () => {
    const { id, outs } = await provider.create!(inputs);
    expect(id).toBe(BACKUP_BUCKET);
    expect(outs).toEqual({ ...inputs, versioningStatus: "Enabled" });
    const client = s3();
    expect(await client.bucketExists(BACKUP_BUCKET)).toBe(true);
    expect(await client.getBucketVersioning(BACKUP_BUCKET)).toMatchObject({ Status: "Enabled" });
  });

  it("a second create and a read are idempotent, and diff sees no change", async () => {
    const again = await provider.create!(inputs);
    expect(again.outs).toEqual({ ...inputs, versioningStatus: "Enabled" });
    const read = await provider.read!(BACKUP_BUCKET, again.outs);
    expect(read).toEqual({ id: BACKUP_BUCKET, props: again.outs });
    expect(await provider.diff!(BACKUP_BUCKET, read.props, inputs)).toMatchObject({ changes: false, replaces: [] });
    expect(await provider.diff!(BACKUP_BUCKET, read.props, { ...inputs, bucket: "kryonix-other" })).toMatchObject({ changes: true, replaces: ["bucket"] });
  });

  it("reads versioning suspended behind its back as drift, and an update enables it again", async () => {
    await s3().setBucketVersioning(BACKUP_BUCKET, { Status: "Suspended" });
    const read = await provider.read!(BACKUP_BUCKET, { ...inputs, versioningStatus: "Enabled" });
    expect(read.props.versioningStatus).toBe("Suspended");
    expect(await provider.diff!(BACKUP_BUCKET, read.props, inputs)).toMatchObject({ changes: true, replaces: [] });
    expect((await provider.update!(BACKUP_BUCKET, read.props, inputs)).outs.versioningStatus).toBe("Enabled");
    expect(await s3().getBucketVersioning(BACKUP_BUCKET)).toMatchObject({ Status: "Enabled" });
  });

  it("trusts only the given CA: a server certificate from another CA is refused", async () => {
    const other = createCertificateAuthority({ commonName: "not ours", validityDays: 30 });
    const err = await rejection(provider.read!(BACKUP_BUCKET, { ...inputs, caCertificatePem: other.certificatePem, versioningStatus: "Enabled" }));
    expect(err.message).toMatch(/bucketExists failed: .*(certificate|self.signed|unable to verify)/i);
    expect(err.message).not.toContain(secretKey);
  });

  it("refuses wrong credentials without showing them", async () => {
    // Another last character, whatever the generated key ends with (an "x" made the "wrong" key the right one).
    const wrong = `${secretKey.slice(0, -1)}${secretKey.endsWith("x") ? "y" : "x"}`;
    const err = await rejection(provider.create!({ ...inputs, secretKey: wrong }));
    expect(err.message).toMatch(/bucketExists failed|SignatureDoesNotMatch|Access Denied/);
    expect(err.message).not.toContain(wrong);
    expect(err.message).not.toContain(accessKey);
  });

  it("keeps a non-empty bucket on delete (even with only a delete marker left), and says why", async () => {
    const client = s3();
    await client.putObject(BACKUP_BUCKET, "archive/000000010000000000000001", Buffer.from("wal"));
    const outs: MinioBucketOutputs = { ...inputs, versioningStatus: "Enabled" };
    await provider.delete!(BACKUP_BUCKET, outs);
    expect(await client.bucketExists(BACKUP_BUCKET)).toBe(true);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/kryonix-backups .* is not empty: left in place/);
    // Deleting the object leaves its version behind a delete marker: still not empty.
    await client.removeObject(BACKUP_BUCKET, "archive/000000010000000000000001");
    await provider.delete!(BACKUP_BUCKET, outs);
    expect(await client.bucketExists(BACKUP_BUCKET)).toBe(true);
    expect(logged).toHaveLength(2);
    for (const line of logged) {
      expect(line).not.toContain(secretKey);
      expect(line).not.toContain(accessKey);
    }
  });

  it("removes an empty bucket, and a delete of a missing one is a no-op", async () => {
    const empty = { ...inputs, bucket: `${PREFIX.replace("kryonix-btest-", "kryonix-empty-")}` };
    const { outs } = await provider.create!(empty);
    expect(await s3().bucketExists(empty.bucket)).toBe(true);
    await provider.delete!(empty.bucket, outs as MinioBucketOutputs);
    expect(await s3().bucketExists(empty.bucket)).toBe(false);
    await provider.delete!(empty.bucket, outs as MinioBucketOutputs);
    expect((await provider.read!(empty.bucket, outs)).id).toBe("");
  });

  it("leaves no credential in docker inspect or the minio log", () => {
    const seen = `${dockerOk(["inspect", MINIO_CONTAINER])}\n${sh("docker", ["logs", MINIO_CONTAINER]).out}`;
    expect(seen.includes(secretKey), "the secret key is in docker inspect or the log").toBe(false);
  });
});

// ---- pgBackRest (postgres image) to that MinIO over TLS, groundwork for the backup issue ----------

describe("pgBackRest in the postgres image, to the backup bucket over TLS trusting the stack's CA", () => {
  const STANZA = "kryonix";
  const CA_FILE = `${CONFIG_DIR}/kryonix-ca.crt`;
  const KEY_FILE = `${SECRETS_DIR}/pgbackrest-s3-key`;
  const SECRET_FILE = `${SECRETS_DIR}/pgbackrest-s3-secret`;
  // The credentials reach pgbackrest only through its environment, read from the files inside the container.
  const CREDENTIALS_ENV = `PGBACKREST_REPO1_S3_KEY="$(cat ${KEY_FILE})" PGBACKREST_REPO1_S3_KEY_SECRET="$(cat ${SECRET_FILE})"`;
  const pgbackrestConf = [
    "[global]",
    "repo1-type=s3",
    "repo1-s3-endpoint=minio",
    `repo1-s3-port=${MINIO_PORT}`,
    `repo1-s3-bucket=${BACKUP_BUCKET}`,
    `repo1-s3-region=${MINIO_REGION}`,
    "repo1-s3-uri-style=path",
    `repo1-s3-ca-file=${CA_FILE}`,
    "repo1-path=/pgbackrest",
    "repo1-retention-full-type=time",
    "repo1-retention-full=30",
    "start-fast=y",
    "log-level-console=info",
    "log-level-file=off",
    "",
    `[${STANZA}]`,
    `pg1-path=${POSTGRES_DATA_DIR}`,
    "",
  ].join("\n");

  /** `pgbackrest <args>` as postgres in the postgres container, the credentials in its environment only. */
  function pgbackrest(args: string): { code: number; out: string } {
    const r = sh("docker", ["exec", "-u", "postgres", PG_CONTAINER, "bash", "-c", `${CREDENTIALS_ENV} exec pgbackrest ${args}`]);
    process.stdout.write(`[pgbackrest ${args}] exit ${r.code}\n${r.out}\n`);
    return { code: r.code, out: r.out };
  }
  const psql = (sql: string) => dockerOk(["exec", "-u", "postgres", PG_CONTAINER, "psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql]);

  it("starts postgres with the dev stack's files on the same network", async () => {
    const config = validateStackConfig({}, "dev");
    dockerOk([
      "create", "--name", PG_CONTAINER, "--hostname", PG_CONTAINER,
      "--label", "org.kryonix.test=minio-bucket",
      "--network", NETWORK, "--network-alias", "postgres",
      "--memory", `${memoryMiB(config.postgresMemoryBytes)}m`,
      "--shm-size", "256m",
      "-v", `${PG_VOLUME}:${POSTGRES_DATA_DIR}`,
      "--health-cmd", POSTGRES_HEALTHCHECK.join(" "),
      "--health-interval", "1s", "--health-timeout", "5s", "--health-retries", "6", "--health-start-period", "120s",
      "--stop-signal", "SIGINT", "--stop-timeout", "60",
      tags.postgres,
    ]);
    uploadFiles(PG_CONTAINER, [
      { file: POSTGRES_PASSWORD_FILE, content: generated(32, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") },
      { file: POSTGRES_CONF_FILE, content: renderPostgresqlConf(postgresParameters(config)) },
      { file: PG_HBA_FILE, content: renderPgHbaConf() },
      { file: CA_FILE, content: ca.certificatePem },
      { file: KEY_FILE, content: accessKey },
      { file: SECRET_FILE, content: secretKey },
      { file: "/etc/pgbackrest/pgbackrest.conf", content: pgbackrestConf },
    ], work);
    dockerOk(["start", PG_CONTAINER]);
    await waitHealthy(PG_CONTAINER, 180_000);
    expect(pgbackrest("version").out).toContain("pgBackRest 2.55.1");
  });

  it("stanza-create", () => {
    const r = pgbackrest(`--stanza=${STANZA} stanza-create`);
    expect(r.code, r.out).toBe(0);
  });

  it("archives WAL through archive_command (archive_mode after a restart): check", async () => {
    psql("ALTER SYSTEM SET archive_mode = on");
    psql(`ALTER SYSTEM SET archive_command = '${CREDENTIALS_ENV.replace(/'/g, "''")} pgbackrest --stanza=${STANZA} archive-push %p'`);
    dockerOk(["restart", "--time", "60", PG_CONTAINER]);
    await waitHealthy(PG_CONTAINER, 180_000);
    expect(psql("SHOW archive_mode")).toBe("on");
    // The setting names files, never their content.
    expect(psql("SHOW archive_command")).not.toContain(secretKey);
    const r = pgbackrest(`--stanza=${STANZA} check`);
    expect(r.code, r.out).toBe(0);
  });

  it("takes a full backup, and info lists it", () => {
    const backup = pgbackrest(`--stanza=${STANZA} --type=full backup`);
    expect(backup.code, backup.out).toBe(0);
    const info = pgbackrest(`--stanza=${STANZA} --output=json info`);
    expect(info.code, info.out).toBe(0);
    const stanzas = JSON.parse(info.out.slice(info.out.indexOf("[")));
    expect(stanzas[0].status.message).toBe("ok");
    expect(stanzas[0].backup.map((b: { type: string }) => b.type)).toEqual(["full"]);
    pgbackrest(`--stanza=${STANZA} info`);
  });

  it("the backup is in the versioned bucket, and no credential is in docker inspect or the postgres log", async () => {
    const names: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const stream = s3().listObjectsV2(BACKUP_BUCKET, "pgbackrest/", true);
      stream.on("data", (o) => names.push(o.name ?? ""));
      stream.on("error", reject);
      stream.on("end", () => resolve());
    });
    expect(names.some((n) => n.startsWith(`pgbackrest/backup/${STANZA}/`))).toBe(true);
    expect(names.some((n) => n.startsWith(`pgbackrest/archive/${STANZA}/`))).toBe(true);
    const seen = `${dockerOk(["inspect", PG_CONTAINER])}\n${sh("docker", ["logs", PG_CONTAINER]).out}`;
    expect(seen.includes(secretKey)).toBe(false);
    expect(seen.includes(accessKey)).toBe(false);
  });
});

describe("cleanup", () => {
  it("removes every container, network and volume named with the test prefix", () => {
    cleanup();
    expect(dockerLeftovers(PREFIX)).toEqual([]);
  });
});
