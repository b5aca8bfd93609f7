import { ConfigError, invalid } from "./messages";
import { GiB, KiB, MiB, SIZE_ALLOWED, formatPgSize, parseSize } from "./size";

export type Storage = "ssd" | "hdd";
export const STORAGE_TYPES: readonly Storage[] = ["ssd", "hdd"];

/** postgresql.conf parameters, already spelled the way PostgreSQL expects. */
export type PgParams = Record<string, string>;

export const DEFAULT_MAX_CONNECTIONS = 100;
export const MIN_MAX_CONNECTIONS = 10;
export const MAX_MAX_CONNECTIONS = 10_000;
// PgBouncer's pool sizing subtracts these slots, so both read this constant.
export const SUPERUSER_RESERVED_CONNECTIONS = 3;
// Below this, 25% shared_buffers is too small for PostgreSQL 17 plus
// pg_stat_statements and pgaudit to be worth running.
export const MIN_POSTGRES_MEMORY = 256 * MiB;
export const MIN_CPUS = 0.5;
export const MAX_CPUS = 64;
// Above this, shared_buffers crowds out the page cache and per-backend memory
// inside the same cgroup limit, and the OOM killer takes the postmaster.
export const MAX_SHARED_BUFFERS_FRACTION = 0.4;
// Huge pages only pay off once the buffer pool's page tables get large, and
// "try" still starts when the host has none reserved.
export const HUGE_PAGES_FROM = 32 * GiB;

export interface TuningInput {
  /** The container's memory limit in bytes. */
  memoryBytes: number;
  /** The container's CPU limit; fractions are allowed (Docker --cpus). */
  cpus: number;
  storage: Storage;
  maxConnections?: number;
}

function floorTo(bytes: number, unit: number): number {
  return Math.floor(bytes / unit) * unit;
}

function checkTuningInput(input: TuningInput): number {
  const { memoryBytes, cpus, storage } = input;
  const maxConnections = input.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isSafeInteger(memoryBytes) || memoryBytes < MIN_POSTGRES_MEMORY) {
    throw new Error(invalid("kryonix:postgresMemory", memoryBytes, "a byte count of at least 256MiB (268435456)"));
  }
  if (!Number.isFinite(cpus) || cpus < MIN_CPUS || cpus > MAX_CPUS) {
    throw new Error(invalid("kryonix:postgresCpus", cpus, `a number from ${MIN_CPUS} to ${MAX_CPUS}`));
  }
  if (!STORAGE_TYPES.includes(storage)) {
    throw new Error(invalid("kryonix:storage", storage, `one of ${STORAGE_TYPES.join(", ")}`));
  }
  if (
    !Number.isInteger(maxConnections) ||
    maxConnections < MIN_MAX_CONNECTIONS ||
    maxConnections > MAX_MAX_CONNECTIONS
  ) {
    throw new Error(
      invalid(
        "kryonix:postgresOverrides.max_connections",
        maxConnections,
        `an integer from ${MIN_MAX_CONNECTIONS} to ${MAX_MAX_CONNECTIONS}`,
      ),
    );
  }
  return maxConnections;
}

/**
 * postgresql.conf parameters for a PostgreSQL container with the given limits,
 * following PGTune's "web application" profile. The container limit is the
 * whole machine as far as PostgreSQL is concerned: its page cache is charged
 * to the same cgroup, so nothing is reserved for other services.
 *
 * At 1 GiB / 2 CPUs / SSD this reproduces the hand-written seed configuration.
 */
