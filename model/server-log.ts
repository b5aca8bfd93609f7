import { invalid } from "./messages";
import type { PgParams } from "./tuning";

/**
 * Where PostgreSQL's log goes (kryonix:serverLog). Pure.
 *
 * - `file` (the default): the logging collector writes it, pgaudit's lines included, to files in
 *   a volume of its own (kryonix-<stack>-postgres-log, mounted at SERVER_LOG_DIR, outside the
 *   data directory), mode 0600, a new file every day or every `rotationSize`; the container's cron
 *   deletes files older than kryonix:serverLogRetentionDays (PostgreSQL never deletes one). Docker's
 *   log driver sees only what the server prints before the collector starts, and a crash.
 * - `docker`: the server logs to stderr, which Docker's log driver collects (json-file, rotated),
 *   as before. Every audit line then goes through the log driver, which costs write throughput.
 */
export const SERVER_LOG_MODES = ["file", "docker"] as const;
export type ServerLogMode = (typeof SERVER_LOG_MODES)[number];
export const SERVER_LOG_DIR = "/var/log/postgresql";
/** Sortable by time, one per rotation; only these are ever deleted by the cleanup job. */
export const SERVER_LOG_FILENAME = "postgresql-%Y-%m-%d_%H%M%S.log";
const SERVER_LOG_GLOB = "postgresql-*.log";

/** The volume's size cap's floor and default: 64 MiB is 16 files of the smallest rotation. */
export const MIN_SERVER_LOG_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_SERVER_LOG_MAX_BYTES = 2 * 1024 ** 3;
export const DEFAULT_SERVER_LOG_RETENTION_DAYS = 14;
export const MAX_SERVER_LOG_RETENTION_DAYS = 3650;

/**
 * How big a file grows before the collector starts the next: a twentieth of the cap, from 4 MiB
 * to 256 MiB, so the cap holds many files and deleting the oldest frees little at a time. In kB,
 * log_rotation_size's unit. Pure.
 */
export function serverLogRotationKb(maxBytes: number): number {
  if (!Number.isFinite(maxBytes) || maxBytes < MIN_SERVER_LOG_MAX_BYTES) {
    throw new Error(invalid("server log cap", maxBytes, `at least ${MIN_SERVER_LOG_MAX_BYTES} bytes`));
  }
  return Math.min(256 * 1024, Math.max(4 * 1024, Math.floor(maxBytes / 20 / 1024)));
}

/** postgresql.conf's logging settings for `mode` (the other log_* settings are the tuning's). Pure. */
export function serverLogParameters(mode: ServerLogMode, maxBytes: number): PgParams {
  if (mode === "docker") return { logging_collector: "off", log_destination: "stderr" };
  if (mode !== "file") throw new Error(invalid("kryonix:serverLog", mode, SERVER_LOG_MODES.join(" or ")));
  return {
    logging_collector: "on",
    log_destination: "stderr",
    log_directory: SERVER_LOG_DIR,
    log_filename: SERVER_LOG_FILENAME,
    log_file_mode: "0600",
    log_rotation_age: "1d",
    log_rotation_size: `${serverLogRotationKb(maxBytes)}kB`,
    // The names carry the second they were opened: a rotation never reopens an older file.
    log_truncate_on_rotation: "on",
  };
}

/**
 * The cron line (/etc/cron.d syntax, run as root, output to the container's log) that deletes the log files older than
 * `retentionDays`, every hour. Pure.
 */
export function serverLogCleanupCronLine(retentionDays: number): string {
  if (!Number.isInteger(retentionDays) || retentionDays < 1 || retentionDays > MAX_SERVER_LOG_RETENTION_DAYS) {
    throw new Error(invalid("kryonix:serverLogRetentionDays", retentionDays, `a whole number of days from 1 to ${MAX_SERVER_LOG_RETENTION_DAYS}`));
  }
  return `17 * * * * root find ${SERVER_LOG_DIR} -maxdepth 1 -type f -name '${SERVER_LOG_GLOB}' -mmin +${retentionDays * 1440} -delete >>/proc/1/fd/1 2>&1`;
}
