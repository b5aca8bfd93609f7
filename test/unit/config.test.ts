import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { CONFIG_KEYS, PROXY_BIND_ALLOWED, PUBLISH_POSTGRES_ALLOWED, StackConfig, certificateProblems, postgresParameters, resourceName, stackOwnedParameters, stackOwnedReason, validateStackConfig } from "../../model/config";
import { KNOWN_PARAMETERS, containerParameters } from "../../model/tuning";
import { postgresTlsParameters } from "../../model/tls";
import { postgresConf } from "../../components/postgres";
import { kryonixConfigValues } from "../../io/pulumi-config";
import { DEFAULT_WAIVERS, defaultWaivers } from "../../model/cis";
import { DEFAULT_THRESHOLDS } from "../../model/thresholds";
import { ConfigError } from "../../model/messages";
import { BUCKET_NAME_ALLOWED } from "../../model/minio-policy";
import { GiB, MiB } from "../../model/size";

const DEV_DEFAULTS: StackConfig = {
  stack: "dev",
  postgresMemoryBytes: GiB,
  postgresCpus: 2,
  pgbouncerMemoryBytes: 256 * MiB,
  pgadminMemoryBytes: 512 * MiB,
  minioMemoryBytes: 512 * MiB,
  proxyMemoryBytes: 64 * MiB,
  prometheusMemoryBytes: 256 * MiB,
  restoreDrillMemoryBytes: 512 * MiB,
  restoreDrillCpus: 1,
  postgresPort: 15432,
  publishPostgres: true,
  pgbouncerPort: 16432,
  pgadminPort: 15050,
  minioPort: 19000,
  minioConsolePort: 19001,
  prometheusPort: 19090,
  pgadminEmail: "admin@kryonix.com.br",
  pgadminPublicUrl: "https://pgadmin.kryonix.localhost:15443",
  pgadminHost: "pgadmin.kryonix.localhost",
  pgadminPublicPort: 15443,
  proxyHttpPort: 15080,
  proxyHttpsPort: 15443,
  proxyBindAddress: "127.0.0.1",
  backupRetentionDays: 30,
  backupBucket: "kryonix-backups",
  archiveTimeoutSeconds: 60,
  schedules: { backupFull: "0 1 * * *", backupDiff: "0 7,13,19 * * *", partitions: "0 3 1 * *", restoreDrill: "0 4 * * 0" },
  storage: "ssd",
  postgresOverrides: {},
  maxConnections: 100,
  protectData: false,
  certRenewBeforeDays: 30,
  cisWaivers: { ...DEFAULT_WAIVERS },
  roleRotations: {},
  healthThresholds: DEFAULT_THRESHOLDS,
  prometheusRetentionDays: 15,
  serverLog: "file",
  serverLogRetentionDays: 14,
  serverLogMaxBytes: 2 * GiB,
  topology: "single",
  synchronousMode: true,
  replicaLagBoundBytes: 1024 * 1024,
  postgresReadPort: 15433,
};

