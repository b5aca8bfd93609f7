import { describe, expect, it } from "vitest";
import { buildReport, evaluateHealth, formatSeconds, healthExitCode, maskPasswords, overallSeverity, renderHealth, snapshotFromRows, type HealthSnapshot } from "../../checks/health";
import { DEFAULT_THRESHOLDS, mergeThresholds } from "../../model/thresholds";

function healthy(over: Partial<HealthSnapshot> = {}): HealthSnapshot {
  return {
    stack: "dev",
    at: "2026-11-29 12:00:00+00",
    connections: { client: 10, active: 2, idleInTransaction: 0, max: 100, superuserReserved: 3 },
    cache: { hit: 99_900, read: 100, ratio: 0.999 },
    idleInTransaction: [],
    longRunning: [],
    lockWaits: [],
    bloat: [],
    archiver: { archiveMode: "on", archivedCount: 10, failedCount: 0, lastArchivedTime: "2026-11-29T11:59:00Z", lastFailedTime: null, failing: false },
    lastBackup: { file: "000000010000000000000003.00000028.backup", finishedAt: "2026-11-29T02:00:00Z", ageSeconds: 10 * 3600 },
    slowQueries: [],
    tableSizes: [],
    unusedIndexes: [],
    serverLog: { collector: true, directory: "/var/log/postgresql", bytes: 10 * 1024 * 1024, files: 3 },
    ...over,
  };
}
const severityOf = (s: HealthSnapshot, check: string, t = DEFAULT_THRESHOLDS) => evaluateHealth(s, t).find((f) => f.check === check)?.severity;
const session = (seconds: number) => ({ pid: 42, usename: "kryonix_app", application_name: "api", client_addr: "172.18.0.5", seconds, query: "UPDATE x" });

