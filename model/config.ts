import { X509Certificate, createPrivateKey } from "node:crypto";
import { ARCHIVE_COMMAND } from "./backup";
import { defaultWaivers, waiverProblems } from "./cis";
import { DATABASE_NAME, LOGIN_ROLES } from "./database";
import { isDnsName } from "./dns-name";
import { ConfigError, invalid } from "./messages";
import { bucketNameProblems } from "./minio-policy";
import {
  DEFAULT_SERVER_LOG_MAX_BYTES,
  DEFAULT_SERVER_LOG_RETENTION_DAYS,
  MAX_SERVER_LOG_RETENTION_DAYS,
  MIN_SERVER_LOG_MAX_BYTES,
  SERVER_LOG_MODES,
  type ServerLogMode,
  serverLogParameters,
} from "./server-log";
import { DEFAULT_THRESHOLDS, mergeThresholds, type Thresholds } from "./thresholds";
import { SCHEDULE_ALLOWED, SCHEDULE_OFF, parseSchedule, scheduleProblem } from "./schedule";
import { GiB, MiB, SIZE_ALLOWED, formatPgSize, parseSize } from "./size";
import {
  DEFAULT_MAX_CONNECTIONS,
  MAX_CPUS,
  MIN_CPUS,
  MIN_POSTGRES_MEMORY,
  KNOWN_PARAMETERS,
  PgParams,
  SERVER_RUNTIME_PARAMETERS,
  STORAGE_TYPES,
  Storage,
  applyOverrides,
  checkOverrides,
  containerParameters,
  tunePostgres,
} from "./tuning";

export const SERVICES = ["postgres", "pgbouncer", "pgadmin", "minio", "proxy", "prometheus", "postgres-exporter", "pgbouncer-exporter"] as const;
export type Service = (typeof SERVICES)[number];
/**
 * Containers that run another service's image: the restore drill runs the postgres image, in a
 * container of its own so a drill never competes with the live server for its memory and CPUs.
 */
export const DERIVED_CONTAINERS = ["restore-drill"] as const;
/** What `kryonix-<stack>-<name>` may name: a service (one image each) or a derived container. */
export type StackContainer = Service | (typeof DERIVED_CONTAINERS)[number];

const STACK_NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;
const STACK_ALLOWED = "1 to 31 characters: lower-case letters, digits and '-', starting with a letter or digit";
const NAMESPACE = "kryonix";

/** The validated kryonix:* configuration of one stack, defaults applied. */
export interface StackConfig {
  stack: string;
  postgresMemoryBytes: number;
  postgresCpus: number;
  pgbouncerMemoryBytes: number;
  pgadminMemoryBytes: number;
  minioMemoryBytes: number;
  proxyMemoryBytes: number;
  /** Prometheus' memory limit; the two exporters get EXPORTER_MEMORY each. */
  prometheusMemoryBytes: number;
  /** The restore drill container's limits (its scratch server and pgBackRest's restore). */
  restoreDrillMemoryBytes: number;
  restoreDrillCpus: number;
  /** Host port for PostgreSQL, bound on 127.0.0.1 only. */
  postgresPort: number;
  /**
   * Always true: PostgreSQL is published on 127.0.0.1:postgresPort, because the postgresql
   * provider runs on the host and the host never addresses a container's own IP.
   */
  publishPostgres: true;
  pgbouncerPort: number;
  pgadminPort: number;
  minioPort: number;
  minioConsolePort: number;
  /** Prometheus' UI and API, on 127.0.0.1 only, behind basic auth. */
  prometheusPort: number;
  pgadminEmail: string;
  /** https://<pgadminHost>[:port]: where users open pgAdmin, through the proxy. */
  pgadminPublicUrl: string;
  /** The public DNS name the proxy serves pgAdmin at (the URL's host). */
  pgadminHost: string;
  /** The port users type (the URL's, 443 when it has none). */
  pgadminPublicPort: number;
  /** Host ports of the proxy (plain HTTP answers a redirect, HTTPS serves pgAdmin). */
  proxyHttpPort: number;
  proxyHttpsPort: number;
  /** Where the proxy's two ports bind: 127.0.0.1, or 0.0.0.0 in prod only. Nothing else ever binds beyond 127.0.0.1. */
  proxyBindAddress: ProxyBindAddress;
  /** A certificate (PEM, leaf first, chain after) and its key from config; absent: the stack CA issues one. The key is a secret. */
  proxyCertificate?: string;
  proxyCertificateKey?: string;
  backupRetentionDays: number;
  /** The MinIO bucket of pgBackRest's repository (S3 naming rules, model/minio-policy.ts). */
  backupBucket: string;
  /** archive_timeout: at most this many seconds of committed data wait for their WAL segment to be archived. */
  archiveTimeoutSeconds: number;
  /** The scheduled jobs (cron expressions in UTC; model/schedule.ts), "off" where allowed. */
  schedules: JobSchedules;
  storage: Storage;
  /** Normalised postgresql.conf overrides (lower-case names, PostgreSQL units). */
  postgresOverrides: PgParams;
  /**
   * PostgreSQL's max_connections (postgresOverrides.max_connections or the default), as a number:
   * postgresql.conf, PgBouncer's pools and each role's connection limit all come from it (model/connection-budget.ts).
   */
  maxConnections: number;
  protectData: boolean;
  /** Days before expiry at which `pulumi up` replaces a certificate of the stack's CA. */
  certRenewBeforeDays: number;
  /** CIS controls `npm run audit` reports as WAIVED when they fail: control id -> written reason. */
  cisWaivers: Record<string, string>;
  /** Login role -> how many times its password was rotated (`npm run rotate`): a new count generates a new password. */
  roleRotations: Record<string, number>;
  /** `npm run health`'s and the Prometheus alerting rules' thresholds: the defaults with kryonix:healthThresholds over them. */
  healthThresholds: Thresholds;
  /** How long Prometheus keeps its samples (on the volume kryonix-<stack>-prometheus). */
  prometheusRetentionDays: number;
  /** Where PostgreSQL's log goes: files in a volume of their own, or Docker's log driver (model/server-log.ts). */
  serverLog: ServerLogMode;
  /** With serverLog=file: log files older than this many days are deleted. */
  serverLogRetentionDays: number;
  /** With serverLog=file: the size the log volume must stay under; Prometheus alerts before it is reached. */
  serverLogMaxBytes: number;
  /**
   * `single`: one PostgreSQL container. `ha`: three PostgreSQL nodes under Patroni with an etcd of
   * three and HAProxy in front; postgresPort is HAProxy's write port (the leader), postgresReadPort its read port.
   */
  topology: Topology;
  /** ha: one synchronous standby, so a failover loses no acknowledged commit. */
  synchronousMode: boolean;
  /** ha: replicas further behind leave the read port and may not be promoted. */
  replicaLagBoundBytes: number;
  /** ha: HAProxy's read port (replicas within the lag bound), on 127.0.0.1 only. */
  postgresReadPort: number;
}