export function tunePostgres(input: TuningInput): PgParams {
  const maxConnections = checkTuningInput(input);
  const memory = input.memoryBytes;
  const ssd = input.storage === "ssd";

  const sharedBuffers = floorTo(memory / 4, MiB);
  // PGTune's 75%, but never below min(memory, 1GB): the value is only a
  // planner hint, and in a small dedicated container nearly all memory
  // really is cache. This keeps the seed's 1GB at 1 GiB.
  const effectiveCacheSize = Math.max(floorTo(memory * 0.75, MiB), floorTo(Math.min(memory, GiB), MiB));
  // Past 2GB, VACUUM and CREATE INDEX stop getting faster (autovacuum caps at 1GB).
  const maintenanceWorkMem = Math.min(2 * GiB, floorTo(memory / 16, MiB));
  // 16MB is one WAL segment, beyond which extra WAL buffers do not help.
  const walBuffers = Math.min(16 * MiB, floorTo(sharedBuffers / 16, KiB));

  // Fractional CPU limits still get one worker; parallel query needs >= 2 cores.
  const cores = Math.max(1, Math.floor(input.cpus));
  const workersPerGather = Math.min(4, Math.floor(cores / 2));
  // Each sort/hash node may use work_mem, a query may have ~3 of them, and each
  // parallel worker gets its own allowance. 4MB (the PostgreSQL default) is
  // the floor: smaller only pushes sorts to disk.
  const workMem = Math.max(
    4 * MiB,
    floorTo((memory - sharedBuffers) / (maxConnections * 3) / Math.max(1, workersPerGather), MiB),
  );

  return {
    listen_addresses: "*",
    max_connections: String(maxConnections),
    superuser_reserved_connections: String(SUPERUSER_RESERVED_CONNECTIONS),
    password_encryption: "scram-sha-256",

    shared_buffers: formatPgSize(sharedBuffers),
    effective_cache_size: formatPgSize(effectiveCacheSize),
    maintenance_work_mem: formatPgSize(maintenanceWorkMem),
    work_mem: formatPgSize(workMem),
    huge_pages: memory >= HUGE_PAGES_FROM ? "try" : "off",

    wal_buffers: formatPgSize(walBuffers),
    // WAL volume depends on write load and disk, not on RAM, so these stay
    // at PGTune's web-profile values for every size.
    min_wal_size: "1GB",
    max_wal_size: "4GB",
    checkpoint_completion_target: "0.9",

    default_statistics_target: "100",
    random_page_cost: ssd ? "1.1" : "4",
    effective_io_concurrency: ssd ? "200" : "2",

    // PostgreSQL's own default of 8 leaves room for extension background
    // workers on small containers; larger ones get one per core.
    max_worker_processes: String(Math.max(8, cores)),
    max_parallel_workers: String(cores),
    max_parallel_workers_per_gather: String(workersPerGather),
    max_parallel_maintenance_workers: String(workersPerGather),

    // auth_delay: every failed authentication waits (CIS 5.7), which slows password guessing.
    shared_preload_libraries: "pg_stat_statements,pgaudit,auth_delay",
    // What the slow-query views read (sql/006, sql/007): the statements clients send. Statements
    // inside functions (top) and utility commands (BEGIN, COMMIT, SET: three of a pooled TPC-B
    // transaction's seven) are not counted, which keeps the extension's cost per transaction down.
    "pg_stat_statements.track": "top",
    "pg_stat_statements.track_utility": "off",
    "auth_delay.milliseconds": "500",
    authentication_timeout: "30s",

    // Statements are audited by pgaudit, which writes CREATE/ALTER ROLE ... PASSWORD as
    // <REDACTED>. log_statement = ddl as well (CIS 3.1.25): it would write a password (or its SCRAM
    // verifier) in clear, so the stack's own superuser sessions, the ones that set passwords, turn
    // it off for themselves (ADMIN_SESSION_OPTIONS). The seed's log_statement=mod is pgaudit's
    // write and ddl classes, plus role.
    log_statement: "ddl",
    "pgaudit.log": "ddl,role,write",
    "pgaudit.log_catalog": "off",
    "pgaudit.log_parameter": "off",
    "pgaudit.log_relation": "off",
    // A failing statement is logged with its ERROR (CIS 3.1.15). The stack's own sessions as the
    // superuser, the only ones that send ALTER ROLE ... PASSWORD, start with
    // ADMIN_SESSION_OPTIONS: a failing one of theirs logs its error without its text (and so
    // without the SCRAM verifier). Bind parameters are never logged.
    log_min_error_statement: "error",
    log_parameter_max_length: "0",
    log_parameter_max_length_on_error: "0",
    log_error_verbosity: "verbose",
    log_replication_commands: "on",
    log_line_prefix: "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
    log_checkpoints: "on",
    log_connections: "on",
    log_disconnections: "on",
    log_min_duration_statement: "500",
    // Only postgres and its group may use the Unix socket (CIS 2.6).
    unix_socket_permissions: "0770",
  };
}