function problemsOf(raw: Record<string, unknown>, stack = "dev"): string[] {
  try {
    validateStackConfig(raw, stack);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  throw new Error("expected validateStackConfig to throw");
}

describe("validateStackConfig defaults", () => {
  it("applies dev defaults to an empty configuration", () => {
    expect(validateStackConfig({}, "dev")).toEqual(DEV_DEFAULTS);
  });

  it("protects data on prod and publishes PostgreSQL (on 127.0.0.1) there too", () => {
    expect(validateStackConfig({}, "prod")).toEqual({
      ...DEV_DEFAULTS,
      stack: "prod",
      publishPostgres: true,
      protectData: true,
      pgadminPublicUrl: "https://pgadmin.kryonix.com.br",
      pgadminHost: "pgadmin.kryonix.com.br",
      pgadminPublicPort: 443,
      proxyHttpPort: 80,
      proxyHttpsPort: 443,
    });
  });

  it("treats only the stack named prod as production", () => {
    expect(validateStackConfig({}, "prod-test")).toMatchObject({ publishPostgres: true, protectData: false });
    expect(validateStackConfig({}, "staging")).toMatchObject({ publishPostgres: true, protectData: false });
  });

  it("accepts publishPostgres true on prod and lets dev opt in to protection", () => {
    expect(validateStackConfig({ "kryonix:publishPostgres": "true" }, "prod").publishPostgres).toBe(true);
    expect(validateStackConfig({ "kryonix:publishPostgres": true }, "dev").publishPostgres).toBe(true);
    expect(validateStackConfig({ "kryonix:protectData": "true" }, "dev").protectData).toBe(true);
  });
});

describe("validateStackConfig parsing", () => {
  it("reads Pulumi's string values", () => {
    const config = validateStackConfig(
      {
        "kryonix:postgresMemory": "8GiB",
        "kryonix:postgresCpus": "4",
        "kryonix:pgbouncerMemory": "64MiB",
        "kryonix:pgadminMemory": "1gb",
        "kryonix:minioMemory": "1073741824",
        "kryonix:restoreDrillMemory": "768MiB",
        "kryonix:restoreDrillCpus": "0.5",
        "kryonix:postgresPort": "25432",
        "kryonix:publishPostgres": "TRUE",
        "kryonix:pgbouncerPort": "26432",
        "kryonix:pgadminPort": "25050",
        "kryonix:minioPort": "29000",
        "kryonix:minioConsolePort": "29001",
        "kryonix:pgadminEmail": "dba@kryonix.com.br",
        "kryonix:pgadminPublicUrl": "https://pgadmin.kryonix.com.br/",
        "kryonix:backupRetentionDays": "7",
        "kryonix:backupBucket": "kryonix-prod-backups",
        "kryonix:archiveTimeoutSeconds": "120",
        "kryonix:backupFullSchedule": " 30  2 * * * ",
        "kryonix:backupDiffSchedule": "OFF",
        "kryonix:partitionsSchedule": "@monthly",
        "kryonix:restoreDrillSchedule": "0 5 * * 6",
        "kryonix:storage": "hdd",
        "kryonix:postgresOverrides": '{"work_mem":"32MiB","max_connections":"200"}',
        "kryonix:protectData": "TRUE",
        "kryonix:certRenewBeforeDays": "14",
        "kryonix:serverLog": "docker",
        "kryonix:serverLogRetentionDays": "30",
        "kryonix:serverLogMaxSize": "512MiB",
      },
      "staging",
    );
    expect(config).toEqual({
      stack: "staging",
      postgresMemoryBytes: 8 * GiB,
      postgresCpus: 4,
      pgbouncerMemoryBytes: 64 * MiB,
      pgadminMemoryBytes: GiB,
      minioMemoryBytes: GiB,
      restoreDrillMemoryBytes: 768 * MiB,
      restoreDrillCpus: 0.5,
      postgresPort: 25432,
      publishPostgres: true,
      pgbouncerPort: 26432,
      pgadminPort: 25050,
      minioPort: 29000,
      minioConsolePort: 29001,
      prometheusPort: 19090,
      prometheusMemoryBytes: 256 * MiB,
      proxyMemoryBytes: 64 * MiB,
      pgadminEmail: "dba@kryonix.com.br",
      pgadminPublicUrl: "https://pgadmin.kryonix.com.br",
      pgadminHost: "pgadmin.kryonix.com.br",
      pgadminPublicPort: 443,
      proxyHttpPort: 15080,
      proxyHttpsPort: 15443,
      proxyBindAddress: "127.0.0.1",
      backupRetentionDays: 7,
      backupBucket: "kryonix-prod-backups",
      archiveTimeoutSeconds: 120,
      schedules: { backupFull: "30 2 * * *", backupDiff: "off", partitions: "@monthly", restoreDrill: "0 5 * * 6" },
      storage: "hdd",
      postgresOverrides: { work_mem: "32MB", max_connections: "200" },
      maxConnections: 200,
      protectData: true,
      certRenewBeforeDays: 14,
      cisWaivers: defaultWaivers("docker"),
      roleRotations: {},
      healthThresholds: { ...DEFAULT_THRESHOLDS, serverLogMaxBytes: 512 * MiB },
      prometheusRetentionDays: 15,
      serverLog: "docker",
      serverLogRetentionDays: 30,
      serverLogMaxBytes: 512 * MiB,
      topology: "single",
      synchronousMode: true,
      replicaLagBoundBytes: 1024 * 1024,
      postgresReadPort: 15433,
    });
  });

  it("reads parsed JSON values and keys without the prefix", () => {
    const config = validateStackConfig(
      { postgresCpus: 0.5, postgresPort: 25432, publishPostgres: true, postgresOverrides: { jit: false } },
      "dev",
    );
    expect(config).toMatchObject({ postgresCpus: 0.5, postgresPort: 25432, publishPostgres: true, postgresOverrides: { jit: "off" } });
  });

  it("reads certRenewBeforeDays from 1 to 365 days", () => {
    expect(validateStackConfig({ "kryonix:certRenewBeforeDays": "1" }, "dev").certRenewBeforeDays).toBe(1);
    expect(validateStackConfig({ certRenewBeforeDays: 365 }, "prod").certRenewBeforeDays).toBe(365);
    expect(validateStackConfig({}, "prod").certRenewBeforeDays).toBe(30);
  });

  it("ignores other namespaces, which belong to providers", () => {
    expect(validateStackConfig({ "docker:host": "unix:///var/run/docker.sock", "aws:region": "sa-east-1" }, "dev")).toEqual(DEV_DEFAULTS);
  });

  it("treats an empty pgadminPublicUrl as unset: the default name under localhost, at the proxy's HTTPS port", () => {
    expect(validateStackConfig({ "kryonix:pgadminPublicUrl": "" }, "dev").pgadminPublicUrl).toBe("https://pgadmin.kryonix.localhost:15443");
    expect(validateStackConfig({ "kryonix:proxyHttpsPort": "443" }, "dev").pgadminPublicUrl).toBe("https://pgadmin.kryonix.localhost");
    expect(validateStackConfig({ "kryonix:pgadminPublicUrl": "https://PGAdmin.Example.com:8443" }, "dev")).toMatchObject({
      pgadminPublicUrl: "https://pgadmin.example.com:8443",
      pgadminHost: "pgadmin.example.com",
      pgadminPublicPort: 8443,
    });
  });
});

describe("validateStackConfig errors", () => {
  it.each<[string, unknown, string]>([
    ["postgresMemory", "lots", 'kryonix:postgresMemory: "lots" is invalid: a whole number of bytes, or a number followed by kB'],
    ["postgresMemory", "128MiB", 'kryonix:postgresMemory: "128MiB" is invalid: a size of at least 256MB'],
    ["pgbouncerMemory", "8MiB", 'kryonix:pgbouncerMemory: "8MiB" is invalid: a size of at least 16MB'],
    ["pgadminMemory", "128MiB", 'kryonix:pgadminMemory: "128MiB" is invalid: a size of at least 256MB'],
    ["minioMemory", true, "kryonix:minioMemory: true is invalid: a whole number of bytes"],
    ["postgresCpus", "0.25", 'kryonix:postgresCpus: "0.25" is invalid: a number from 0.5 to 64'],
    ["postgresCpus", "65", 'kryonix:postgresCpus: "65" is invalid: a number from 0.5 to 64'],
    ["postgresCpus", "two", 'kryonix:postgresCpus: "two" is invalid: a number from 0.5 to 64'],
    ["postgresPort", "80", 'kryonix:postgresPort: "80" is invalid: an integer from 1024 to 65535'],
    ["pgbouncerPort", 70000, "kryonix:pgbouncerPort: 70000 is invalid: an integer from 1024 to 65535"],
    ["pgadminPort", "5050.5", 'kryonix:pgadminPort: "5050.5" is invalid: an integer from 1024 to 65535'],
    ["minioPort", "", 'kryonix:minioPort: "" is invalid: an integer from 1024 to 65535'],
    ["minioConsolePort", "http", 'kryonix:minioConsolePort: "http" is invalid: an integer from 1024 to 65535'],
    ["publishPostgres", "yes", `kryonix:publishPostgres: "yes" is invalid: ${PUBLISH_POSTGRES_ALLOWED}`],
    ["protectData", 1, "kryonix:protectData: 1 is invalid: true or false"],
    ["certRenewBeforeDays", "0", 'kryonix:certRenewBeforeDays: "0" is invalid: an integer from 1 to 365'],
    ["certRenewBeforeDays", "366", 'kryonix:certRenewBeforeDays: "366" is invalid: an integer from 1 to 365'],
    ["certRenewBeforeDays", "7.5", 'kryonix:certRenewBeforeDays: "7.5" is invalid: an integer from 1 to 365'],
    ["certRenewBeforeDays", "soon", 'kryonix:certRenewBeforeDays: "soon" is invalid: an integer from 1 to 365'],
    ["pgadminEmail", "admin", 'kryonix:pgadminEmail: "admin" is invalid: an e-mail address such as admin@kryonix.com.br'],
    ["pgadminEmail", "admin@localhost", 'kryonix:pgadminEmail: "admin@localhost" is invalid: an e-mail address'],
    ["pgadminEmail", "admin@kryonix.local", 'kryonix:pgadminEmail: "admin@kryonix.local" is invalid: an e-mail address on a public domain; pgAdmin rejects .arpa, .invalid, .local'],
    ["pgadminPublicUrl", "ftp://kryonix.com.br", 'kryonix:pgadminPublicUrl: "ftp://kryonix.com.br" is invalid: an https:// URL at a DNS name'],
    ["pgadminPublicUrl", "http://pgadmin.kryonix.com.br", 'kryonix:pgadminPublicUrl: "http://pgadmin.kryonix.com.br" is invalid: an https:// URL'],
    ["pgadminPublicUrl", "pgadmin.kryonix.com.br", 'kryonix:pgadminPublicUrl: "pgadmin.kryonix.com.br" is invalid: an https:// URL'],
    ["pgadminPublicUrl", "https://admin:pw@kryonix.com.br", "no path, query, user name or password"],
    ["pgadminPublicUrl", "https://kryonix.com.br/pgadmin", 'kryonix:pgadminPublicUrl: "https://kryonix.com.br/pgadmin" is invalid'],
    ["pgadminPublicUrl", "https://pgadmin_x.kryonix.com.br", "is invalid: an https:// URL at a DNS name"],
    ["pgadminPublicUrl", "https://192.168.0.10", 'kryonix:pgadminPublicUrl: "https://192.168.0.10" is invalid: an https:// URL at a DNS name'],
    ["pgadminPublicUrl", "https://localhost", 'kryonix:pgadminPublicUrl: "https://localhost" is invalid'],
    ["proxyBindAddress", "0.0.0.0", `kryonix:proxyBindAddress: "0.0.0.0" is invalid: ${PROXY_BIND_ALLOWED}`],
    ["proxyBindAddress", "192.168.0.10", `kryonix:proxyBindAddress: "192.168.0.10" is invalid: ${PROXY_BIND_ALLOWED}`],
    ["proxyHttpsPort", "0", 'kryonix:proxyHttpsPort: "0" is invalid: an integer from 1 to 65535'],
    ["proxyHttpPort", "15443", "kryonix:proxyHttpsPort: 15443 is invalid: already used by kryonix:proxyHttpPort"],
    ["proxyMemory", "1MiB", 'kryonix:proxyMemory: "1MiB" is invalid: a size of at least 16MB'],
    ["backupRetentionDays", "0", 'kryonix:backupRetentionDays: "0" is invalid: an integer from 1 to 3650'],
    ["backupRetentionDays", "3651", 'kryonix:backupRetentionDays: "3651" is invalid: an integer from 1 to 3650'],
    ["backupRetentionDays", "1.5", 'kryonix:backupRetentionDays: "1.5" is invalid: an integer from 1 to 3650'],
    ["backupRetentionDays", "-7", 'kryonix:backupRetentionDays: "-7" is invalid: an integer from 1 to 3650'],
    ["backupRetentionDays", "100000", 'kryonix:backupRetentionDays: "100000" is invalid: an integer from 1 to 3650'],
    ["backupBucket", "Kryonix_Backups", `kryonix:backupBucket: "Kryonix_Backups" is invalid: ${BUCKET_NAME_ALLOWED}`],
    ["backupBucket", "ab", 'kryonix:backupBucket: "ab" is invalid: 3 to 63 characters'],
    ["backupBucket", "192.168.0.1", 'kryonix:backupBucket: "192.168.0.1" is invalid: 3 to 63'],
    ["backupBucket", "xn--backups", 'kryonix:backupBucket: "xn--backups" is invalid'],
    ["backupBucket", "backups-s3alias", 'kryonix:backupBucket: "backups-s3alias" is invalid'],
    ["backupBucket", "my..backups", 'kryonix:backupBucket: "my..backups" is invalid'],
    ["backupBucket", "-backups", 'kryonix:backupBucket: "-backups" is invalid'],
    ["archiveTimeoutSeconds", "9", 'kryonix:archiveTimeoutSeconds: "9" is invalid: an integer from 10 to 3600'],
    ["archiveTimeoutSeconds", "3601", 'kryonix:archiveTimeoutSeconds: "3601" is invalid: an integer from 10 to 3600'],
    ["archiveTimeoutSeconds", "sixty", 'kryonix:archiveTimeoutSeconds: "sixty" is invalid: an integer from 10 to 3600'],
    ["storage", "nvme", 'kryonix:storage: "nvme" is invalid: one of ssd, hdd'],
    ["backupFullSchedule", "0 25 * * *", 'kryonix:backupFullSchedule: "0 25 * * *" is invalid: a cron schedule in UTC: five fields "minute hour day-of-month month day-of-week"'],
    ["backupFullSchedule", "0 25 * * *", "(hour \"25\": 25 is outside 0-23)"],
    ["backupFullSchedule", "off", 'kryonix:backupFullSchedule: "off" is invalid: a cron schedule in UTC'],
    ["backupDiffSchedule", "daily", '(1 field(s), not 5)'],
    ["partitionsSchedule", "0 3 1 * * *", 'kryonix:partitionsSchedule: "0 3 1 * * *" is invalid: a cron schedule in UTC'],
    ["restoreDrillSchedule", "0 4 * * sun", 'kryonix:restoreDrillSchedule: "0 4 * * sun" is invalid'],
    ["restoreDrillSchedule", "@yearly", "unknown macro @yearly"],
    ["postgresOverrides", "{not json", 'kryonix:postgresOverrides: "{not json" is invalid: an object mapping PostgreSQL parameter names'],
    ["postgresOverrides", "[1]", 'kryonix:postgresOverrides: "[1]" is invalid: an object mapping'],
    ["postgresOverrides", { work_mem: "lots" }, 'kryonix:postgresOverrides.work_mem: "lots" is invalid: '],
    ["postgresOverrides", { wal_level: "minimal" }, 'kryonix:postgresOverrides.wal_level: "minimal" is invalid: replica or logical'],
    ["postgresOverrides", { fsync: "off" }, 'kryonix:postgresOverrides: "fsync" is invalid: not a parameter the stack manages'],
  ])("rejects %s = %j", (key, value, message) => {
    const problems = problemsOf({ [`kryonix:${key}`]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(message);
  });

  it.each<[string, unknown]>([
    ["prod", "false"],
    ["prod", false],
    ["dev", " False "],
  ])("rejects publishPostgres false on %s (%j): PostgreSQL is bound to 127.0.0.1 only", (stack, value) => {
    expect(problemsOf({ "kryonix:publishPostgres": value }, stack)).toEqual([
      "kryonix:publishPostgres: false is invalid: true (PostgreSQL is bound to 127.0.0.1 only; the postgresql provider runs on the host and a container's own IP is never addressed from the host)",
    ]);
  });

  it("rejects shared_buffers above 40% of the configured postgres memory", () => {
    expect(problemsOf({ "kryonix:postgresMemory": "2GiB", "kryonix:postgresOverrides": { shared_buffers: "1GB" } })).toEqual([
      'kryonix:postgresOverrides.shared_buffers: "1GB" is invalid: shared_buffers 1GB exceeds 40% of the 2GB postgres memory limit (at most 819MB); raise kryonix:postgresMemory instead',
    ]);
    expect(validateStackConfig({ "kryonix:postgresMemory": "4GiB", "kryonix:postgresOverrides": { shared_buffers: "1GB" } }, "dev").postgresOverrides).toEqual({
      shared_buffers: "1GB",
    });
  });

  it("rejects duplicate ports, naming both keys", () => {
    expect(problemsOf({ "kryonix:pgbouncerPort": "15432" })).toEqual([
      "kryonix:pgbouncerPort: 15432 is invalid: already used by kryonix:postgresPort; every port must be different",
    ]);
    expect(problemsOf({ "kryonix:minioPort": 20000, "kryonix:minioConsolePort": 20000 })).toEqual([
      "kryonix:minioConsolePort: 20000 is invalid: already used by kryonix:minioPort; every port must be different",
    ]);
  });

  it("rejects unknown keys with the list of known keys", () => {
    expect(problemsOf({ "kryonix:postgresMemmory": "2GiB" })).toEqual([
      `kryonix:postgresMemmory: "2GiB" is invalid: unknown key; known keys: ${CONFIG_KEYS.join(", ")}`,
    ]);
  });

  it.each(["adminPassword", "postgresPassword", "minioSecretKey", "minioAccessKey", "apiToken", "pgadminPass", "jwtSecret", "dbCredentials"])(
    "rejects the secret-looking key %s without echoing its value",
    (key) => {
      const problems = problemsOf({ [`kryonix:${key}`]: "hunter2" }, "prod");
      expect(problems).toEqual([`kryonix:${key}: secrets are generated by the stack; remove kryonix:${key} from Pulumi.prod.yaml`]);
      expect(problems.join("\n")).not.toContain("hunter2");
    },
  );

  it("rejects Pulumi secure values under any key", () => {
    expect(problemsOf({ "kryonix:pgadminEmail": { secure: "v1:abc" } })).toEqual([
      "kryonix:pgadminEmail: secrets are generated by the stack; remove kryonix:pgadminEmail from Pulumi.dev.yaml",
    ]);
  });

  it("rejects a key given both with and without the prefix", () => {
    expect(problemsOf({ "kryonix:postgresPort": "20000", postgresPort: "20001" })[0]).toContain(
      "kryonix:postgresPort: \"20001\" is invalid: set twice",
    );
  });

  it("rejects invalid stack names", () => {
    expect(problemsOf({}, "Prod")).toEqual([
      "Pulumi stack name: \"Prod\" is invalid: 1 to 31 characters: lower-case letters, digits and '-', starting with a letter or digit",
    ]);
  });

  it("reports every problem in one error, one line each", () => {
    let error: unknown;
    try {
      validateStackConfig(
        {
          "kryonix:postgresMemory": "tiny",
          "kryonix:postgresPort": "80",
          "kryonix:pgadminPort": "16432",
          "kryonix:storage": "tape",
          "kryonix:rootPassword": "s3cret",
          "kryonix:colour": "blue",
        },
        "dev",
      );
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const lines = (error as Error).message.split("\n");
    expect(lines[0]).toBe("Pulumi.dev.yaml has 6 invalid kryonix setting(s):");
    expect(lines.slice(1)).toHaveLength(6);
    for (const line of lines.slice(1)) expect(line).toMatch(/^kryonix:\w+: /);
    expect((error as Error).message).not.toContain("s3cret");
  });
});

describe("postgresParameters", () => {
  it("gives the seed configuration for dev defaults", () => {
    expect(postgresParameters(validateStackConfig({}, "dev"))).toMatchObject({
      shared_buffers: "256MB",
      effective_cache_size: "1GB",
      work_mem: "4MB",
      max_connections: "100",
    });
  });

  it("sizes work_mem for an overridden max_connections and applies overrides last", () => {
    const config = validateStackConfig(
      { "kryonix:postgresMemory": "8GiB", "kryonix:postgresCpus": "4", "kryonix:postgresOverrides": { max_connections: 20, log_min_duration_statement: "250ms" } },
      "dev",
    );
    expect(postgresParameters(config)).toMatchObject({ max_connections: "20", work_mem: "51MB", log_min_duration_statement: "250ms" });
  });
});

describe("resourceName", () => {
  it.each([
    ["dev", "postgres", "kryonix-dev-postgres"],
    ["prod", "pgbouncer", "kryonix-prod-pgbouncer"],
    ["pr-42", "pgadmin", "kryonix-pr-42-pgadmin"],
    ["0abc", "minio", "kryonix-0abc-minio"],
  ] as const)("names %s/%s", (stack, service, name) => {
    expect(resourceName(stack, service)).toBe(name);
  });

  it("rejects unknown services", () => {
    expect(() => resourceName("dev", "redis" as "postgres")).toThrow('service: "redis" is invalid: one of postgres, pgbouncer, pgadmin, minio');
  });

  it.each(["", "Dev", "-dev", "dev_1", "a".repeat(32), "dev stack"])("rejects the stack name %j", (stack) => {
    expect(() => resourceName(stack, "postgres")).toThrow(/^Pulumi stack name: .* is invalid: 1 to 31 characters/);
  });

  it("accepts a 31-character stack name", () => {
    expect(resourceName("a".repeat(31), "minio")).toBe(`kryonix-${"a".repeat(31)}-minio`);
  });
});

describe("the proxy's settings", () => {
  it("binds 127.0.0.1 by default everywhere, 0.0.0.0 only in prod", () => {
    expect(validateStackConfig({}, "prod").proxyBindAddress).toBe("127.0.0.1");
    expect(validateStackConfig({ "kryonix:proxyBindAddress": "0.0.0.0" }, "prod").proxyBindAddress).toBe("0.0.0.0");
    expect(problemsOf({ "kryonix:proxyBindAddress": "0.0.0.0" }, "staging")).toEqual([`kryonix:proxyBindAddress: "0.0.0.0" is invalid: ${PROXY_BIND_ALLOWED}`]);
    expect(problemsOf({ "kryonix:proxyBindAddress": "::" }, "prod")).toEqual([`kryonix:proxyBindAddress: "::" is invalid: ${PROXY_BIND_ALLOWED}`]);
  });
});

describe("a proxy certificate from config", () => {
  let dir: string;
  const host = "pgadmin.kryonix.com.br";
  const make = (name: string, cn: string, extra: string[] = []) => {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${cn}`,
      "-addext", `subjectAltName=DNS:${cn}`, "-keyout", path.join(dir, `${name}.key`), "-out", path.join(dir, `${name}.crt`), ...extra,
    ], { stdio: "ignore" });
    return { cert: readFileSync(path.join(dir, `${name}.crt`), "utf8"), key: readFileSync(path.join(dir, `${name}.key`), "utf8") };
  };
  let good: { cert: string; key: string };
  let other: { cert: string; key: string };
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "kryonix-config-cert-"));
    good = make("good", host, ["-days", "90"]);
    other = make("other", "other.example.com", ["-days", "90"]);
    // After the certificates exist: their notBefore is the second they were made.
    now = new Date();
    in200Days = new Date(now.getTime() + 200 * 86400_000);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const secret = (value: string) => ({ secure: "[secret]", value });
  let now: Date;
  let in200Days: Date;
  const problems = (raw: Record<string, unknown>, at = now) => {
    try {
      validateStackConfig({ "kryonix:pgadminPublicUrl": `https://${host}`, ...raw }, "dev", at);
      return [];
    } catch (error) {
      return [...(error as ConfigError).problems];
    }
  };

  it("accepts a matching certificate and key set as secrets", () => {
    const config = validateStackConfig(
      { "kryonix:pgadminPublicUrl": `https://${host}`, "kryonix:proxyCertificate": secret(good.cert), "kryonix:proxyCertificateKey": secret(good.key) },
      "dev",
    );
    expect(config.proxyCertificate).toBe(good.cert.trim() + "\n");
    expect(config.proxyCertificateKey).toBe(good.key.trim() + "\n");
  });

  it("passes the values of the proxy's secret keys through kryonixConfigValues, and only theirs", () => {
    const values = kryonixConfigValues(
      { "kryonix:proxyCertificateKey": "KEY", "kryonix:proxyCertificate": "CERT", "kryonix:adminPassword": "pw" },
      () => true,
    );
    expect(values).toEqual({
      "kryonix:proxyCertificateKey": { secure: "[secret]", value: "KEY" },
      "kryonix:proxyCertificate": { secure: "[secret]", value: "CERT" },
      "kryonix:adminPassword": { secure: "[secret]" },
    });
  });

  it("rejects a key that is not the certificate's, without showing it", () => {
    const found = problems({ "kryonix:proxyCertificate": secret(good.cert), "kryonix:proxyCertificateKey": secret(other.key) });
    expect(found).toEqual([expect.stringContaining("kryonix:proxyCertificateKey: does not match kryonix:proxyCertificate")]);
    expect(found.join("\n")).not.toContain(other.key.split("\n")[1]);
  });

  it("rejects a certificate for another host name", () => {
    expect(problems({ "kryonix:proxyCertificate": secret(other.cert), "kryonix:proxyCertificateKey": secret(other.key) })).toEqual([
      expect.stringMatching(/^kryonix:proxyCertificate: is not valid for pgadmin\.kryonix\.com\.br \(the host of kryonix:pgadminPublicUrl\); it names DNS:other\.example\.com/),
    ]);
  });

  it("rejects an expired certificate", () => {
    expect(problems({ "kryonix:proxyCertificate": secret(good.cert), "kryonix:proxyCertificateKey": secret(good.key) }, in200Days)).toEqual([
      expect.stringMatching(/^kryonix:proxyCertificate: expired on \d{4}-/),
    ]);
    expect(certificateProblems(good.cert, good.key, host, new Date(0))).toEqual([expect.stringMatching(/^kryonix:proxyCertificate: is not valid before/)]);
  });

  it("rejects a key that is not a secret, text that is not PEM, and one of the two alone", () => {
    expect(problems({ "kryonix:proxyCertificate": good.cert, "kryonix:proxyCertificateKey": good.key })).toEqual([
      expect.stringMatching(/^kryonix:proxyCertificateKey: must be a Pulumi secret \(value not shown\): pulumi config set --secret/),
    ]);
    expect(problems({ "kryonix:proxyCertificate": secret("hello"), "kryonix:proxyCertificateKey": secret(good.key) })).toEqual([
      "kryonix:proxyCertificate: is not PEM text (value not shown)",
    ]);
    expect(problems({ "kryonix:proxyCertificate": secret(good.cert) })).toEqual([expect.stringMatching(/^kryonix:proxyCertificateKey: missing/)]);
    expect(problems({ "kryonix:proxyCertificateKey": secret(good.key) })).toEqual([expect.stringMatching(/^kryonix:proxyCertificate: missing/)]);
  });
});

describe("kryonix:cisWaivers", () => {
  const reason = "the container's log is collected by Docker's json-file driver";
  it("defaults to the container and pgaudit waivers, each with its reason", () => {
    expect(validateStackConfig({}, "dev").cisWaivers).toEqual(DEFAULT_WAIVERS);
    for (const r of Object.values(DEFAULT_WAIVERS)) expect(r.length).toBeGreaterThan(20);
  });
  it("reads an object or its JSON text, replacing the defaults", () => {
    expect(validateStackConfig({ "kryonix:cisWaivers": { "3.1.3": reason } }, "dev").cisWaivers).toEqual({ "3.1.3": reason });
    expect(validateStackConfig({ "kryonix:cisWaivers": JSON.stringify({ "3.1.3": ` ${reason} ` }) }, "dev").cisWaivers).toEqual({ "3.1.3": reason });
    expect(validateStackConfig({ "kryonix:cisWaivers": "{}" }, "dev").cisWaivers).toEqual({});
  });
  it.each([
    [{ "3.1.3": "" }, /kryonix:cisWaivers\.3\.1\.3: .*a written reason of at least 20 characters/],
    [{ "3.1.3": "because" }, /kryonix:cisWaivers\.3\.1\.3: .*a written reason/],
    [{ "3.1.3": null }, /kryonix:cisWaivers\.3\.1\.3: .*a written reason/],
    [{ "3.1.3": 42 }, /kryonix:cisWaivers\.3\.1\.3: .*a written reason/],
    [{ "9.9": reason }, /kryonix:cisWaivers\.9\.9: .*a control npm run audit checks/],
    [["3.1.3"], /kryonix:cisWaivers: .*an object mapping a control number/],
    ["not json", /kryonix:cisWaivers: .*a JSON object/],
  ])("refuses %j, naming the key", (value, message) => {
    expect(problemsOf({ "kryonix:cisWaivers": value }).join("\n")).toMatch(message);
  });
});

describe("kryonix:roleRotations", () => {
  it("is empty by default and reads counts per login role", () => {
    expect(validateStackConfig({}, "dev").roleRotations).toEqual({});
    expect(validateStackConfig({ "kryonix:roleRotations": '{"kryonix_app": 2}' }, "dev").roleRotations).toEqual({ kryonix_app: 2 });
  });
  it.each([
    [{ postgres: 1 }, /roleRotations\.postgres: .*one of kryonix_migrator/],
    [{ kryonix_app: -1 }, /roleRotations\.kryonix_app: .*a whole number/],
    [{ kryonix_app: 1.5 }, /roleRotations\.kryonix_app: .*a whole number/],
    [{ kryonix_app: "x" }, /roleRotations\.kryonix_app: .*a whole number/],
    ["[", /kryonix:roleRotations: .*an object mapping a login role/],
  ])("refuses %j, naming the key", (value, message) => {
    expect(problemsOf({ "kryonix:roleRotations": value }).join("\n")).toMatch(message);
  });
});

describe("malformed configuration: each value fails preview with a message naming its key", () => {
  it.each<[string, unknown]>([
    ["postgresPort", "0"],
    ["postgresPort", "70000"],
    ["pgbouncerPort", "abc"],
    ["pgadminPort", "80"],
    ["minioPort", "15432"],
    ["postgresMemory", "12 parsecs"],
    ["postgresMemory", "1MiB"],
    ["pgbouncerMemory", "-5MiB"],
    ["postgresCpus", "0"],
    ["postgresCpus", "lots"],
    ["pgadminEmail", "not-an-email"],
    ["pgadminEmail", "admin@kryonix.local"],
    ["pgadminPublicUrl", "http://pgadmin.kryonix.com.br"],
    ["backupRetentionDays", "0"],
    ["backupRetentionDays", "forever"],
    ["archiveTimeoutSeconds", "5"],
    ["storage", "floppy"],
    ["protectData", "maybe"],
    ["publishPostgres", "false"],
    ["certRenewBeforeDays", "0"],
    ["certRenewBeforeDays", "400"],
    ["proxyBindAddress", "10.0.0.1"],
    ["postgresOverrides", '{"password_encryption": "md5"}'],
    ["postgresOverrides", '{"log_statement": "everything"}'],
    ["postgresOverrides", '{"ssl_ciphers": "ALL"}'],
    ["postgresOverrides", '{"unix_socket_permissions": "0777"}'],
    ["postgresOverrides", '{"log_min_error_statement": "warning"}'],
    ["serverLog", "syslog"],
    ["serverLogRetentionDays", "0"],
    ["serverLogRetentionDays", "1.5"],
    ["serverLogMaxSize", "1MB"],
    ["serverLogMaxSize", "lots"],
    ["cisWaivers", '{"3.1.3": ""}'],
    ["cisWaivers", '{"42": "a reason long enough to be a reason"}'],
    ["roleRotations", '{"kryonix_app": -1}'],
    ["roleRotations", '{"postgres": 1}'],
    ["healthThresholds", '{"cacheHitRatioWarn": 2}'],
    ["healthThresholds", '{"diskFull": 1}'],
    ["healthThresholds", "[1, 2]"],
    ["prometheusRetentionDays", "0"],
    ["nonsenseKey", "1"],
  ])("kryonix:%s = %j", (key, value) => {
    const problems = problemsOf({ [`kryonix:${key}`]: value });
    expect(problems.length, `${key} accepted`).toBeGreaterThan(0);
    expect(problems.join("\n")).toContain(`kryonix:${key}`);
  });
});

describe("kryonix:healthThresholds and kryonix:prometheusRetentionDays", () => {
  it("defaults to the issue's thresholds and 15 days", () => {
    const c = validateStackConfig({}, "dev");
    expect(c.healthThresholds).toEqual(DEFAULT_THRESHOLDS);
    expect(c.prometheusRetentionDays).toBe(15);
  });
  it("lays the stack's thresholds over the defaults, from YAML objects or JSON strings", () => {
    const c = validateStackConfig({ "kryonix:healthThresholds": { backupMaxAgeHours: 50 }, "kryonix:prometheusRetentionDays": "30" }, "dev");
    expect(c.healthThresholds).toEqual({ ...DEFAULT_THRESHOLDS, backupMaxAgeHours: 50 });
    expect(c.prometheusRetentionDays).toBe(30);
    expect(validateStackConfig({ "kryonix:healthThresholds": '{"connectionsWarnRatio": 0.7}' }, "dev").healthThresholds.connectionsWarnRatio).toBe(0.7);
  });
  it("names a critical threshold set below its warning", () => {
    expect(problemsOf({ "kryonix:healthThresholds": { idleInTransactionCriticalSeconds: 60 } }).join("\n")).toMatch(/kryonix:healthThresholds\.idleInTransactionCriticalSeconds.*at least idleInTransactionWarnSeconds \(300\)/);
  });
});

describe("kryonix:serverLog, kryonix:serverLogRetentionDays and kryonix:serverLogMaxSize", () => {
  it("default to files, 14 days, 2 GiB; the cap is the health and alert thresholds' too", () => {
    const c = validateStackConfig({}, "dev");
    expect([c.serverLog, c.serverLogRetentionDays, c.serverLogMaxBytes]).toEqual(["file", 14, 2 * GiB]);
    expect(c.healthThresholds.serverLogMaxBytes).toBe(2 * GiB);
    // 3.1.3 passes with the collector on: no default waiver for it; with Docker's log, one.
    expect(c.cisWaivers["3.1.3"]).toBeUndefined();
    expect(validateStackConfig({ "kryonix:serverLog": "docker" }, "dev").cisWaivers["3.1.3"]).toMatch(/serverLog = docker/);
    expect(validateStackConfig({ "kryonix:serverLogMaxSize": "10GiB" }, "dev").healthThresholds.serverLogMaxBytes).toBe(10 * GiB);
  });

  it("refuse bad values at preview, naming the key and the allowed values", () => {
    expect(problemsOf({ "kryonix:serverLog": "syslog" }).join("\n")).toMatch(/kryonix:serverLog: .*one of file, docker/);
    expect(problemsOf({ "kryonix:serverLogRetentionDays": "0" }).join("\n")).toMatch(/kryonix:serverLogRetentionDays: .*an integer from 1 to 3650/);
    expect(problemsOf({ "kryonix:serverLogMaxSize": "1MB" }).join("\n")).toMatch(/kryonix:serverLogMaxSize: .*a size of at least 64MB/);
  });
});

describe("kryonix:postgresOverrides refuses the parameters the stack sets itself", () => {
  it("names the key and says why (listen_addresses)", () => {
    expect(problemsOf({ "kryonix:postgresOverrides": '{"listen_addresses":"*"}' })).toEqual([
      `kryonix:postgresOverrides.listen_addresses: "*" is invalid: the stack sets listen_addresses itself and no override may change it: ${stackOwnedParameters().listen_addresses}`,
    ]);
    expect(stackOwnedParameters().listen_addresses).toMatch(/localhost and on its container's name/);
  });

  it.each([
    ["LISTEN_ADDRESSES", "localhost", /listens on localhost/],
    ["port", 5433, /5432/],
    ["ssl", "off", /TLS is the stack's/],
    ["ssl_cert_file", "/tmp/x.crt", /TLS is the stack's/],
    ["ssl_min_protocol_version", "TLSv1", /TLS is the stack's/],
    ["archive_mode", "off", /pgBackRest repository/],
    ["archive_command", "/bin/true", /pgBackRest repository/],
    ["archive_timeout", "5min", /kryonix:archiveTimeoutSeconds/],
    ["shared_preload_libraries", "pg_stat_statements,pgaudit,auto_explain", /preloads the libraries/],
    ["cron.database_name", "postgres", /pg_cron/],
    ["data_directory", "/tmp", /data volume/],
    ["hba_file", "/tmp/pg_hba.conf", /pg_hba\.conf/],
    ["unix_socket_directories", "/tmp", /peer/],
    ["log_destination", "csvlog", /kryonix:serverLog/],
    ["logging_collector", "off", /kryonix:serverLog/],
  ])("%s", (key, value, why) => {
    const problems = problemsOf({ "kryonix:postgresOverrides": { [key]: value } });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`kryonix:postgresOverrides.${key}: `);
    expect(problems[0]).toContain(`the stack sets ${key.toLowerCase()} itself`);
    expect(problems[0]).toMatch(why);
  });

  it("covers everything the stack renders that an override may not set, read from what sets it", () => {
    const config = validateStackConfig({}, "dev");
    const rendered = postgresConf({ parameters: postgresParameters(config), stack: "dev" })
      .split("\n")
      .filter((line) => line && !line.startsWith("#"))
      .map((line) => line.split(" = ")[0]);
    for (const name of rendered) expect(stackOwnedReason(name) !== undefined || KNOWN_PARAMETERS.includes(name), name).toBe(true);
    // Owned and overridable never overlap; wal_level stays an override (archiving reads it).
    expect(KNOWN_PARAMETERS.filter((name) => stackOwnedReason(name) !== undefined)).toEqual([]);
    for (const name of [...Object.keys(containerParameters("x")), ...Object.keys(postgresTlsParameters()), "archive_mode", "archive_command", "cron.use_background_workers"]) {
      expect(stackOwnedReason(name), name).toBeDefined();
    }
    expect(stackOwnedReason("wal_level")).toBeUndefined();
  });
});

describe("validateStackConfig: the cluster's settings", () => {
  it("reads kryonix:topology ha with its settings", () => {
    const config = validateStackConfig({ "kryonix:topology": "ha", "kryonix:synchronousMode": "false", "kryonix:replicaLagBound": "4MiB", "kryonix:postgresReadPort": "15999" }, "dev");
    expect(config).toMatchObject({ topology: "ha", synchronousMode: false, replicaLagBoundBytes: 4 * 1024 * 1024, postgresReadPort: 15999 });
  });

  it("refuses a topology, a lag bound and a read port that cannot work, naming each key", () => {
    const err = problemsOf({ "kryonix:topology": "cluster", "kryonix:replicaLagBound": "0", "kryonix:postgresReadPort": "15432", "kryonix:synchronousMode": "yes" }, "dev").join("\n");
    expect(err).toMatch(/kryonix:topology.*single.*ha/);
    expect(err).toMatch(/kryonix:replicaLagBound/);
    expect(err).toMatch(/kryonix:postgresReadPort.*already used by kryonix:postgresPort/);
    expect(err).toMatch(/kryonix:synchronousMode/);
  });
});
