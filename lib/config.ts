import { ConfigError, invalid } from "./messages";
import { GiB, MiB, SIZE_ALLOWED, formatPgSize, parseSize } from "./size";
import {
  MAX_CPUS,
  MIN_CPUS,
  MIN_POSTGRES_MEMORY,
  PgParams,
  STORAGE_TYPES,
  Storage,
  applyOverrides,
  checkOverrides,
  tunePostgres,
} from "./tuning";

export const SERVICES = ["postgres", "pgbouncer", "pgadmin", "minio"] as const;
export type Service = (typeof SERVICES)[number];

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
  pgadminEmail: string;
  pgadminPublicUrl?: string;
  backupRetentionDays: number;
  storage: Storage;
  /** Normalised postgresql.conf overrides (lower-case names, PostgreSQL units). */
  postgresOverrides: PgParams;
  protectData: boolean;
  /** Days before expiry at which `pulumi up` replaces a certificate of the stack's CA. */
  certRenewBeforeDays: number;
}

/** Every key the stack reads, in the order problems are reported. */
export const CONFIG_KEYS = [
  "postgresMemory",
  "postgresCpus",
  "pgbouncerMemory",
  "pgadminMemory",
  "minioMemory",
  "postgresPort",
  "publishPostgres",
  "pgbouncerPort",
  "pgadminPort",
  "minioPort",
  "minioConsolePort",
  "pgadminEmail",
  "pgadminPublicUrl",
  "backupRetentionDays",
  "storage",
  "postgresOverrides",
  "protectData",
  "certRenewBeforeDays",
] as const;
type ConfigKey = (typeof CONFIG_KEYS)[number];

/** Why kryonix:publishPostgres accepts only true. */
export const PUBLISH_POSTGRES_ALLOWED =
  "true (PostgreSQL is bound to 127.0.0.1 only; the postgresql provider runs on the host and a container's own IP is never addressed from the host)";

const PORT_KEYS = ["postgresPort", "pgbouncerPort", "pgadminPort", "minioPort", "minioConsolePort"] as const;

const MEMORY_KEYS = ["postgresMemory", "pgbouncerMemory", "pgadminMemory", "minioMemory"] as const;
type MemoryKey = (typeof MEMORY_KEYS)[number];

// Containers below these limits get OOM-killed at start, far from the setting
// that caused it.
const MEMORY_MINIMUMS: Readonly<Record<MemoryKey, number>> = {
  postgresMemory: MIN_POSTGRES_MEMORY,
  pgbouncerMemory: 16 * MiB,
  pgadminMemory: 256 * MiB,
  minioMemory: 128 * MiB,
};

const DEFAULTS = {
  postgresMemory: GiB,
  pgbouncerMemory: 256 * MiB,
  pgadminMemory: 512 * MiB,
  minioMemory: 512 * MiB,
  postgresCpus: 2,
  postgresPort: 15432,
  pgbouncerPort: 16432,
  pgadminPort: 15050,
  minioPort: 19000,
  minioConsolePort: 19001,
  pgadminEmail: "admin@kryonix.com.br",
  backupRetentionDays: 30,
  storage: "ssd" as Storage,
  certRenewBeforeDays: 30,
};

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

function checkStackName(stack: string): void {
  if (typeof stack !== "string" || !STACK_NAME.test(stack)) {
    throw new Error(invalid("Pulumi stack name", stack, STACK_ALLOWED));
  }
}

