/**
 * What `npm run health` and Prometheus' alerting rules (render/prometheus.ts) judge by: the
 * thresholds, their defaults, and how kryonix:healthThresholds or `--threshold` lay over them. Pure.
 */
import { invalid } from "./messages";

export interface Thresholds {
  /** Warning below this share of blocks served from shared_buffers. */
  cacheHitRatioWarn: number;
  /** The ratio is judged only once this many blocks were read: a fresh server reads everything from disk. */
  cacheHitMinBlocks: number;
  /** An idle-in-transaction session older than this: warning; older than the critical one: critical. */
  idleInTransactionWarnSeconds: number;
  idleInTransactionCriticalSeconds: number;
  /** A statement running longer than this: warning. */
  longRunningWarnSeconds: number;
  /** A session waiting for a lock longer than this: warning. */
  lockWaitWarnSeconds: number;
  /** Client connections above this share of max_connections: warning; above the critical share: critical. */
  connectionsWarnRatio: number;
  connectionsCriticalRatio: number;
  /** No finished backup for this long (or none ever): critical. */
  backupMaxAgeHours: number;
  /** A table whose dead rows are this share of it, and at least bloatMinBytes of estimated bloat: warning. */
  bloatWarnRatio: number;
  bloatMinBytes: number;
  /**
   * The server log's volume (kryonix:serverLog = file) must stay under serverLogMaxBytes
   * (kryonix:serverLogMaxSize sets it): warning above serverLogWarnRatio of it, critical at it.
   */
  serverLogMaxBytes: number;
  serverLogWarnRatio: number;
}

/** The thresholds (cache hit 0.99, idle in transaction 5 min, backup 26 h, connections 80%), and ours. */
export const DEFAULT_THRESHOLDS: Readonly<Thresholds> = {
  cacheHitRatioWarn: 0.99,
  cacheHitMinBlocks: 10_000,
  idleInTransactionWarnSeconds: 300,
  idleInTransactionCriticalSeconds: 1800,
  longRunningWarnSeconds: 300,
  lockWaitWarnSeconds: 60,
  connectionsWarnRatio: 0.8,
  connectionsCriticalRatio: 0.95,
  backupMaxAgeHours: 26,
  bloatWarnRatio: 0.2,
  bloatMinBytes: 10 * 1024 * 1024,
  serverLogMaxBytes: 2 * 1024 ** 3,
  serverLogWarnRatio: 0.8,
};

const RATIOS = new Set<keyof Thresholds>(["cacheHitRatioWarn", "connectionsWarnRatio", "connectionsCriticalRatio", "bloatWarnRatio", "serverLogWarnRatio"]);

/**
 * Threshold overrides on top of `base`, each value checked (a known name; a number >= 0, a ratio
 * from 0 to 1; each critical level at least its warning level). `name(key)` is how a problem names
 * the setting: `--threshold KEY` for the flag, `kryonix:healthThresholds.KEY` for the stack config.
 * Pure.
 */
export function mergeThresholds(base: Readonly<Thresholds>, overrides: Readonly<Record<string, unknown>>, name: (key: string) => string): { thresholds: Thresholds; problems: string[] } {
  const thresholds: Thresholds = { ...base };
  const problems: string[] = [];
  for (const [key, raw] of Object.entries(overrides)) {
    if (!(key in DEFAULT_THRESHOLDS)) {
      problems.push(invalid(name(key), raw, `a threshold name, one of ${Object.keys(DEFAULT_THRESHOLDS).join(", ")}`));
      continue;
    }
    const k = key as keyof Thresholds;
    const n = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : Number.NaN;
    if (!(Number.isFinite(n) && n >= 0 && (!RATIOS.has(k) || n <= 1))) {
      problems.push(invalid(name(key), raw, RATIOS.has(k) ? "a number from 0 to 1" : "a number >= 0"));
      continue;
    }
    thresholds[k] = n;
  }
  if (!problems.length) {
    for (const [critical, warn] of [["idleInTransactionCriticalSeconds", "idleInTransactionWarnSeconds"], ["connectionsCriticalRatio", "connectionsWarnRatio"]] as const) {
      if (thresholds[critical] < thresholds[warn]) problems.push(invalid(name(critical), thresholds[critical], `at least ${warn} (${thresholds[warn]})`));
    }
  }
  return { thresholds, problems };
}