describe("evaluateHealth", () => {
  it("finds nothing wrong with a healthy server, and exits 0", () => {
    const report = buildReport(healthy());
    expect(report.findings.map((f) => f.severity)).toEqual(Array(9).fill("ok"));
    expect(report.status).toBe("ok");
    expect(healthExitCode(report)).toBe(0);
  });

  it("warns above 80% of max_connections and is critical above 95%", () => {
    expect(severityOf(healthy({ connections: { ...healthy().connections, client: 80 } }), "connections")).toBe("ok");
    expect(severityOf(healthy({ connections: { ...healthy().connections, client: 81 } }), "connections")).toBe("warning");
    expect(severityOf(healthy({ connections: { ...healthy().connections, client: 96 } }), "connections")).toBe("critical");
  });

  it("warns on a cache hit ratio below 0.99, once enough blocks were read", () => {
    expect(severityOf(healthy({ cache: { hit: 98_000, read: 2_000, ratio: 0.98 } }), "cache hit ratio")).toBe("warning");
    expect(severityOf(healthy({ cache: { hit: 9_900, read: 2_000, ratio: 0.99 } }), "cache hit ratio")).toBe("ok");
    expect(severityOf(healthy({ cache: { hit: 50, read: 50, ratio: 0.5 } }), "cache hit ratio")).toBe("ok");
    expect(severityOf(healthy({ cache: { hit: 0, read: 0, ratio: null } }), "cache hit ratio")).toBe("ok");
  });

  it("warns on a session idle in transaction for over 5 minutes, critical over 30", () => {
    expect(severityOf(healthy({ idleInTransaction: [session(299)] }), "idle in transaction")).toBe("ok");
    const warn = evaluateHealth(healthy({ idleInTransaction: [session(301)] })).find((f) => f.check === "idle in transaction")!;
    expect(warn.severity).toBe("warning");
    expect(warn.message).toContain("pid 42 (kryonix_app, api)");
    expect(severityOf(healthy({ idleInTransaction: [session(1801)] }), "idle in transaction")).toBe("critical");
    // A lowered threshold, as the stack test passes it.
    const t = { ...DEFAULT_THRESHOLDS, idleInTransactionWarnSeconds: 1, idleInTransactionCriticalSeconds: 2 };
    expect(severityOf(healthy({ idleInTransaction: [session(3)] }), "idle in transaction", t)).toBe("critical");
  });

  it("is critical with no backup in 26 hours, or none at all", () => {
    expect(severityOf(healthy({ lastBackup: { file: "f", finishedAt: "t", ageSeconds: 26 * 3600 } }), "last backup")).toBe("ok");
    expect(severityOf(healthy({ lastBackup: { file: "f", finishedAt: "t", ageSeconds: 26 * 3600 + 1 } }), "last backup")).toBe("critical");
    const none = buildReport(healthy({ lastBackup: { file: null, finishedAt: null, ageSeconds: null } }));
    expect(none.status).toBe("critical");
    expect(healthExitCode(none)).toBe(1);
  });

  it("is critical when WAL archiving fails or is off", () => {
    expect(severityOf(healthy({ archiver: { ...healthy().archiver, failing: true, lastFailedTime: "x" } }), "WAL archiving")).toBe("critical");
    expect(severityOf(healthy({ archiver: { ...healthy().archiver, archiveMode: "off" } }), "WAL archiving")).toBe("critical");
  });

  it("warns on long statements, long lock waits and bloated tables", () => {
    expect(severityOf(healthy({ longRunning: [session(301)] }), "long-running statements")).toBe("warning");
    const wait = { waiting_pid: 1, waiting_user: "a", waiting_seconds: 61, blocking_pid: 2, blocking_user: "b", blocking_state: "idle in transaction" };
    expect(severityOf(healthy({ lockWaits: [wait] }), "lock waits")).toBe("warning");
    expect(severityOf(healthy({ lockWaits: [{ ...wait, waiting_seconds: 5 }] }), "lock waits")).toBe("ok");
    const big = { schemaname: "core", tablename: "projects", dead_ratio: 0.3, estimated_bloat_bytes: 50 * 1024 * 1024 };
    expect(severityOf(healthy({ bloat: [big] }), "bloat")).toBe("warning");
    expect(severityOf(healthy({ bloat: [{ ...big, estimated_bloat_bytes: 1024 }] }), "bloat")).toBe("ok");
  });

  it("judges the server log's volume against its cap: warning above the ratio, critical at the cap; nothing to judge with Docker's log", () => {
    const cap = DEFAULT_THRESHOLDS.serverLogMaxBytes;
    const log = (bytes: number | null, collector = true) => healthy({ serverLog: { collector, directory: "/var/log/postgresql", bytes, files: 4 } });
    expect(severityOf(log(cap * 0.5), "server log")).toBe("ok");
    expect(severityOf(log(cap * 0.85), "server log")).toBe("warning");
    expect(severityOf(log(cap), "server log")).toBe("critical");
    expect(evaluateHealth(log(cap), DEFAULT_THRESHOLDS).find((f) => f.check === "server log")!.message).toMatch(/kryonix:serverLogMaxSize/);
    expect(severityOf(log(null, false), "server log")).toBe("ok");
    expect(severityOf(log(cap * 0.5), "server log", { ...DEFAULT_THRESHOLDS, serverLogMaxBytes: cap / 4 })).toBe("critical");
  });

  it("takes the worst severity for the whole report; warnings alone exit 0", () => {
    expect(overallSeverity([{ check: "a", severity: "ok", message: "" }, { check: "b", severity: "warning", message: "" }])).toBe("warning");
    expect(healthExitCode({ status: "warning" })).toBe(0);
  });
});