/** `kryonix-<stack>-<service>`: the Docker name of a service's container, volume, etc. */
export function resourceName(stack: string, service: Service): string {
  checkStackName(stack);
  if (!(SERVICES as readonly string[]).includes(service)) {
    throw new Error(invalid("service", service, `one of ${SERVICES.join(", ")}`));
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

  url(key: ConfigKey): string | undefined {
    const raw = this.values.get(key);
    if (!this.has(key) || raw === "") return undefined;
    const allowed = "an absolute http:// or https:// URL without user name or password, e.g. https://pgadmin.kryonix.com.br";
    if (typeof raw !== "string") return this.fail(key, allowed);
    let url: URL;
    try {
      url = new URL(raw.trim());
    } catch {
      return this.fail(key, allowed);
    }
    if (!["http:", "https:"].includes(url.protocol) || url.username || url.password) {
      return this.fail(key, allowed);
    }
    return raw.trim();
  }

  oneOf<T extends string>(key: ConfigKey, fallback: T, values: readonly T[]): T | undefined {
    if (!this.has(key)) return fallback;
    const raw = this.values.get(key);
    return values.includes(raw as T) ? (raw as T) : this.fail(key, `one of ${values.join(", ")}`);
  }

  object(key: ConfigKey): Record<string, unknown> | undefined {
    if (!this.has(key)) return {};
    let raw = this.values.get(key);
    const allowed = 'an object mapping PostgreSQL parameter names to values, e.g. {"work_mem": "16MB"}';
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
export function validateStackConfig(raw: Record<string, unknown>, stack: string): StackConfig {
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
    if (SECRET_KEY.test(key) || secure) {
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
  const ports = Object.fromEntries(PORT_KEYS.map((key) => [key, read.port(key, DEFAULTS[key])])) as Record<
    (typeof PORT_KEYS)[number],
    number | undefined
  >;
  const publishPostgres = read.published("publishPostgres");
  const pgadminEmail = read.email("pgadminEmail", DEFAULTS.pgadminEmail);
  const pgadminPublicUrl = read.url("pgadminPublicUrl");
  const backupRetentionDays = read.number("backupRetentionDays", DEFAULTS.backupRetentionDays, 1, 3650, true);
  const storage = read.oneOf("storage", DEFAULTS.storage, STORAGE_TYPES);
  const rawOverrides = read.object("postgresOverrides");
  const protectData = read.boolean("protectData", prod);
  // Below the server certificates' 825 days (components/pki.ts).
  const certRenewBeforeDays = read.number("certRenewBeforeDays", DEFAULTS.certRenewBeforeDays, 1, 365, true);
  problems.push(...read.problems);

  // Compare effective values, so a setting that collides with a default is caught too.
  const portOwners = new Map<number, string>();
  for (const key of PORT_KEYS) {
    const port = ports[key];
    if (port === undefined) continue;
    const owner = portOwners.get(port);
    if (owner) {
      problems.push(invalid(`${NAMESPACE}:${key}`, port, `already used by ${NAMESPACE}:${owner}; every port must be different`));
    } else {
      portOwners.set(port, key);
    }
  }

  const overrides = checkOverrides(rawOverrides, memories.postgresMemory, `${NAMESPACE}:postgresOverrides`);
  problems.push(...overrides.problems);

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
    postgresPort: ports.postgresPort!,
    publishPostgres: publishPostgres!,
    pgbouncerPort: ports.pgbouncerPort!,
    pgadminPort: ports.pgadminPort!,
    minioPort: ports.minioPort!,
    minioConsolePort: ports.minioConsolePort!,
    pgadminEmail: pgadminEmail!,
    ...(pgadminPublicUrl === undefined ? {} : { pgadminPublicUrl }),
    backupRetentionDays: backupRetentionDays!,
    storage: storage!,
    postgresOverrides: overrides.params,
    protectData: protectData!,
    certRenewBeforeDays: certRenewBeforeDays!,
  };
}

/** The final postgresql.conf parameters for a validated stack configuration. */
export function postgresParameters(config: StackConfig): PgParams {
  const maxConnections = config.postgresOverrides.max_connections;
  const tuned = tunePostgres({
    memoryBytes: config.postgresMemoryBytes,
    cpus: config.postgresCpus,
    storage: config.storage,
    // work_mem is divided among connections, so size it for the overridden count.
    maxConnections: maxConnections === undefined ? undefined : Number(maxConnections),
  });
  return applyOverrides(tuned, config.postgresOverrides, config.postgresMemoryBytes);
}