export const TOPOLOGIES = ["single", "ha"] as const;
export type Topology = (typeof TOPOLOGIES)[number];

/** Every key the stack reads, in the order problems are reported. */
export const CONFIG_KEYS = [
  "postgresMemory",
  "postgresCpus",
  "pgbouncerMemory",
  "pgadminMemory",
  "minioMemory",
  "proxyMemory",
  "prometheusMemory",
  "restoreDrillMemory",
  "restoreDrillCpus",
  "postgresPort",
  "publishPostgres",
  "pgbouncerPort",
  "pgadminPort",
  "minioPort",
  "minioConsolePort",
  "prometheusPort",
  "pgadminEmail",
  "pgadminPublicUrl",
  "proxyHttpPort",
  "proxyHttpsPort",
  "proxyBindAddress",
  "proxyCertificate",
  "proxyCertificateKey",
  "backupRetentionDays",
  "backupBucket",
  "archiveTimeoutSeconds",
  "backupFullSchedule",
  "backupDiffSchedule",
  "partitionsSchedule",
  "restoreDrillSchedule",
  "storage",
  "postgresOverrides",
  "protectData",
  "certRenewBeforeDays",
  "cisWaivers",
  "roleRotations",
  "healthThresholds",
  "prometheusRetentionDays",
  "serverLog",
  "serverLogRetentionDays",
  "serverLogMaxSize",
  "topology",
  "synchronousMode",
  "replicaLagBound",
  "postgresReadPort",
] as const;
type ConfigKey = (typeof CONFIG_KEYS)[number];

/** The keys that may (proxyCertificate) or must (proxyCertificateKey) be Pulumi secrets: `pulumi config set --secret`. */
export const SECRET_CONFIG_KEYS = ["proxyCertificate", "proxyCertificateKey"] as const;
const SECRET_REQUIRED = new Set<string>(["proxyCertificateKey"]);

export const PROXY_BIND_ADDRESSES = ["127.0.0.1", "0.0.0.0"] as const;
export type ProxyBindAddress = (typeof PROXY_BIND_ADDRESSES)[number];
export const PROXY_BIND_ALLOWED = "127.0.0.1 (the default; 0.0.0.0 is allowed in the prod stack only, for the proxy's HTTP and HTTPS ports; everything else binds 127.0.0.1 always)";

/** The public name pgAdmin gets when kryonix:pgadminPublicUrl is not set. */
export const PGADMIN_PROD_HOST = "pgadmin.kryonix.com.br";
export const PGADMIN_DEV_HOST = "pgadmin.kryonix.localhost";

/** Why kryonix:publishPostgres accepts only true. */
export const PUBLISH_POSTGRES_ALLOWED =
  "true (PostgreSQL is bound to 127.0.0.1 only; the postgresql provider runs on the host and a container's own IP is never addressed from the host)";

const PORT_KEYS = ["postgresPort", "postgresReadPort", "pgbouncerPort", "pgadminPort", "minioPort", "minioConsolePort", "prometheusPort"] as const;

const MEMORY_KEYS = ["postgresMemory", "pgbouncerMemory", "pgadminMemory", "minioMemory", "proxyMemory", "prometheusMemory", "restoreDrillMemory"] as const;
type MemoryKey = (typeof MEMORY_KEYS)[number];

// Containers below these limits get OOM-killed at start, far from the setting
// that caused it.
const MEMORY_MINIMUMS: Readonly<Record<MemoryKey, number>> = {
  postgresMemory: MIN_POSTGRES_MEMORY,
  pgbouncerMemory: 16 * MiB,
  pgadminMemory: 256 * MiB,
  minioMemory: 128 * MiB,
  proxyMemory: 16 * MiB,
  prometheusMemory: 64 * MiB,
  // pgBackRest's restore and a scratch server with 32 MB of shared buffers.
  restoreDrillMemory: 256 * MiB,
};

