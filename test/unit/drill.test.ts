import { describe, expect, it } from "vitest";
import { SCHEDULE_DEFAULTS } from "../../lib/config";
import { drillExecArgs, parseDrillOutput, parseVerifyArgs, renderDrillReport, renderScheduleStatus, scheduleStatus, type DrillReport, type JobRun } from "../../lib/drill";
import { backupTargetFrom } from "../../lib/stack-run";

const passed: DrillReport = {
  ok: true,
  startedAt: "2026-11-29T17:44:58Z",
  seconds: 41,
  restoreSeconds: 12,
  database: "kryonix_saas",
  restorePoint: "kryonix-drill-20261129T174458Z",
  backupSet: "20261129-174402F",
  tables: 15,
  rowsCompared: 14,
  mismatches: [],
  amcheck: [{ database: "kryonix_saas", btreeIndexes: 208, failures: [] }],
  pgbackrestVerify: { ok: true, exitCode: 0, output: "" },
};
const failed: DrillReport = {
  ...passed,
  ok: false,
  mismatches: [{ table: "public.drill_probe", problem: "row count differs", liveRows: 5, restoredRows: 0, unlogged: true }],
  amcheck: [{ database: "kryonix_saas", btreeIndexes: 208, failures: [{ index: "core.users_pkey", error: "item order invariant violated" }] }],
  pgbackrestVerify: { ok: false, exitCode: 104, output: "WARN: checksum mismatch" },
};

describe("backup:verify arguments", () => {
  it("reads --stack and --json, refuses anything else", () => {
    expect(parseVerifyArgs([])).toEqual({ stack: "dev", json: false });
    expect(parseVerifyArgs(["--stack", "w7test", "--json"])).toEqual({ stack: "w7test", json: true });
    expect(parseVerifyArgs(["--stack=prod"])).toEqual({ stack: "prod", json: false });
    expect(() => parseVerifyArgs(["--stack"])).toThrow(/backup:verify --stack/);
    expect(() => parseVerifyArgs(["--fast"])).toThrow(/backup:verify argument: "--fast" is invalid: --stack NAME or --json/);
  });

  it("runs the drill through kryonix-job as a recorded manual run, waiting for a scheduled one", () => {
    expect(drillExecArgs("kryonix-dev-postgres")).toEqual(["exec", "kryonix-dev-postgres", "kryonix-job", "--wait", "--trigger", "manual", "restore-drill", "kryonix-drill"]);
  });
});

describe("the drill's report", () => {
  it("is the last JSON line of its output", () => {
    expect(parseDrillOutput(`progress\n${JSON.stringify(passed)}\n`)).toEqual(passed);
    expect(parseDrillOutput('{"ok" : false, "stage" : "archive", "error" : "WAL not archived"}')).toMatchObject({ ok: false, stage: "archive" });
    expect(parseDrillOutput("no report\n{not json")).toBeUndefined();
  });

  it("says PASSED with what was checked", () => {
    const text = renderDrillReport(passed);
    expect(text).toMatch(/^restore drill PASSED in 41 s \(restore 12 s\): backup set 20261129-174402F \+ WAL to restore point kryonix-drill-20261129T174458Z$/m);
    expect(text).toContain("tables of kryonix_saas: 15 compared (row counts and checksums, 14 rows), 0 mismatch(es)");
    expect(text).toContain("amcheck kryonix_saas: 208 B-tree indexes, 0 failure(s)");
    expect(text).toContain("pgbackrest verify: ok");
  });

  it("names every mismatched table, failed index and a failed verify", () => {
    const text = renderDrillReport(failed);
    expect(text).toMatch(/^restore drill FAILED/);
    expect(text).toContain("MISMATCH public.drill_probe: row count differs (live 5 rows, restored 0); an UNLOGGED table");
    expect(text).toContain("FAILED core.users_pkey: item order invariant violated");
    expect(text).toContain("pgbackrest verify: FAILED (exit 104)\n    WARN: checksum mismatch");
  });

  it("says at which stage a drill stopped", () => {
    expect(renderDrillReport({ ok: false, stage: "restore", error: "no backup", restorePoint: "p" })).toBe("restore drill FAILED at stage restore: no backup\n  restore point p\n");
  });
});

describe("the schedules in backup:status", () => {
  const run = (job: string, finished: string, exit: number, report: DrillReport | null = null): JobRun => ({
    job,
    trigger: "schedule",
    started_at: finished,
    finished_at: finished,
    exit_code: exit,
    report,
  });

  it("shows each job's schedule and last run, and the last drill's verdict", () => {
    const s = scheduleStatus({
      schedules: SCHEDULE_DEFAULTS,
      runs: [run("backup-full", "2026-11-29T01:00:20Z", 0), run("restore-drill", "2026-11-29T04:00:41Z", 1, failed)],
      cronRun: { status: "succeeded", return_message: "SELECT 1", start_time: "2026-11-01T03:00:00Z", end_time: "2026-11-01T03:00:01Z" },
      now: new Date("2026-11-29T05:00:41Z"),
    });
    expect(s.lastRuns["backup-diff"]).toBeNull();
    expect(s.lastDrill).toMatchObject({ ok: false, exitCode: 1, ageSeconds: 3600, trigger: "schedule" });
    const text = renderScheduleStatus(s);
    expect(text).toContain("  backup-full    0 1 * * *        last: 2026-11-29T01:00:20Z (schedule), exit 0");
    expect(text).toContain("  backup-diff    0 7,13,19 * * *  last: never");
    expect(text).toContain("  partitions     0 3 1 * *        last: 2026-11-01T03:00:00Z, succeeded (SELECT 1)");
    expect(text).toContain("last drill: FAILED at 2026-11-29T04:00:41Z (schedule, 1 h 0 min ago)");
    expect(text).toContain("    MISMATCH public.drill_probe");
  });

  it("a drill passes only when it exited 0 with an ok report; never run says how to run one", () => {
    const ok = scheduleStatus({ schedules: null, runs: [run("restore-drill", "2026-11-29T04:00:41Z", 0, passed)], cronRun: null, now: new Date("2026-11-29T04:00:41Z") });
    expect(ok.lastDrill?.ok).toBe(true);
    const noReport = scheduleStatus({ schedules: null, runs: [run("restore-drill", "2026-11-29T04:00:41Z", 0, null)], cronRun: null, now: new Date() });
    expect(noReport.lastDrill?.ok).toBe(false);
    const never = scheduleStatus({ schedules: null, runs: [], cronRun: null, now: new Date() });
    expect(renderScheduleStatus(never)).toContain("last drill: never (npm run backup:verify)");
  });

  it("reads the schedules from the stack's outputs", () => {
    const outputs = {
      endpoints: { postgres: { host: "127.0.0.1", port: 15432, database: "kryonix_saas" } },
      credentials: { postgres: { user: "postgres", password: "pw" } },
      dockerNetwork: "kryonix-dev-net",
      backup: { container: "kryonix-dev-postgres", retentionFullDays: 30, archiveTimeoutSeconds: 60, schedules: SCHEDULE_DEFAULTS },
    };
    expect(backupTargetFrom("dev", outputs).schedules).toEqual(SCHEDULE_DEFAULTS);
  });
});
