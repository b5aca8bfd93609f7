/**
 * `npm run test:db:performance`: the pure parts. The tuned settings compared with SHOW, pgbench's
 * output read, and EXPLAIN (FORMAT JSON) plans walked for index scans and partition pruning.
 */
import { schedulerParameters } from "../model/config";
import { parseSize } from "../model/size";
import { applyOverrides, tunePostgres, type PgParams, type Storage } from "../model/tuning";

export interface CheckRow {
  check: string;
  ok: boolean;
  detail: string;
}

/** What the tuning function gives for the container's real limits (docker inspect), with the stack's overrides. Pure. */
export function expectedSettings(memoryBytes: number, cpus: number, storage: Storage, overrides: Record<string, string>): PgParams {
  const maxConnections = overrides.max_connections === undefined ? undefined : Number(overrides.max_connections);
  // As model/config.ts's postgresParameters: pg_cron (the partitions job's scheduler) added last.
  return schedulerParameters(applyOverrides(tunePostgres({ memoryBytes, cpus, storage, maxConnections }), overrides, memoryBytes));
}

const SIZE = /^\d+(\.\d+)?\s*(B|kB|MB|GB|TB)$/i;
const NUMBER = /^-?\d+(\.\d+)?$/;

/**
 * Whether SHOW's text means the same as the value we wrote (sizes in bytes, numbers as numbers).
 * `raw` is pg_settings.setting, in the parameter's own unit: a unitless "500" we wrote for
 * log_min_duration_statement is SHOWn as "500ms". Pure.
 */
export function sameSetting(expected: string, shown: string, raw?: string): boolean {
  const a = expected.trim();
  const b = shown.trim();
  if (raw !== undefined && NUMBER.test(a) && NUMBER.test(raw.trim()) && Number(a) === Number(raw)) return true;
  if (SIZE.test(a) && SIZE.test(b)) return parseSize(a, "expected") === parseSize(b, "shown");
  if (NUMBER.test(a) && NUMBER.test(b)) return Number(a) === Number(b);
  return a.toLowerCase() === b.toLowerCase();
}

/** One row per parameter: SHOW's value against the expected one. Pure. */
export function compareSettings(expected: PgParams, shown: Readonly<Record<string, string | undefined>>, raw: Readonly<Record<string, string | undefined>> = {}): CheckRow[] {
  return Object.keys(expected)
    .sort()
    .map((name) => {
      const got = shown[name];
      const ok = got !== undefined && sameSetting(expected[name], got, raw[name]);
      return { check: `SHOW ${name}`, ok, detail: ok ? got! : `expected ${expected[name]}, SHOW gives ${got ?? "nothing"}` };
    });
}

export interface PgbenchSummary {
  clients: number;
  processed: number;
  failed: number;
  tps: number;
}

/** The numbers of pgbench's closing summary; throws when it has none. Pure. */
export function parsePgbench(output: string): PgbenchSummary {
  const num = (re: RegExp) => {
    const m = re.exec(output);
    return m ? Number(m[1]) : NaN;
  };
  const summary = {
    clients: num(/^number of clients:\s*(\d+)/m),
    processed: num(/^number of transactions actually processed:\s*(\d+)/m),
    // pgbench 15+ prints failures; older ones abort instead.
    failed: num(/^number of failed transactions:\s*(\d+)/m),
    tps: num(/^tps = ([\d.]+)/m),
  };
  if (!Number.isFinite(summary.processed) || !Number.isFinite(summary.tps)) throw new Error(`pgbench printed no summary:\n${output.slice(-2000)}`);
  if (!Number.isFinite(summary.failed)) summary.failed = 0;
  return summary;
}

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  Schema?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

export interface ScanNode {
  type: string;
  relation?: string;
  index?: string;
}

/** Every node of an EXPLAIN (FORMAT JSON) plan that reads a relation or an index. Pure. */
export function scans(explain: unknown): ScanNode[] {
  const root = (Array.isArray(explain) ? explain[0] : explain) as { Plan: PlanNode };
  const out: ScanNode[] = [];
  const walk = (n: PlanNode) => {
    if (n["Relation Name"] || n["Index Name"]) {
      out.push({ type: n["Node Type"], relation: n["Relation Name"] && `${n.Schema ? `${n.Schema}.` : ""}${n["Relation Name"]}`, index: n["Index Name"] });
    }
    for (const c of n.Plans ?? []) walk(c);
  };
  walk(root.Plan);
  return out;
}

const INDEX_SCANS = new Set(["Index Scan", "Index Only Scan", "Bitmap Index Scan"]);

export interface Lookup {
  name: string;
  /** The statement EXPLAIN runs; $n parameters are filled in by `params`. */
  sql: string;
  params: (sample: Record<string, string>) => unknown[];
  /** The index that must be used (one of them). */
  indexes: readonly string[];
  /** For partitioned tables: the only partitions that may be read. */
  partitions?: (sample: Record<string, string>) => readonly string[];
}