const DEFAULTS = {
  postgresMemory: GiB,
  pgbouncerMemory: 256 * MiB,
  pgadminMemory: 512 * MiB,
  minioMemory: 512 * MiB,
  proxyMemory: 64 * MiB,
  prometheusMemory: 256 * MiB,
  // Half the live server's default, so a drill's WAL replay and amcheck leave the server a core.
  restoreDrillMemory: 512 * MiB,
  postgresCpus: 2,
  restoreDrillCpus: 1,
  postgresPort: 15432,
  postgresReadPort: 15433,
  pgbouncerPort: 16432,
  pgadminPort: 15050,
  minioPort: 19000,
  minioConsolePort: 19001,
  prometheusPort: 19090,
  proxyHttpPort: 15080,
  proxyHttpsPort: 15443,
  pgadminEmail: "admin@kryonix.com.br",
  backupRetentionDays: 30,
  backupBucket: "kryonix-backups",
  archiveTimeoutSeconds: 60,
  storage: "ssd" as Storage,
  certRenewBeforeDays: 30,
  prometheusRetentionDays: 15,
};

/**
 * The scheduled jobs. A daily full backup (the seed) at 01:00 UTC; differentials at 07:00, 13:00 and
 * 19:00 so that a restore replays at most about six hours of WAL on top of a backup; the partitions
 * of the months ahead created on the 1st of each month; the restore drill every Sunday at 04:00,
 * after that day's full backup.
 */
export interface JobSchedules {
  backupFull: string;
  /** "off": no differential backups. */
  backupDiff: string;
  partitions: string;
  /** "off": no scheduled drill (`npm run backup:verify` still works). */
  restoreDrill: string;
}
export const SCHEDULE_DEFAULTS: JobSchedules = {
  backupFull: "0 1 * * *",
  backupDiff: "0 7,13,19 * * *",
  partitions: "0 3 1 * *",
  restoreDrill: "0 4 * * 0",
};
const SCHEDULE_KEYS = {
  backupFull: { key: "backupFullSchedule", offAllowed: false },
  backupDiff: { key: "backupDiffSchedule", offAllowed: true },
  partitions: { key: "partitionsSchedule", offAllowed: false },
  restoreDrill: { key: "restoreDrillSchedule", offAllowed: true },
} as const;

// pgAdmin validates its login e-mail with python-email-validator, which
// refuses these special-use domains; the container would exit at start.
const SPECIAL_USE_DOMAINS = ["arpa", "invalid", "local", "localhost", "onion", "test"];
const EMAIL = /^[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;
// Secrets are random resources in the stack; a config key like these means
// someone is about to commit a password to Pulumi.<stack>.yaml.
const SECRET_KEY = /pass|secret|token|credential|(access|private|api)_?key/i;

/** True for stack names that get production defaults. */
export function isProductionStack(stack: string): boolean {
  return stack === "prod";
}

/** What is wrong with a Pulumi stack name (it names Docker objects: `kryonix-<stack>-<service>`), or undefined. Pure. */
export function stackNameProblem(stack: unknown): string | undefined {
  return typeof stack === "string" && STACK_NAME.test(stack) ? undefined : invalid("Pulumi stack name", stack, STACK_ALLOWED);
}

function checkStackName(stack: string): void {
  const problem = stackNameProblem(stack);
  if (problem) throw new Error(problem);
}

/** `kryonix-<stack>-<service>`: the Docker name of a service's container, volume, etc. */
export function resourceName(stack: string, service: StackContainer): string {
  checkStackName(stack);
  const known: readonly string[] = [...SERVICES, ...DERIVED_CONTAINERS];
  if (!known.includes(service)) {
    throw new Error(invalid("service", service, `one of ${known.join(", ")}`));
  }
  return `kryonix-${stack}-${service}`;
}

/** `kryonix-<stack>-net`: the Docker network the stack's containers share. */
export function networkName(stack: string): string {
  checkStackName(stack);
  return `kryonix-${stack}-net`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// Pulumi hands config over as strings; tests and callers may pass parsed JSON.
function toNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.trim() !== "") return Number(value.trim());
  return NaN;
}

/** Collects problems while reading keys, so validation never stops at the first. */
class Reader {
  readonly problems: string[] = [];

  constructor(private readonly values: ReadonlyMap<string, unknown>) {}

  private has(key: ConfigKey): boolean {
    return this.values.get(key) !== undefined && this.values.get(key) !== null;
  }

  private fail(key: ConfigKey, allowed: string): undefined {
    this.problems.push(invalid(`${NAMESPACE}:${key}`, this.values.get(key), allowed));
    return undefined;
  }

  size(key: ConfigKey, fallback: number, min: number): number | undefined {
    if (!this.has(key)) return fallback;
    const raw = this.values.get(key);
    let bytes: number;
    try {
      bytes = parseSize(raw as string | number, key);
    } catch {
      return this.fail(key, SIZE_ALLOWED);
    }
    return bytes >= min ? bytes : this.fail(key, `a size of at least ${formatPgSize(min)}`);
  }