describe("snapshotFromRows", () => {
  it("reads node-postgres rows (bigint and numeric as strings) and masks password literals", () => {
    const s = snapshotFromRows("dev", "now", {
      connections: [{ client_connections: "5", active: "1", idle_in_transaction: "1", max_connections: 100, superuser_reserved_connections: 3 }],
      cache: [{ blks_hit: "990", blks_read: "10", cache_hit_ratio: "0.9900" }],
      idleInTransaction: [{ pid: 7, usename: "u", application_name: "", client_addr: null, seconds: "400", query: "ALTER ROLE x PASSWORD 'SCRAM-SHA-256$4096:abc'" }],
      longRunning: [],
      lockWaits: [],
      bloat: [{ schemaname: "core", tablename: "t", dead_ratio: "0.5", estimated_bloat_bytes: "100" }],
      archiver: [{ archive_mode: "on", archived_count: "3", failed_count: "0", last_archived_time: new Date("2026-11-29T00:00:00Z"), last_failed_time: null, failing: false }],
      lastBackup: [{ backup_history_file: null, finished_at: null, age_seconds: null }],
      slowQueries: [{ query: "CREATE ROLE a WITH ENCRYPTED PASSWORD 'SCRAM-SHA-256$4096:trunc", mean_exec_time: 1.5, calls: "2" }],
      serverLog: [{ collector: "on", directory: "/var/log/postgresql", bytes: "2048", files: "2" }],
      tableSizes: [],
      unusedIndexes: [],
    });
    expect(s.connections.client).toBe(5);
    expect(s.cache.ratio).toBe(0.99);
    expect(s.idleInTransaction[0].seconds).toBe(400);
    expect(s.idleInTransaction[0].query).toBe("ALTER ROLE x PASSWORD '***'");
    expect(s.slowQueries[0].query).not.toContain("SCRAM");
    expect(s.archiver.lastArchivedTime).toBe("2026-11-29T00:00:00.000Z");
    expect(s.lastBackup.ageSeconds).toBeNull();
    expect(severityOf(s, "last backup")).toBe("critical");
    expect(renderHealth(buildReport(s))).toMatch(/CRITICAL\s+last backup/);
  });

  it("masks quoted passwords with doubled quotes too", () => {
    expect(maskPasswords("ALTER USER a PASSWORD 'it''s' VALID UNTIL 'x'")).toBe("ALTER USER a PASSWORD '***' VALID UNTIL 'x'");
  });
});

describe("formatSeconds", () => {
  it("picks a readable unit", () => {
    expect([formatSeconds(90), formatSeconds(720), formatSeconds(3.5 * 3600), formatSeconds(2 * 86400)]).toEqual(["90 s", "12 min", "3.5 h", "2.0 d"]);
  });
});

describe("mergeThresholds (kryonix:healthThresholds and --threshold)", () => {
  const config = (key: string) => `kryonix:healthThresholds.${key}`;
  it("lays numbers and numeric strings over the base, leaving the rest", () => {
    const r = mergeThresholds(DEFAULT_THRESHOLDS, { backupMaxAgeHours: 50, cacheHitRatioWarn: "0.95" }, config);
    expect(r.problems).toEqual([]);
    expect(r.thresholds).toEqual({ ...DEFAULT_THRESHOLDS, backupMaxAgeHours: 50, cacheHitRatioWarn: 0.95 });
  });
  it("names each bad setting with what is allowed", () => {
    const r = mergeThresholds(DEFAULT_THRESHOLDS, { nope: 1, cacheHitRatioWarn: 1.5, lockWaitWarnSeconds: "soon", backupMaxAgeHours: -2, bloatMinBytes: true }, config);
    expect(r.problems).toHaveLength(5);
    expect(r.problems[0]).toMatch(/kryonix:healthThresholds\.nope.*one of cacheHitRatioWarn/);
    expect(r.problems[1]).toMatch(/kryonix:healthThresholds\.cacheHitRatioWarn.*a number from 0 to 1/);
    expect(r.problems[2]).toMatch(/kryonix:healthThresholds\.lockWaitWarnSeconds.*a number >= 0/);
    expect(r.problems[3]).toMatch(/backupMaxAgeHours.*a number >= 0/);
    expect(r.problems[4]).toMatch(/bloatMinBytes.*a number >= 0/);
  });
  it("keeps each critical level at least its warning level, against the merged values", () => {
    expect(mergeThresholds(DEFAULT_THRESHOLDS, { connectionsWarnRatio: 0.97 }, config).problems[0]).toMatch(/kryonix:healthThresholds\.connectionsCriticalRatio.*at least connectionsWarnRatio \(0.97\)/);
    const stack = mergeThresholds(DEFAULT_THRESHOLDS, { idleInTransactionWarnSeconds: 10, idleInTransactionCriticalSeconds: 20 }, config).thresholds;
    expect(mergeThresholds(stack, { idleInTransactionWarnSeconds: 15 }, (k) => `--threshold ${k}`).problems).toEqual([]);
  });
});