/**
 * Startup options (libpq `options`, PGOPTIONS) of the sessions the stack opens as the superuser:
 * the postgresql provider's and the dynamic providers'. They alone send ALTER ROLE ... PASSWORD
 * with a SCRAM verifier; with these, a statement of theirs is never written to the log by
 * log_statement, nor when it fails or runs long (its error still is, and pgaudit's redacted line),
 * while every other session's DDL and failing statement is.
 * Superuser-only parameters: a session as another role must not send them.
 */
export const ADMIN_SESSION_OPTIONS = "-c log_statement=none -c log_min_error_statement=panic -c log_min_duration_statement=-1";

type GucSpec =
  | { kind: "size"; special?: readonly string[] }
  | { kind: "int"; min: number; max: number }
  | { kind: "real"; min: number; max: number }
  | { kind: "bool" }
  | { kind: "time" }
  | { kind: "enum"; values: readonly string[]; why?: string }
  | { kind: "string" };

const size = (...special: string[]): GucSpec => ({ kind: "size", special });
const int = (min: number, max: number): GucSpec => ({ kind: "int", min, max });
const real = (min: number, max: number): GucSpec => ({ kind: "real", min, max });
const bool: GucSpec = { kind: "bool" };
const time: GucSpec = { kind: "time" };
const oneOf = (values: string[], why?: string): GucSpec => ({ kind: "enum", values, why });
const str: GucSpec = { kind: "string" };

/**
 * Parameters a stack may set through kryonix:postgresOverrides: everything
 * tunePostgres emits plus common operational knobs. The list is closed so a
 * typo fails at preview time instead of at PostgreSQL start, and so nothing
 * that could carry a secret (ssl_passphrase_command, ...) reaches the file.
 */