  number(key: ConfigKey, fallback: number, min: number, max: number, integer: boolean): number | undefined {
    if (!this.has(key)) return fallback;
    const n = toNumber(this.values.get(key));
    const ok = Number.isFinite(n) && n >= min && n <= max && (!integer || Number.isInteger(n));
    return ok ? n : this.fail(key, `${integer ? "an integer" : "a number"} from ${min} to ${max}`);
  }

  port(key: ConfigKey, fallback: number): number | undefined {
    // Below 1024 needs root on the host, and Docker's userland proxy would fail late.
    return this.number(key, fallback, 1024, 65535, true);
  }

  boolean(key: ConfigKey, fallback: boolean): boolean | undefined {
    if (!this.has(key)) return fallback;
    const raw = this.values.get(key);
    if (typeof raw === "boolean") return raw;
    if (typeof raw === "string" && ["true", "false"].includes(raw.trim().toLowerCase())) {
      return raw.trim().toLowerCase() === "true";
    }
    return this.fail(key, "true or false");
  }

  /**
   * A key that only accepts true (the default): PostgreSQL is bound to 127.0.0.1 and never
   * unpublished, since the host-side postgresql provider would otherwise need the container's IP.
   */
  published(key: ConfigKey): true | undefined {
    if (!this.has(key)) return true;
    const raw = this.values.get(key);
    const text = typeof raw === "string" ? raw.trim().toLowerCase() : undefined;
    if (raw === true || text === "true") return true;
    const shown = raw === false || text === "false" ? false : raw;
    this.problems.push(invalid(`${NAMESPACE}:${key}`, shown, PUBLISH_POSTGRES_ALLOWED));
    return undefined;
  }

  email(key: ConfigKey, fallback: string): string | undefined {
    if (!this.has(key)) return fallback;
    const raw = this.values.get(key);
    if (typeof raw !== "string" || !EMAIL.test(raw.trim())) {
      return this.fail(key, "an e-mail address such as admin@kryonix.com.br");
    }
    const tld = raw.trim().split(".").pop()!.toLowerCase();
    if (SPECIAL_USE_DOMAINS.includes(tld)) {
      return this.fail(key, `an e-mail address on a public domain; pgAdmin rejects .${SPECIAL_USE_DOMAINS.join(", .")}`);
    }
    return raw.trim();
  }

  /** An https:// URL at a DNS name, nothing after the host and port: what the proxy serves. */
  publicUrl(key: ConfigKey, fallback: string): URL | undefined {
    const raw = this.values.get(key);
    const text = !this.has(key) || raw === "" ? fallback : raw;
    const allowed =
      "an https:// URL at a DNS name (at least two labels, letters, digits and '-'), with an optional port and nothing else: no path, query, user name or password, e.g. https://pgadmin.kryonix.com.br";
    if (typeof text !== "string") return this.fail(key, allowed);
    let url: URL;
    try {
      url = new URL(text.trim());
    } catch {
      return this.fail(key, allowed);
    }
    const bare = url.pathname === "/" && !url.search && !url.hash && !url.username && !url.password;
    if (url.protocol !== "https:" || !bare || !isDnsName(url.hostname)) return this.fail(key, allowed);
    return url;
  }

  /** 127.0.0.1, or 0.0.0.0 where the stack is prod. */
  bindAddress(key: ConfigKey, prod: boolean): ProxyBindAddress | undefined {
    if (!this.has(key)) return "127.0.0.1";
    const raw = this.values.get(key);
    const text = typeof raw === "string" ? raw.trim() : raw;
    if (text === "127.0.0.1" || (text === "0.0.0.0" && prod)) return text;
    return this.fail(key, PROXY_BIND_ALLOWED);
  }

  /** A PEM value of a key that may be a Pulumi secret; never echoed in a problem. */
  pem(key: ConfigKey): string | undefined {
    if (!this.has(key)) return undefined;
    const raw = this.values.get(key);
    const value = isPlainObject(raw) ? raw.value : raw;
    if (SECRET_REQUIRED.has(key) && !isPlainObject(raw)) {
      this.problems.push(`${NAMESPACE}:${key}: must be a Pulumi secret (value not shown): pulumi config set --secret ${NAMESPACE}:${key} < key.pem`);
      return undefined;
    }
    if (typeof value !== "string" || !value.includes("-----BEGIN ")) {
      this.problems.push(`${NAMESPACE}:${key}: is not PEM text (value not shown)`);
      return undefined;
    }
    return value.trim() + "\n";
  }

  /** A cron schedule (model/schedule.ts), normalised; "off" where allowed. */
  schedule(key: ConfigKey, fallback: string, offAllowed: boolean): string | undefined {
    if (!this.has(key)) return fallback;
    const raw = this.values.get(key);
    const problem = scheduleProblem(raw, offAllowed);
    if (problem !== undefined) return this.fail(key, `${SCHEDULE_ALLOWED}${offAllowed ? `, or ${SCHEDULE_OFF}` : ""} (${problem})`);
    const text = (raw as string).trim();
    return text.toLowerCase() === SCHEDULE_OFF ? SCHEDULE_OFF : parseSchedule(text).text;
  }

  /** An S3 bucket name MinIO accepts. */
  bucket(key: ConfigKey, fallback: string): string | undefined {
    if (!this.has(key)) return fallback;
    const raw = this.values.get(key);
    const problems = bucketNameProblems(raw, `${NAMESPACE}:${key}`);
    this.problems.push(...problems);
    return problems.length ? undefined : (raw as string);
  }

