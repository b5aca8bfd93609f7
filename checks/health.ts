/**
 * `npm run health`: what the monitoring views of sql/006 and sql/007 say, judged against
 * thresholds. Everything here is pure: the script reads the views (HEALTH_QUERIES) into a
 * HealthSnapshot, and evaluateHealth turns it into findings. The Prometheus rules
 * (render/prometheus.ts) use the same DEFAULT_THRESHOLDS.
 */
import { invalid } from "../model/messages";
import { DEFAULT_THRESHOLDS, mergeThresholds, type Thresholds } from "../model/thresholds";

export type Severity = "ok" | "warning" | "critical";

export interface SessionRow {
  pid: number;
  usename: string | null;
  application_name: string | null;
  client_addr: string | null;
  seconds: number;
  query: string | null;
}

export interface LockWaitRow {
  waiting_pid: number;
  waiting_user: string | null;
  waiting_seconds: number;
  blocking_pid: number;
  blocking_user: string | null;
  blocking_state: string | null;
}

export interface BloatRow {
  schemaname: string;
  tablename: string;
  dead_ratio: number;
  estimated_bloat_bytes: number;
}

export interface HealthSnapshot {
  stack: string;
  /** When it was read (the server's clock). */
  at: string;
  connections: { client: number; active: number; idleInTransaction: number; max: number; superuserReserved: number };
  cache: { hit: number; read: number; ratio: number | null };
  idleInTransaction: SessionRow[];
  longRunning: SessionRow[];
  lockWaits: LockWaitRow[];
  bloat: BloatRow[];
  archiver: { archiveMode: string; archivedCount: number; failedCount: number; lastArchivedTime: string | null; lastFailedTime: string | null; failing: boolean };
  lastBackup: { file: string | null; finishedAt: string | null; ageSeconds: number | null };
  slowQueries: { query: string; mean_exec_time: number; calls: number }[];
  tableSizes: { schemaname: string; tablename: string; size: string }[];
  unusedIndexes: { schemaname: string; tablename: string; indexname: string; index_size: string }[];
  /** The logging collector's files (kryonix:serverLog = file): their total size and count; null with the collector off. */
  serverLog: { collector: boolean; directory: string; bytes: number | null; files: number | null };
}

export interface Finding {
  check: string;
  severity: Severity;
  message: string;
}

export interface HealthReport {
  stack: string;
  at: string;
  status: Severity;
  thresholds: Thresholds;
  findings: Finding[];
  snapshot: HealthSnapshot;
}

/** The monitoring views each part of the snapshot is read from (all in schema audit). */
export const HEALTH_QUERIES = {
  connections: "SELECT * FROM audit.monitoring_connections",
  cache: "SELECT * FROM audit.monitoring_cache_hit_ratio",
  idleInTransaction: "SELECT pid, usename, application_name, client_addr::text, idle_seconds AS seconds, last_query AS query FROM audit.monitoring_idle_in_transaction",
  longRunning: "SELECT pid, usename, application_name, client_addr::text, running_seconds AS seconds, query FROM audit.monitoring_long_running",
  lockWaits: "SELECT * FROM audit.monitoring_lock_waits",
  bloat: "SELECT schemaname, tablename, dead_ratio, estimated_bloat_bytes FROM audit.monitoring_bloat LIMIT 20",
  archiver: "SELECT * FROM audit.monitoring_archiver",
  lastBackup: "SELECT * FROM audit.monitoring_last_backup",
  slowQueries: "SELECT left(query, 120) AS query, mean_exec_time, calls FROM audit.monitoring_slow_queries LIMIT 5",
  tableSizes: "SELECT schemaname, tablename, size FROM audit.monitoring_table_sizes LIMIT 10",
  unusedIndexes: "SELECT schemaname, tablename, indexname, index_size FROM audit.monitoring_unused_indexes",
  // pg_ls_logdir() (pg_monitor) lists the collector's directory, the log volume; without the collector there is none.
  serverLog: `SELECT current_setting('logging_collector') AS collector, current_setting('log_directory') AS directory,
  CASE WHEN current_setting('logging_collector') = 'on' THEN (SELECT coalesce(sum(size), 0) FROM pg_ls_logdir()) END AS bytes,
  CASE WHEN current_setting('logging_collector') = 'on' THEN (SELECT count(*) FROM pg_ls_logdir()) END AS files`,
} as const;