/** The seed's key lookups (the spec's index list). */
export const KEY_LOOKUPS: readonly Lookup[] = [
  { name: "users by email", sql: "SELECT * FROM auth.users WHERE email = $1", params: (s) => [s.email], indexes: ["users_email_key"] },
  { name: "users by keycloak_id", sql: "SELECT * FROM auth.users WHERE keycloak_id = $1", params: (s) => [s.keycloak_id], indexes: ["users_keycloak_id_key"] },
  { name: "projects by company", sql: "SELECT * FROM core.projects WHERE company_id = $1", params: (s) => [s.company_id], indexes: ["idx_projects_company_id"] },
  {
    name: "audit logs by user and time range",
    sql: "SELECT * FROM audit.activity_logs WHERE user_id = $1 AND created_at >= $2 AND created_at < $3 ORDER BY created_at",
    params: (s) => [s.user_id, s.month_start, s.month_end],
    indexes: ["idx_audit_user_id", "idx_audit_created_at"],
  },
  {
    name: "sessions of a user within a month",
    sql: "SELECT * FROM analytics.user_sessions WHERE user_id = $1 AND session_start >= $2 AND session_start < $3",
    params: (s) => [s.user_id, s.month_start, s.month_end],
    indexes: ["idx_sessions_user_id", "user_sessions_pkey"],
    partitions: (s) => [s.month_partition],
  },
];

/** Judges one lookup's plan: an index scan on a listed index (or a partition's copy of it), no sequential scan, and only the month's partition. Pure. */
export function judgePlan(lookup: Lookup, explain: unknown, sample: Record<string, string>): CheckRow {
  const nodes = scans(explain);
  const seq = nodes.filter((n) => n.type === "Seq Scan");
  // A partition's index is named after the partition (user_sessions_y2026m11_user_id_idx).
  const usesIndex = nodes.some((n) => INDEX_SCANS.has(n.type) && n.index && (lookup.indexes.includes(n.index) || (lookup.partitions && /_user_id_idx$|_pkey$/.test(n.index))));
  const read = [...new Set(nodes.map((n) => n.relation).filter((r): r is string => !!r))];
  const allowed = lookup.partitions?.(sample);
  const pruned = !allowed || (read.length > 0 && read.every((r) => allowed.includes(r)));
  const ok = usesIndex && seq.length === 0 && pruned;
  const shape = nodes.map((n) => `${n.type}${n.index ? ` using ${n.index}` : ""}${n.relation ? ` on ${n.relation}` : ""}`).join(", ");
  const why = [!usesIndex && "no index scan", seq.length > 0 && "a sequential scan", !pruned && `reads ${read.join(", ")}, not only ${allowed?.join(", ")}`].filter(Boolean).join("; ");
  return { check: `EXPLAIN ${lookup.name}`, ok, detail: ok ? shape : `${why}: ${shape}` };
}

/**
 * Rows for the planner to choose as it would in production: run as superuser inside a transaction
 * that is rolled back (ANALYZE included), so nothing stays. Users, projects, audit logs over two
 * months and sessions in this month's partition.
 */
export const SAMPLE_DATA_SQL = `
INSERT INTO auth.companies (id, name)
  SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'perf company ' || i FROM generate_series(1, 200) i;
INSERT INTO auth.users (id, keycloak_id, email, company_id)
  SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(i), 12, '0'))::uuid, 'kc-perf-' || i, 'perf' || i || '@example.com',
         ('00000000-0000-4000-8000-' || lpad(to_hex(1 + i % 200), 12, '0'))::uuid
    FROM generate_series(1, 20000) i;
INSERT INTO core.projects (name, company_id, owner_id)
  SELECT 'perf project ' || i, ('00000000-0000-4000-8000-' || lpad(to_hex(1 + i % 200), 12, '0'))::uuid,
         ('00000000-0000-4000-9000-' || lpad(to_hex(1 + i % 20000), 12, '0'))::uuid
    FROM generate_series(1, 20000) i;
INSERT INTO audit.activity_logs (user_id, action, created_at)
  SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(1 + i % 20000), 12, '0'))::uuid, 'perf', now() - (i % 1440) * interval '1 hour'
    FROM generate_series(1, 100000) i;
INSERT INTO analytics.user_sessions (user_id, session_start)
  SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(1 + i % 20000), 12, '0'))::uuid,
         date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + (i % 600) * interval '1 hour'
    FROM generate_series(1, 100000) i;
ANALYZE auth.companies, auth.users, core.projects, audit.activity_logs, analytics.user_sessions;
`;

/** One sample row to look up, and this month's bounds and partition. */
export const SAMPLE_SQL = `
SELECT u.email, u.keycloak_id, u.company_id::text, u.id::text AS user_id,
       (date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')::text AS month_start,
       ((date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC')::text AS month_end,
       'analytics.user_sessions_y' || to_char(now() AT TIME ZONE 'UTC', 'YYYY') || 'm' || to_char(now() AT TIME ZONE 'UTC', 'MM') AS month_partition
  FROM auth.users u WHERE u.email = 'perf777@example.com'`;

/** The pgbench script the clients run through PgBouncer: a user by email, as the application looks one up. */
export const PGBENCH_SCRIPT = `\\set n random(1, 20000)
SELECT id, company_id FROM auth.users WHERE email = 'perf' || :n || '@example.com';
`;