  oneOf<T extends string>(key: ConfigKey, fallback: T, values: readonly T[]): T | undefined {
    if (!this.has(key)) return fallback;
    const raw = this.values.get(key);
    return values.includes(raw as T) ? (raw as T) : this.fail(key, `one of ${values.join(", ")}`);
  }

  object(key: ConfigKey, allowed: string): Record<string, unknown> | undefined {
    if (!this.has(key)) return {};
    let raw = this.values.get(key);
    if (typeof raw === "string") {
      try {
        raw = JSON.parse(raw);
      } catch {
        return this.fail(key, allowed);
      }
    }
    return isPlainObject(raw) ? raw : this.fail(key, allowed);
  }
}

/**
 * Reads the stack's kryonix:* settings (as Pulumi gives them: strings or
 * parsed JSON, keys with or without the "kryonix:" prefix; other namespaces
 * belong to providers and are skipped), applies defaults and throws one
 * ConfigError listing every problem.
 */
export function validateStackConfig(raw: Record<string, unknown>, stack: string, now: Date = new Date()): StackConfig {
  const problems: string[] = [];
  const stackOk = typeof stack === "string" && STACK_NAME.test(stack);
  if (!stackOk) problems.push(invalid("Pulumi stack name", stack, STACK_ALLOWED));
  const stackFile = `Pulumi.${stackOk ? stack : "<stack>"}.yaml`;

  const values = new Map<string, unknown>();
  for (const [fullKey, value] of Object.entries(raw)) {
    const colon = fullKey.indexOf(":");
    if (colon >= 0 && fullKey.slice(0, colon) !== NAMESPACE) continue;
    const key = colon >= 0 ? fullKey.slice(colon + 1) : fullKey;
    // The value is deliberately not echoed: it may be the secret itself.
    const secure = isPlainObject(value) && "secure" in value;
    if ((SECRET_CONFIG_KEYS as readonly string[]).includes(key)) {
      if (values.has(key)) problems.push(`${NAMESPACE}:${key}: set twice (with and without the kryonix: prefix); keep one`);
      else values.set(key, value);
    } else if (SECRET_KEY.test(key) || secure) {
      problems.push(`${NAMESPACE}:${key}: secrets are generated by the stack; remove ${NAMESPACE}:${key} from ${stackFile}`);
    } else if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
      problems.push(invalid(`${NAMESPACE}:${key}`, value, `unknown key; known keys: ${CONFIG_KEYS.join(", ")}`));
    } else if (values.has(key)) {
      problems.push(invalid(`${NAMESPACE}:${key}`, value, "set twice (with and without the kryonix: prefix); keep one"));
    } else {
      values.set(key, value);
    }
  }

  const read = new Reader(values);
  const prod = isProductionStack(stack);
  const memories = Object.fromEntries(
    MEMORY_KEYS.map((key) => [key, read.size(key, DEFAULTS[key], MEMORY_MINIMUMS[key])]),
  ) as Record<MemoryKey, number | undefined>;
  const cpus = read.number("postgresCpus", DEFAULTS.postgresCpus, MIN_CPUS, MAX_CPUS, false);
  const drillCpus = read.number("restoreDrillCpus", DEFAULTS.restoreDrillCpus, MIN_CPUS, MAX_CPUS, false);
  const ports = Object.fromEntries(PORT_KEYS.map((key) => [key, read.port(key, DEFAULTS[key])])) as Record<
    (typeof PORT_KEYS)[number],
    number | undefined
  >;
  const publishPostgres = read.published("publishPostgres");
  const pgadminEmail = read.email("pgadminEmail", DEFAULTS.pgadminEmail);
  const proxyHttpPort = read.number("proxyHttpPort", prod ? 80 : DEFAULTS.proxyHttpPort, 1, 65535, true);
  const proxyHttpsPort = read.number("proxyHttpsPort", prod ? 443 : DEFAULTS.proxyHttpsPort, 1, 65535, true);
  const proxyBindAddress = read.bindAddress("proxyBindAddress", prod);
  const defaultUrl = prod ? `https://${PGADMIN_PROD_HOST}` : `https://${PGADMIN_DEV_HOST}${proxyHttpsPort === undefined || proxyHttpsPort === 443 ? "" : `:${proxyHttpsPort}`}`;
  const publicUrl = read.publicUrl("pgadminPublicUrl", defaultUrl);
  const proxyCertificate = read.pem("proxyCertificate");
  const proxyCertificateKey = read.pem("proxyCertificateKey");
  // At least a day (0 or less would expire every backup); at most ten years.
  const backupRetentionDays = read.number("backupRetentionDays", DEFAULTS.backupRetentionDays, 1, 3650, true);
  const backupBucket = read.bucket("backupBucket", DEFAULTS.backupBucket);
  // Below 10 s the archive fills with mostly empty 16 MB segments; above an hour too much is at risk.
  const archiveTimeoutSeconds = read.number("archiveTimeoutSeconds", DEFAULTS.archiveTimeoutSeconds, 10, 3600, true);
  const schedules = Object.fromEntries(
    Object.entries(SCHEDULE_KEYS).map(([job, { key, offAllowed }]) => [job, read.schedule(key, SCHEDULE_DEFAULTS[job as keyof JobSchedules], offAllowed)]),
  ) as Record<keyof JobSchedules, string | undefined>;
  const storage = read.oneOf("storage", DEFAULTS.storage, STORAGE_TYPES);
  const rawOverrides = read.object("postgresOverrides", 'an object mapping PostgreSQL parameter names to values, e.g. {"work_mem": "16MB"}');
  const rawThresholds = read.object("healthThresholds", `an object mapping threshold names (${Object.keys(DEFAULT_THRESHOLDS).join(", ")}) to numbers, e.g. {"backupMaxAgeHours": 50}`);
  // Prometheus' own floor is hours; a day is the least that shows a trend, ten years the most we allow.
  const prometheusRetentionDays = read.number("prometheusRetentionDays", DEFAULTS.prometheusRetentionDays, 1, 3650, true);
  const protectData = read.boolean("protectData", prod);
  const serverLog = read.oneOf("serverLog", "file" as ServerLogMode, SERVER_LOG_MODES);
  const serverLogRetentionDays = read.number("serverLogRetentionDays", DEFAULT_SERVER_LOG_RETENTION_DAYS, 1, MAX_SERVER_LOG_RETENTION_DAYS, true);
  const serverLogMaxBytes = read.size("serverLogMaxSize", DEFAULT_SERVER_LOG_MAX_BYTES, MIN_SERVER_LOG_MAX_BYTES);
  const topology = read.oneOf("topology", "single" as Topology, TOPOLOGIES);
  const synchronousMode = read.boolean("synchronousMode", true);
  // 0 would take every replica off the read port and forbid every failover.
  const replicaLagBoundBytes = read.size("replicaLagBound", MiB, 1);
  // Below the server certificates' 825 days (components/pki.ts).
  const certRenewBeforeDays = read.number("certRenewBeforeDays", DEFAULTS.certRenewBeforeDays, 1, 365, true);
  problems.push(...read.problems);
  const cisWaivers = readWaivers(values.get("cisWaivers"), problems, serverLog ?? "file");
  const roleRotations = readRotations(values.get("roleRotations"), problems);

  if (values.has("proxyCertificate") !== values.has("proxyCertificateKey")) {
    const missing = values.has("proxyCertificate") ? "proxyCertificateKey" : "proxyCertificate";
    problems.push(`${NAMESPACE}:${missing}: missing: kryonix:proxyCertificate and kryonix:proxyCertificateKey are set together (or neither: the stack CA issues the certificate)`);
  } else if (proxyCertificate && proxyCertificateKey && publicUrl) {
    problems.push(...certificateProblems(proxyCertificate, proxyCertificateKey, publicUrl.hostname, now));
  }

  // Compare effective values, so a setting that collides with a default is caught too.
  const portOwners = new Map<number, string>();
  const allPorts: [string, number | undefined][] = [
    ...PORT_KEYS.map((key): [string, number | undefined] => [key, ports[key]]),
    ["proxyHttpPort", proxyHttpPort],
    ["proxyHttpsPort", proxyHttpsPort],
  ];
  for (const [key, port] of allPorts) {
    if (port === undefined) continue;
    const owner = portOwners.get(port);
    if (owner) {
      problems.push(invalid(`${NAMESPACE}:${key}`, port, `already used by ${NAMESPACE}:${owner}; every port must be different`));
    } else {
      portOwners.set(port, key);
    }
  }

  const thresholds = mergeThresholds(DEFAULT_THRESHOLDS, rawThresholds ?? {}, (key) => `${NAMESPACE}:healthThresholds.${key}`);
  problems.push(...thresholds.problems);

  const overrides = checkOverrides(rawOverrides, memories.postgresMemory, `${NAMESPACE}:postgresOverrides`, stackOwnedReason);
  problems.push(...overrides.problems);
  // WAL archiving (pgBackRest) needs at least replica-level WAL.
  if (overrides.params?.wal_level === "minimal") {
    problems.push(invalid(`${NAMESPACE}:postgresOverrides.wal_level`, "minimal", "replica or logical (WAL is archived for point-in-time restore)"));
  }

  if (problems.length) {
    throw new ConfigError(`${stackFile} has ${problems.length} invalid kryonix setting(s):`, problems);
  }
  return {
    stack,
    postgresMemoryBytes: memories.postgresMemory!,
    postgresCpus: cpus!,
    pgbouncerMemoryBytes: memories.pgbouncerMemory!,
    pgadminMemoryBytes: memories.pgadminMemory!,
    minioMemoryBytes: memories.minioMemory!,
    proxyMemoryBytes: memories.proxyMemory!,
    prometheusMemoryBytes: memories.prometheusMemory!,
    restoreDrillMemoryBytes: memories.restoreDrillMemory!,
    restoreDrillCpus: drillCpus!,
    postgresPort: ports.postgresPort!,
    publishPostgres: publishPostgres!,
    pgbouncerPort: ports.pgbouncerPort!,
    pgadminPort: ports.pgadminPort!,
    minioPort: ports.minioPort!,
    minioConsolePort: ports.minioConsolePort!,
    prometheusPort: ports.prometheusPort!,
    pgadminEmail: pgadminEmail!,
    pgadminPublicUrl: publicUrl!.origin,
    pgadminHost: publicUrl!.hostname,
    pgadminPublicPort: publicUrl!.port ? Number(publicUrl!.port) : 443,
    proxyHttpPort: proxyHttpPort!,
    proxyHttpsPort: proxyHttpsPort!,
    proxyBindAddress: proxyBindAddress!,
    ...(proxyCertificate && proxyCertificateKey ? { proxyCertificate, proxyCertificateKey } : {}),
    backupRetentionDays: backupRetentionDays!,
    backupBucket: backupBucket!,
    archiveTimeoutSeconds: archiveTimeoutSeconds!,
    schedules: schedules as JobSchedules,
    storage: storage!,
    postgresOverrides: overrides.params,
    maxConnections: overrides.params.max_connections === undefined ? DEFAULT_MAX_CONNECTIONS : Number(overrides.params.max_connections),
    protectData: protectData!,
    certRenewBeforeDays: certRenewBeforeDays!,
    cisWaivers,
    roleRotations,
    // The server log's cap is kryonix:serverLogMaxSize, whatever healthThresholds says.
    healthThresholds: { ...thresholds.thresholds, serverLogMaxBytes: serverLogMaxBytes ?? DEFAULT_SERVER_LOG_MAX_BYTES },
    prometheusRetentionDays: prometheusRetentionDays!,
    serverLog: serverLog!,
    serverLogRetentionDays: serverLogRetentionDays!,
    serverLogMaxBytes: serverLogMaxBytes!,
    topology: topology!,
    synchronousMode: synchronousMode!,
    replicaLagBoundBytes: replicaLagBoundBytes!,
    postgresReadPort: ports.postgresReadPort!,
  };
}