const GUCS: Readonly<Record<string, GucSpec>> = {
  max_connections: int(MIN_MAX_CONNECTIONS, MAX_MAX_CONNECTIONS),
  superuser_reserved_connections: int(1, 20),
  password_encryption: oneOf(["scram-sha-256"], "md5 password hashes are not accepted"),
  idle_in_transaction_session_timeout: time,
  idle_session_timeout: time,
  statement_timeout: time,
  lock_timeout: time,
  deadlock_timeout: time,

  shared_buffers: size(),
  effective_cache_size: size(),
  maintenance_work_mem: size(),
  autovacuum_work_mem: size("-1"),
  work_mem: size(),
  hash_mem_multiplier: real(1, 1000),
  temp_buffers: size(),
  logical_decoding_work_mem: size(),
  temp_file_limit: size("-1"),
  huge_pages: oneOf(["off", "on", "try"]),

  wal_buffers: size("-1"),
  min_wal_size: size(),
  max_wal_size: size(),
  wal_keep_size: size("0"),
  max_slot_wal_keep_size: size("-1"),
  checkpoint_completion_target: real(0, 1),
  checkpoint_timeout: time,
  wal_compression: oneOf(["off", "on", "pglz", "lz4", "zstd"]),
  wal_level: oneOf(["minimal", "replica", "logical"]),
  synchronous_commit: oneOf(["on", "off", "local", "remote_write", "remote_apply"]),
  max_wal_senders: int(0, 100),
  max_replication_slots: int(0, 100),

  default_statistics_target: int(1, 10_000),
  random_page_cost: real(0.01, 1000),
  seq_page_cost: real(0.01, 1000),
  effective_io_concurrency: int(0, 1000),
  maintenance_io_concurrency: int(0, 1000),
  jit: bool,

  max_worker_processes: int(1, 1024),
  max_parallel_workers: int(0, 1024),
  max_parallel_workers_per_gather: int(0, 1024),
  max_parallel_maintenance_workers: int(0, 1024),

  autovacuum: bool,
  autovacuum_max_workers: int(1, 100),
  autovacuum_naptime: time,
  autovacuum_vacuum_scale_factor: real(0, 100),
  autovacuum_analyze_scale_factor: real(0, 100),
  autovacuum_vacuum_cost_limit: int(-1, 10_000),

  "pg_stat_statements.track": oneOf(["none", "top", "all"]),
  "pg_stat_statements.max": int(100, 1_000_000),
  "pg_stat_statements.track_utility": bool,
  "pgaudit.log": str,
  "pgaudit.log_catalog": bool,
  "auth_delay.milliseconds": int(0, 10_000),
  authentication_timeout: time,
  log_min_error_statement: oneOf(["error", "panic"], "error logs failing statements (CIS 3.1.15), panic none; a more verbose level would log statements that only warn"),
  log_parameter_max_length: int(0, 0),
  log_parameter_max_length_on_error: int(0, 0),
  log_error_verbosity: oneOf(["default", "verbose"]),
  log_replication_commands: bool,
  unix_socket_permissions: oneOf(["0700", "0770"], "never open to other users"),
  "pgaudit.log_parameter": oneOf(["off"], "bind parameters may carry secrets"),
  "pgaudit.log_relation": bool,

  log_statement: oneOf(["none", "ddl", "mod", "all"]),
  log_line_prefix: str,
  log_checkpoints: bool,
  log_connections: bool,
  log_disconnections: bool,
  log_lock_waits: bool,
  log_min_duration_statement: time,
  log_autovacuum_min_duration: time,
  log_temp_files: size("-1", "0"),
  log_min_messages: oneOf([
    "debug5", "debug4", "debug3", "debug2", "debug1", "info", "notice", "warning", "error", "log", "fatal", "panic",
  ]),
  track_io_timing: bool,
  timezone: str,
  log_timezone: str,
};

/** Every parameter name kryonix:postgresOverrides accepts, sorted. */
export const KNOWN_PARAMETERS: readonly string[] = Object.keys(GUCS).sort();

const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const NUMBER = /^[+-]?(\d+|\d*\.\d+)$/;
const TIME = /^(-1|\d+\s*(us|ms|s|min|h|d)?)$/;
const BOOLEANS: Readonly<Record<string, string>> = {
  on: "on", true: "on", yes: "on", "1": "on",
  off: "off", false: "off", no: "off", "0": "off",
};

/**
 * Normalises one override to postgresql.conf spelling. Returns the value, or
 * an `allowed` description when the value is not acceptable.
 */
function normalise(name: string, spec: GucSpec, raw: string): { value: string } | { allowed: string } {
  const text = raw.trim();
  switch (spec.kind) {
    case "size": {
      const special = spec.special ?? [];
      if (special.includes(text)) return { value: text };
      const allowed = `${SIZE_ALLOWED}${special.length ? `, or ${special.join(" or ")}` : ""}`;
      // A bare number is in the GUC's own unit (8kB pages for shared_buffers),
      // which is a classic off-by-8192 mistake: insist on a unit.
      if (/^\d+$/.test(text)) return { allowed: `a size with a unit; ${allowed}` };
      try {
        return { value: formatPgSize(parseSize(text, name)) };
      } catch {
        return { allowed };
      }
    }
    case "int":
    case "real": {
      const n = NUMBER.test(text) ? Number(text) : NaN;
      const ok = Number.isFinite(n) && n >= spec.min && n <= spec.max && (spec.kind === "real" || Number.isInteger(n));
      if (ok) return { value: String(n) };
      return { allowed: `${spec.kind === "int" ? "an integer" : "a number"} from ${spec.min} to ${spec.max}` };
    }
    case "bool": {
      const value = BOOLEANS[text.toLowerCase()];
      return value ? { value } : { allowed: "on or off" };
    }
    case "time":
      return TIME.test(text)
        ? { value: text.replace(/\s+/g, "") }
        : { allowed: "-1, or a whole number optionally followed by us, ms, s, min, h or d (default unit: the parameter's own)" };
    case "enum": {
      const value = text.toLowerCase();
      if (spec.values.includes(value)) return { value };
      return { allowed: `one of ${spec.values.join(", ")}${spec.why ? ` (${spec.why})` : ""}` };
    }
    case "string":
      return { value: raw };
  }
}