type Row = Record<string, unknown>;
const num = (v: unknown): number => (v === null || v === undefined ? NaN : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : v instanceof Date ? v.toISOString() : String(v));

/**
 * A statement's text with password literals masked: pg_stat_statements keeps CREATE/ALTER ROLE
 * ... PASSWORD '<SCRAM verifier>' as sent, and a verifier can be attacked offline. Pure.
 */
export function maskPasswords(query: string): string {
  return query.replace(/(PASSWORD\s+)'(?:[^']|'')*'?/gi, "$1'***'");
}
const statement = (v: unknown): string | null => {
  const s = str(v);
  return s === null ? null : maskPasswords(s);
};

/** The snapshot from the rows of HEALTH_QUERIES (node-postgres gives bigint and numeric as strings). Pure. */
export function snapshotFromRows(stack: string, at: string, rows: Readonly<Record<keyof typeof HEALTH_QUERIES, Row[]>>): HealthSnapshot {
  const c = rows.connections[0] ?? {};
  const cache = rows.cache[0] ?? {};
  const a = rows.archiver[0] ?? {};
  const b = rows.lastBackup[0] ?? {};
  const session = (r: Row): SessionRow => ({
    pid: num(r.pid),
    usename: str(r.usename),
    application_name: str(r.application_name),
    client_addr: str(r.client_addr),
    seconds: num(r.seconds),
    query: statement(r.query),
  });
  return {
    stack,
    at,
    connections: {
      client: num(c.client_connections),
      active: num(c.active),
      idleInTransaction: num(c.idle_in_transaction),
      max: num(c.max_connections),
      superuserReserved: num(c.superuser_reserved_connections),
    },
    cache: { hit: num(cache.blks_hit ?? 0), read: num(cache.blks_read ?? 0), ratio: numOrNull(cache.cache_hit_ratio) },
    idleInTransaction: rows.idleInTransaction.map(session),
    longRunning: rows.longRunning.map(session),
    lockWaits: rows.lockWaits.map((r) => ({
      waiting_pid: num(r.waiting_pid),
      waiting_user: str(r.waiting_user),
      waiting_seconds: num(r.waiting_seconds),
      blocking_pid: num(r.blocking_pid),
      blocking_user: str(r.blocking_user),
      blocking_state: str(r.blocking_state),
    })),
    bloat: rows.bloat.map((r) => ({
      schemaname: String(r.schemaname),
      tablename: String(r.tablename),
      dead_ratio: num(r.dead_ratio),
      estimated_bloat_bytes: num(r.estimated_bloat_bytes),
    })),
    archiver: {
      archiveMode: String(a.archive_mode ?? "unknown"),
      archivedCount: num(a.archived_count ?? 0),
      failedCount: num(a.failed_count ?? 0),
      lastArchivedTime: str(a.last_archived_time),
      lastFailedTime: str(a.last_failed_time),
      failing: a.failing === true,
    },
    lastBackup: { file: str(b.backup_history_file), finishedAt: str(b.finished_at), ageSeconds: numOrNull(b.age_seconds) },
    slowQueries: rows.slowQueries.map((r) => ({ query: maskPasswords(String(r.query)), mean_exec_time: num(r.mean_exec_time), calls: num(r.calls) })),
    tableSizes: rows.tableSizes.map((r) => ({ schemaname: String(r.schemaname), tablename: String(r.tablename), size: String(r.size) })),
    unusedIndexes: rows.unusedIndexes.map((r) => ({
      schemaname: String(r.schemaname),
      tablename: String(r.tablename),
      indexname: String(r.indexname),
      index_size: String(r.index_size),
    })),
    serverLog: (() => {
      const l = (rows.serverLog ?? [])[0] ?? {};
      return { collector: l.collector === "on", directory: String(l.directory ?? ""), bytes: numOrNull(l.bytes), files: numOrNull(l.files) };
    })(),
  };
}