/** kryonix:roleRotations: {role: count}, counts whole numbers from 0 (written by `npm run rotate`). */
function readRotations(raw: unknown, problems: string[]): Record<string, number> {
  if (raw === undefined || raw === null) return {};
  let value = raw;
  const allowed = `an object mapping a login role (${LOGIN_ROLES.join(", ")}) to its rotation count, a whole number from 0, e.g. {"kryonix_app": 1}`;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      problems.push(invalid(`${NAMESPACE}:roleRotations`, raw, allowed));
      return {};
    }
  }
  if (!isPlainObject(value)) {
    problems.push(invalid(`${NAMESPACE}:roleRotations`, raw, allowed));
    return {};
  }
  const out: Record<string, number> = {};
  for (const [role, count] of Object.entries(value)) {
    const n = toNumber(count);
    if (!(LOGIN_ROLES as readonly string[]).includes(role)) problems.push(invalid(`${NAMESPACE}:roleRotations.${role}`, role, `one of ${LOGIN_ROLES.join(", ")}`));
    else if (!Number.isInteger(n) || n < 0 || n > 1_000_000) problems.push(invalid(`${NAMESPACE}:roleRotations.${role}`, count, "a whole number from 0 to 1000000"));
    else out[role] = n;
  }
  return out;
}