export interface OverrideCheck {
  /** Normalised overrides (lower-case names, PostgreSQL spelling). */
  params: PgParams;
  problems: string[];
}

/**
 * Validates per-stack overrides without throwing, so the stack configuration
 * can report them together with its other problems. Pass memoryBytes as
 * undefined when the memory setting itself is invalid: the shared_buffers
 * ratio cannot be checked then. `owned`: why the stack sets a parameter itself
 * (model/config.ts stackOwnedReason), or undefined; each such one is refused with why.
 */
export function checkOverrides(
  overrides: unknown,
  memoryBytes: number | undefined,
  setting = "kryonix:postgresOverrides",
  owned: (name: string) => string | undefined = () => undefined,
): OverrideCheck {
  const params: PgParams = {};
  const problems: string[] = [];
  if (overrides === undefined || overrides === null) return { params, problems };
  if (typeof overrides !== "object" || Array.isArray(overrides)) {
    problems.push(invalid(setting, overrides, 'an object mapping PostgreSQL parameter names to values, e.g. {"work_mem": "16MB"}'));
    return { params, problems };
  }

  for (const [rawName, rawValue] of Object.entries(overrides)) {
    // PostgreSQL parameter names are case-insensitive.
    const name = rawName.toLowerCase();
    const key = `${setting}.${rawName}`;
    const why = owned(name);
    if (why !== undefined) {
      problems.push(invalid(key, rawValue, `the stack sets ${name} itself and no override may change it: ${why}`));
      continue;
    }
    const spec = GUCS[name];
    if (!spec) {
      problems.push(invalid(setting, rawName, `not a parameter the stack manages; allowed: ${KNOWN_PARAMETERS.join(", ")}`));
      continue;
    }
    if (name in params) {
      problems.push(invalid(key, rawValue, `${name} is set more than once (names are case-insensitive)`));
      continue;
    }
    if (!["string", "number", "boolean"].includes(typeof rawValue)) {
      problems.push(invalid(key, rawValue, "a string, number or boolean"));
      continue;
    }
    const raw = typeof rawValue === "boolean" ? (rawValue ? "on" : "off") : String(rawValue);
    // A newline would let a value smuggle extra lines into postgresql.conf.
    if (CONTROL_CHARS.test(raw) || raw.length > 1024) {
      problems.push(invalid(key, rawValue, "a single line of at most 1024 characters"));
      continue;
    }
    const result = normalise(name, spec, raw);
    if ("allowed" in result) {
      problems.push(invalid(key, rawValue, result.allowed));
      continue;
    }
    if (name === "shared_buffers" && memoryBytes !== undefined) {
      const limit = floorTo(memoryBytes * MAX_SHARED_BUFFERS_FRACTION, MiB);
      if (parseSize(result.value, key) > limit) {
        problems.push(
          invalid(
            key,
            rawValue,
            `shared_buffers ${result.value} exceeds 40% of the ${formatPgSize(memoryBytes)} postgres memory limit ` +
              `(at most ${formatPgSize(limit)}); raise kryonix:postgresMemory instead`,
          ),
        );
        continue;
      }
    }
    params[name] = result.value;
  }
  return { params, problems };
}

/**
 * Merges per-stack overrides over the tuned parameters. Throws a ConfigError
 * listing every bad override. When overriding max_connections, pass the same
 * value to tunePostgres so work_mem is sized for it.
 */