/** 90 s, 12 min, 3.5 h, 2 d. Pure. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
}

const who = (s: { pid: number; usename: string | null; application_name?: string | null }) =>
  `pid ${s.pid} (${s.usename ?? "?"}${s.application_name ? `, ${s.application_name}` : ""})`;

/** The findings for a snapshot: one per check, ok or not, worst first within the list's order. Pure. */
export function evaluateHealth(s: HealthSnapshot, t: Thresholds = DEFAULT_THRESHOLDS): Finding[] {
  const findings: Finding[] = [];
  const add = (check: string, severity: Severity, message: string) => findings.push({ check, severity, message });

  const ratio = s.connections.max > 0 ? s.connections.client / s.connections.max : NaN;
  const conn = `${s.connections.client} of max_connections ${s.connections.max} (${(ratio * 100).toFixed(0)}%), ${s.connections.active} active`;
  if (!(ratio <= t.connectionsCriticalRatio)) add("connections", "critical", `${conn}: above ${pct(t.connectionsCriticalRatio)}`);
  else if (ratio > t.connectionsWarnRatio) add("connections", "warning", `${conn}: above ${pct(t.connectionsWarnRatio)}`);
  else add("connections", "ok", conn);

  const blocks = s.cache.hit + s.cache.read;
  if (s.cache.ratio === null || blocks < t.cacheHitMinBlocks) {
    add("cache hit ratio", "ok", `${s.cache.ratio ?? "n/a"} over ${blocks} blocks: too few reads to judge (under ${t.cacheHitMinBlocks})`);
  } else if (s.cache.ratio < t.cacheHitRatioWarn) {
    add("cache hit ratio", "warning", `${s.cache.ratio} over ${blocks} blocks: below ${t.cacheHitRatioWarn} (shared_buffers too small for the working set?)`);
  } else add("cache hit ratio", "ok", `${s.cache.ratio} over ${blocks} blocks`);

  const idle = s.idleInTransaction.filter((r) => r.seconds > t.idleInTransactionWarnSeconds);
  const idleCritical = idle.filter((r) => r.seconds > t.idleInTransactionCriticalSeconds);
  const idleText = (rows: SessionRow[]) => rows.map((r) => `${who(r)} idle in transaction for ${formatSeconds(r.seconds)}`).join("; ");
  if (idleCritical.length) add("idle in transaction", "critical", `${idleText(idleCritical)}: over ${formatSeconds(t.idleInTransactionCriticalSeconds)}`);
  else if (idle.length) add("idle in transaction", "warning", `${idleText(idle)}: over ${formatSeconds(t.idleInTransactionWarnSeconds)}`);
  else add("idle in transaction", "ok", `${s.idleInTransaction.length} session(s), none over ${formatSeconds(t.idleInTransactionWarnSeconds)}`);

  const long = s.longRunning.filter((r) => r.seconds > t.longRunningWarnSeconds);
  if (long.length) add("long-running statements", "warning", long.map((r) => `${who(r)} running for ${formatSeconds(r.seconds)}: ${r.query ?? ""}`).join("; "));
  else add("long-running statements", "ok", `${s.longRunning.length} running, none over ${formatSeconds(t.longRunningWarnSeconds)}`);

  const waits = s.lockWaits.filter((r) => r.waiting_seconds > t.lockWaitWarnSeconds);
  if (waits.length) {
    add("lock waits", "warning", waits.map((r) => `pid ${r.waiting_pid} (${r.waiting_user ?? "?"}) waits ${formatSeconds(r.waiting_seconds)} for pid ${r.blocking_pid} (${r.blocking_user ?? "?"}, ${r.blocking_state ?? "?"})`).join("; "));
  } else add("lock waits", "ok", `${s.lockWaits.length} waiting, none over ${formatSeconds(t.lockWaitWarnSeconds)}`);

  const bloated = s.bloat.filter((r) => r.dead_ratio >= t.bloatWarnRatio && r.estimated_bloat_bytes >= t.bloatMinBytes);
  if (bloated.length) {
    add("bloat", "warning", bloated.map((r) => `${r.schemaname}.${r.tablename}: ${pct(r.dead_ratio)} dead rows, ~${mib(r.estimated_bloat_bytes)}`).join("; "));
  } else add("bloat", "ok", `no table with ${pct(t.bloatWarnRatio)} dead rows and ${mib(t.bloatMinBytes)} of estimated bloat`);

  const a = s.archiver;
  if (a.archiveMode !== "on" && a.archiveMode !== "always") add("WAL archiving", "critical", `archive_mode is ${a.archiveMode}: no point-in-time recovery`);
  else if (a.failing) add("WAL archiving", "critical", `failing: last failure ${a.lastFailedTime}, last success ${a.lastArchivedTime ?? "never"} (${a.failedCount} failures)`);
  else add("WAL archiving", "ok", `${a.archivedCount} archived, last ${a.lastArchivedTime ?? "never"}, ${a.failedCount} failures`);

  const maxAge = t.backupMaxAgeHours * 3600;
  if (s.lastBackup.ageSeconds === null) add("last backup", "critical", "no backup finished on this cluster (run `npm run backup`)");
  else if (s.lastBackup.ageSeconds > maxAge) {
    add("last backup", "critical", `the last backup finished ${formatSeconds(s.lastBackup.ageSeconds)} ago (${s.lastBackup.finishedAt}): over ${t.backupMaxAgeHours} h`);
  } else add("last backup", "ok", `finished ${formatSeconds(s.lastBackup.ageSeconds)} ago (${s.lastBackup.finishedAt})`);

  const log = s.serverLog;
  if (!log?.collector || log.bytes === null) add("server log", "ok", "logged to Docker's log driver (kryonix:serverLog = docker)");
  else {
    const size = `${mib(log.bytes)} in ${log.files} file(s) in ${log.directory}, cap ${mib(t.serverLogMaxBytes)}`;
    if (log.bytes >= t.serverLogMaxBytes) add("server log", "critical", `${size}: full (raise kryonix:serverLogMaxSize or lower kryonix:serverLogRetentionDays)`);
    else if (log.bytes > t.serverLogWarnRatio * t.serverLogMaxBytes) add("server log", "warning", `${size}: above ${pct(t.serverLogWarnRatio)} of the cap`);
    else add("server log", "ok", size);
  }

  return findings;
}