/** kryonix:cisWaivers (an object, or its JSON text), checked by checks/cis.ts; unset: the defaults for the server log's mode. */
function readWaivers(raw: unknown, problems: string[], serverLog: ServerLogMode): Record<string, string> {
  if (raw === undefined || raw === null) return defaultWaivers(serverLog);
  let value = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      problems.push(invalid(`${NAMESPACE}:cisWaivers`, raw, 'a JSON object mapping a control number to its reason, e.g. {"3.1.3": "the container\'s log is collected by Docker"}'));
      return {};
    }
  }
  const found = waiverProblems(value, `${NAMESPACE}:cisWaivers`);
  problems.push(...found);
  return found.length ? {} : Object.fromEntries(Object.entries(value as Record<string, string>).map(([id, reason]) => [id, reason.trim()]));
}

/** The final postgresql.conf parameters for a validated stack configuration. */
export function postgresParameters(config: StackConfig): PgParams {
  const tuned = tunePostgres({
    memoryBytes: config.postgresMemoryBytes,
    cpus: config.postgresCpus,
    storage: config.storage,
    // work_mem is divided among connections, so size it for the overridden count.
    maxConnections: config.maxConnections,
  });
  return schedulerParameters({
    ...applyOverrides(tuned, config.postgresOverrides, config.postgresMemoryBytes),
    ...archiveParameters(config),
    ...serverLogParameters(config.serverLog, config.serverLogMaxBytes),
  });
}

// TLS: ssl and every ssl_* parameter. A family, not the keys model/tls.ts postgresTlsParameters
// sets (importing it here would close a cycle through model/containers.ts): the unit tests check
// that each of those keys falls in it.
const TLS_PARAMETER = /^ssl(_|$)/;
const TLS_OWNED = "TLS is the stack's: the certificate files it writes and renews, the protocols and ciphers every client of the stack is tested with";

/**
 * The parameters the stack sets itself, with why: what the postgres component puts over the tuned
 * values (listening), WAL archiving, the scheduler and the preloaded libraries, where the log goes
 * (kryonix:serverLog), what the tuning
 * sets that no override may change, and what the image's entrypoint sets; TLS is TLS_PARAMETER.
 * Read from the functions that set them, so a parameter added there is refused too. Pure.
 */