export function applyOverrides(tuned: PgParams, overrides: Readonly<Record<string, unknown>>, memoryBytes: number): PgParams {
  const { params, problems } = checkOverrides(overrides, memoryBytes);
  if (problems.length) {
    throw new ConfigError(`kryonix:postgresOverrides has ${problems.length} invalid setting(s):`, problems);
  }
  return { ...tuned, ...params };
}

const PARAM_NAME = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;
// Numbers, sizes and times ("0.9", "16MB", "-1", "5min") and booleans are
// PostgreSQL literals; everything else is safest quoted.
const UNQUOTED = /^([+-]?(\d+|\d*\.\d+)[a-zA-Z]*|on|off|true|false)$/;

/** Formats one value for postgresql.conf, quoting where PostgreSQL needs it. */
export function formatConfValue(name: string, value: string): string {
  if (CONTROL_CHARS.test(value)) {
    throw new Error(invalid(name, value, "a single line without control characters"));
  }
  if (GUCS[name]?.kind !== "string" && UNQUOTED.test(value)) return value;
  // Inside quotes PostgreSQL reads '' as a quote and backslash escapes.
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/** The postgresql.conf text for the given parameters, keys sorted for stable diffs. */
export function renderPostgresqlConf(params: PgParams): string {
  const lines = [
    "# Generated by kryonix-db from the Pulumi stack configuration; do not edit.",
    "# Change kryonix:postgresMemory, kryonix:postgresCpus or kryonix:postgresOverrides instead.",
    "# Secrets never go in this file: passwords are set through the stack's secrets.",
  ];
  for (const name of Object.keys(params).sort()) {
    if (!PARAM_NAME.test(name)) {
      const allowed = "lower-case letters, digits and _, optionally one extension prefix (e.g. pg_stat_statements.track)";
      throw new Error(invalid("postgresql.conf parameter name", name, allowed));
    }
    if (CONF_NOTES[name]) lines.push(`# ${CONF_NOTES[name]}`);
    lines.push(`${name} = ${formatConfValue(name, params[name])}`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Comments above the settings a CIS checker reports, for whoever reads its report and then this
 * file: why the value is what it is (npm run audit prints the same as the waiver's reason).
 */
const CONF_NOTES: Readonly<Record<string, string>> = {
  log_statement:
    "ddl (CIS 3.1.25), besides pgaudit (pgaudit.log = ddl, role, write), which writes passwords as <REDACTED>. log_statement writes them in clear: the stack's own superuser sessions, which set passwords, start with log_statement=none (PGOPTIONS); a DBA who sets one by hand starts that session with PGOPTIONS='-c log_statement=none'.",
  log_min_error_statement: "The stack's own superuser sessions start with log_min_error_statement=panic (PGOPTIONS): a failing ALTER ROLE ... PASSWORD of theirs is logged without its text.",
};

/**
 * Parameters the image's entrypoint sets on the server's command line, or that every other
 * container relies on; none is in postgresql.conf. Pure.
 */
export const SERVER_RUNTIME_PARAMETERS: Readonly<Record<string, string>> = {
  data_directory: "the entrypoint runs the server on the data volume (postgres -D)",
  config_file: "the entrypoint points the server at the postgresql.conf the stack renders",
  hba_file: "the entrypoint points the server at the pg_hba.conf the stack renders",
  ident_file: "the stack authenticates with peer and scram-sha-256 only (pg_hba.conf)",
  external_pid_file: "the server runs as the container's main process",
  port: "PgBouncer, the exporters, the drill and the jobs reach the server on 5432 inside the stack network; the host port is kryonix:postgresPort",
  unix_socket_directories: "the jobs, backups and status checks connect over /run/postgresql as postgres (peer)",
  unix_socket_group: "the socket belongs to postgres and its group (CIS 2.6)",
};

/**
 * What the Postgres component sets over the tuned parameters for its container `hostname`:
 * listening on the loopback and the container's own name only (its address on the stack
 * network, CIS 5.2), not on every address. Pure.
 */
export function containerParameters(hostname: string): PgParams {
  return { listen_addresses: `localhost,${hostname}` };
}