/** The worst severity of the findings. Pure. */
export function overallSeverity(findings: readonly Finding[]): Severity {
  if (findings.some((f) => f.severity === "critical")) return "critical";
  if (findings.some((f) => f.severity === "warning")) return "warning";
  return "ok";
}

/** Exit code of `npm run health`: 1 on a critical finding, else 0 (warnings are printed, not fatal). */
export function healthExitCode(report: Pick<HealthReport, "status">): number {
  return report.status === "critical" ? 1 : 0;
}

export function buildReport(snapshot: HealthSnapshot, thresholds: Thresholds = DEFAULT_THRESHOLDS): HealthReport {
  const findings = evaluateHealth(snapshot, thresholds);
  return { stack: snapshot.stack, at: snapshot.at, status: overallSeverity(findings), thresholds, findings, snapshot };
}

function pct(r: number): string {
  return `${Math.round(r * 100)}%`;
}
function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

const MARK: Record<Severity, string> = { ok: "ok      ", warning: "WARNING ", critical: "CRITICAL" };

/** The readable report. Pure. */
export function renderHealth(report: HealthReport): string {
  const s = report.snapshot;
  const lines = [`health of stack ${report.stack} at ${report.at}: ${report.status.toUpperCase()}`, ""];
  const width = Math.max(...report.findings.map((f) => f.check.length));
  for (const f of report.findings) lines.push(`${MARK[f.severity]}  ${f.check.padEnd(width)}  ${f.message}`);
  lines.push("", "slowest statements (mean ms, calls):");
  for (const q of s.slowQueries) lines.push(`  ${q.mean_exec_time.toFixed(1).padStart(10)}  ${String(q.calls).padStart(8)}  ${q.query.replace(/\s+/g, " ")}`);
  lines.push("", "largest tables:");
  for (const t of s.tableSizes) lines.push(`  ${t.size.padStart(10)}  ${t.schemaname}.${t.tablename}`);
  lines.push("", `indexes never scanned (not unique): ${s.unusedIndexes.length}`);
  for (const i of s.unusedIndexes.slice(0, 10)) lines.push(`  ${i.index_size.padStart(10)}  ${i.schemaname}.${i.indexname} on ${i.tablename}`);
  const counts = (sev: Severity) => report.findings.filter((f) => f.severity === sev).length;
  lines.push("", `${counts("critical")} critical, ${counts("warning")} warning(s), ${counts("ok")} ok`);
  return `${lines.join("\n")}\n`;
}

export const HEALTH_USAGE = `usage: npm run health [-- --stack NAME] [--json] [--threshold NAME=VALUE ...]
thresholds (the stack's kryonix:healthThresholds, then --threshold, over the defaults): ${Object.entries(DEFAULT_THRESHOLDS)
  .map(([k, v]) => `${k}=${v}`)
  .join(", ")}`;