export function stackOwnedParameters(): Record<string, string> {
  const owned: Record<string, string> = {};
  const own = (params: PgParams, why: string | ((name: string) => string)) => {
    for (const name of Object.keys(params)) owned[name] ??= typeof why === "string" ? why : why(name);
  };
  own(containerParameters("postgres"), "the server listens on localhost and on its container's name in the stack network only (CIS 5.2); clients come through PgBouncer or the admin path (kryonix:postgresPort)");
  const { wal_level: _walLevel, ...archiving } = archiveParameters({ archiveTimeoutSeconds: DEFAULTS.archiveTimeoutSeconds, postgresOverrides: {} });
  own(archiving, (name) =>
    name === "archive_timeout"
      ? `set it with ${NAMESPACE}:archiveTimeoutSeconds`
      : "WAL goes to the stack's pgBackRest repository, which backups, restores and the restore drill rely on",
  );
  own(schedulerParameters({}), (name) =>
    name === "shared_preload_libraries"
      ? "the stack preloads the libraries of what it sets up (pg_stat_statements, pgaudit, auth_delay, pg_cron), and the image has no other"
      : "pg_cron runs the stack's own jobs (the partitions job) in the database the stack gives it",
  );
  for (const mode of SERVER_LOG_MODES) {
    own(serverLogParameters(mode, DEFAULT_SERVER_LOG_MAX_BYTES), `${NAMESPACE}:serverLog (file or docker) and ${NAMESPACE}:serverLogMaxSize set where the server's log goes`);
  }
  const tuned = tunePostgres({ memoryBytes: MIN_POSTGRES_MEMORY, cpus: MIN_CPUS, storage: "ssd" });
  own(
    Object.fromEntries(Object.entries(tuned).filter(([name]) => !KNOWN_PARAMETERS.includes(name))),
    "the stack's tuning sets it (model/tuning.ts tunePostgres) and offers no override",
  );
  own(SERVER_RUNTIME_PARAMETERS, (name) => SERVER_RUNTIME_PARAMETERS[name]);
  return owned;
}

/** Why kryonix:postgresOverrides may not set `name` (lower case), or undefined when it may. Pure. */
export function stackOwnedReason(name: string): string | undefined {
  if (TLS_PARAMETER.test(name)) return TLS_OWNED;
  owned ??= stackOwnedParameters();
  return Object.hasOwn(owned, name) ? owned[name] : undefined;
}
let owned: Record<string, string> | undefined;

/** The database pg_cron keeps its jobs in: the one whose partitions it maintains. */
export const PG_CRON_DATABASE = DATABASE_NAME;

/**
 * pg_cron, the in-database scheduler (the partitions job): preloaded whatever the overrides say,
 * its jobs in kryonix_saas, run as background workers (no libpq connection back to the server, so
 * no password and no pg_hba entry for it), at most two at a time. Pure.
 */
export function schedulerParameters(params: PgParams): PgParams {
  const preload = String(params.shared_preload_libraries ?? "").split(",").map((l) => l.trim()).filter((l) => l !== "");
  return {
    ...params,
    shared_preload_libraries: [...preload.filter((l) => l !== "pg_cron"), "pg_cron"].join(","),
    "cron.database_name": PG_CRON_DATABASE,
    "cron.use_background_workers": "on",
    "cron.max_running_jobs": "2",
    "cron.timezone": "UTC",
  };
}

/**
 * WAL archiving through pgBackRest: every finished segment goes to the repository, and
 * archive_timeout bounds how long committed data waits for its segment. Not overridable
 * (archive_* are not in postgresOverrides' list). Pure.
 */
export function archiveParameters(config: Pick<StackConfig, "archiveTimeoutSeconds" | "postgresOverrides">): PgParams {
  return {
    wal_level: config.postgresOverrides.wal_level ?? "replica",
    archive_mode: "on",
    archive_command: ARCHIVE_COMMAND,
    archive_timeout: String(config.archiveTimeoutSeconds),
  };
}

/**
 * What is wrong with a configured proxy certificate and key: not a certificate, not a private key,
 * a key that is not the certificate's, a certificate not valid for `host`, expired or not yet
 * valid at `now`. Each problem names its key; the key's text is never shown. Pure.
 */
export function certificateProblems(certPem: string, keyPem: string, host: string, now: Date): string[] {
  const problems: string[] = [];
  let cert: X509Certificate | undefined;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    problems.push(`${NAMESPACE}:proxyCertificate: is not a PEM X.509 certificate (${(err as Error).message})`);
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    problems.push(`${NAMESPACE}:proxyCertificateKey: is not a PEM private key (value not shown)`);
  }
  if (!cert) return problems;
  if (key && !cert.checkPrivateKey(key)) {
    problems.push(`${NAMESPACE}:proxyCertificateKey: does not match kryonix:proxyCertificate (it is not the private key of the certificate's public key; value not shown)`);
  }
  if (!cert.checkHost(host, { subject: "default" })) {
    problems.push(`${NAMESPACE}:proxyCertificate: is not valid for ${host} (the host of kryonix:pgadminPublicUrl); it names ${cert.subjectAltName ?? cert.subject}`);
  }
  const notAfter = new Date(cert.validTo);
  const notBefore = new Date(cert.validFrom);
  if (notAfter.getTime() <= now.getTime()) {
    problems.push(`${NAMESPACE}:proxyCertificate: expired on ${notAfter.toISOString()}; set a current certificate (or remove both proxyCertificate keys for one from the stack CA)`);
  } else if (notBefore.getTime() > now.getTime()) {
    problems.push(`${NAMESPACE}:proxyCertificate: is not valid before ${notBefore.toISOString()}`);
  }
  return problems;
}
