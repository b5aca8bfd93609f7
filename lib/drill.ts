/**
 * The pure part of `npm run backup:verify` (the restore drill) and of what `backup:status` shows
 * about the schedules: arguments, the drill's command line, its report as text, and the scheduled
 * jobs' last runs. The drill itself is images/postgres/drill.sh (kryonix-drill), run through
 * kryonix-job inside the postgres container, by cron or by `backup:verify`: one code path.
 */
import type { JobSchedules } from "./config";
import { CRON_JOBS, PARTITIONS_JOB } from "./backup-schedule";
import { formatAge } from "./backup-cli";
import { invalid } from "./messages";

export interface VerifyOptions {
  stack: string;
  json: boolean;
}

/** `npm run backup:verify [-- --stack NAME] [--json]`. Pure; throws naming the bad argument. */
export function parseVerifyArgs(args: readonly string[]): VerifyOptions {
  const options: VerifyOptions = { stack: "dev", json: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--json") options.json = true;
    else if (a === "--stack" || a === "-s") {
      const value = args[++i];
      if (value === undefined || value === "" || value.startsWith("-")) throw new Error(invalid(`backup:verify ${a}`, value, "a stack name after it, e.g. --stack dev"));
      options.stack = value;
    } else if (a.startsWith("--stack=") && a.length > "--stack=".length) options.stack = a.slice("--stack=".length);
    else throw new Error(invalid("backup:verify argument", a, "--stack NAME or --json"));
  }
  return options;
}

/** `docker exec` arguments: the drill as a recorded, manual run; waits for a scheduled one to finish first. Pure. */
export function drillExecArgs(container: string): string[] {
  return ["exec", container, "kryonix-job", "--wait", "--trigger", "manual", CRON_JOBS.restoreDrill.job, ...CRON_JOBS.restoreDrill.command];
}

export interface DrillMismatch {
  table: string;
  problem: string;
  liveRows: number | null;
  restoredRows: number | null;
  unlogged: boolean;
}
export interface DrillReport {
  ok: boolean;
  /** Set when the drill stopped early (restore-point, archive, restore, recovery, compare, amcheck, verify, report). */
  stage?: string;
  error?: string;
  startedAt?: string;
  seconds?: number;
  restoreSeconds?: number;
  database?: string;
  restorePoint?: string;
  backupSet?: string | null;
  /** The scratch directory the copy was restored into (removed when the drill ends). */
  scratch?: string;
  tables?: number;
  rowsCompared?: number;
  mismatches?: DrillMismatch[];
  amcheck?: { database: string; btreeIndexes: number; failures: { index: string; error: string }[] }[];
  pgbackrestVerify?: { ok: boolean; exitCode: number; output: string };
}

/** The drill's report from its output: the last line that is a JSON object. Pure. */
export function parseDrillOutput(stdout: string): DrillReport | undefined {
  const lines = stdout.trim().split("\n").reverse();
  for (const line of lines) {
    if (!line.trim().startsWith("{")) continue;
    try {
      const report = JSON.parse(line) as DrillReport;
      if (typeof report.ok === "boolean") return report;
    } catch {
      // not the report
    }
  }
  return undefined;
}

/** The report as text: the verdict first, then each check, every mismatch and failure named. Pure. */
export function renderDrillReport(r: DrillReport): string {
  const lines: string[] = [];
  if (r.stage) {
    lines.push(`restore drill FAILED at stage ${r.stage}: ${r.error ?? "(no message)"}`);
    if (r.restorePoint) lines.push(`  restore point ${r.restorePoint}`);
    return `${lines.join("\n")}\n`;
  }
  lines.push(
    `restore drill ${r.ok ? "PASSED" : "FAILED"} in ${r.seconds} s (restore ${r.restoreSeconds} s): backup set ${r.backupSet ?? "?"} + WAL to restore point ${r.restorePoint}`,
    `  tables of ${r.database}: ${r.tables} compared (row counts and checksums, ${r.rowsCompared} rows), ${r.mismatches?.length ?? 0} mismatch(es)`,
  );
  for (const m of r.mismatches ?? []) {
    lines.push(`    MISMATCH ${m.table}: ${m.problem} (live ${m.liveRows ?? "-"} rows, restored ${m.restoredRows ?? "-"})${m.unlogged ? "; an UNLOGGED table: never in the WAL nor the backups" : ""}`);
  }
  for (const a of r.amcheck ?? []) {
    lines.push(`  amcheck ${a.database}: ${a.btreeIndexes} B-tree indexes, ${a.failures.length} failure(s)`);
    for (const f of a.failures) lines.push(`    FAILED ${f.index}: ${f.error}`);
  }
  const v = r.pgbackrestVerify;
  if (v) lines.push(`  pgbackrest verify: ${v.ok ? "ok" : `FAILED (exit ${v.exitCode})`}${v.output.trim() ? `\n${v.output.trim().replace(/^/gm, "    ")}` : ""}`);
  return `${lines.join("\n")}\n`;
}

/** One row of kryonix.job_runs (the last of its job), as row_to_json gives it. */
export interface JobRun {
  job: string;
  trigger: string;
  started_at: string;
  finished_at: string;
  exit_code: number;
  report: DrillReport | null;
}
/** The partitions job's last run in pg_cron's cron.job_run_details. */
export interface CronRun {
  status: string;
  return_message: string | null;
  start_time: string;
  end_time: string | null;
}

export interface ScheduleStatus {
  schedules: JobSchedules | null;
  /** The last run of each OS-level job (backup-full, backup-diff, restore-drill), or null. */
  lastRuns: Record<string, JobRun | null>;
  /** The last drill (scheduled or manual) and its verdict. */
  lastDrill: { at: string; trigger: string; ok: boolean; exitCode: number; ageSeconds: number; report: DrillReport | null } | null;
  partitionsJob: { name: string; lastRun: CronRun | null };
}

/** What backup:status adds about the schedules. Pure. */
export function scheduleStatus(input: { schedules: JobSchedules | null; runs: JobRun[]; cronRun: CronRun | null; now: Date }): ScheduleStatus {
  const lastRuns = Object.fromEntries(Object.values(CRON_JOBS).map(({ job }) => [job, input.runs.find((r) => r.job === job) ?? null]));
  const d = lastRuns[CRON_JOBS.restoreDrill.job];
  return {
    schedules: input.schedules,
    lastRuns,
    lastDrill: d
      ? {
          at: d.finished_at,
          trigger: d.trigger,
          ok: d.exit_code === 0 && d.report?.ok === true,
          exitCode: d.exit_code,
          ageSeconds: Math.max(0, Math.round((input.now.getTime() - Date.parse(d.finished_at)) / 1000)),
          report: d.report,
        }
      : null,
    partitionsJob: { name: PARTITIONS_JOB, lastRun: input.cronRun },
  };
}

/** The schedules part of the status text. Pure. */
export function renderScheduleStatus(s: ScheduleStatus): string {
  const sc = s.schedules;
  const lines = ["", "schedules (UTC; cron in the postgres container, pg_cron for the partitions):"];
  const row = (name: string, schedule: string | undefined, last: string) => lines.push(`  ${name.padEnd(14)} ${(schedule ?? "?").padEnd(16)} last: ${last}`);
  const runText = (r: JobRun | null) => (r ? `${r.finished_at} (${r.trigger}), exit ${r.exit_code}` : "never");
  row("backup-full", sc?.backupFull, runText(s.lastRuns["backup-full"]));
  row("backup-diff", sc?.backupDiff, runText(s.lastRuns["backup-diff"]));
  const c = s.partitionsJob.lastRun;
  row("partitions", sc?.partitions, c ? `${c.start_time}, ${c.status}${c.return_message ? ` (${c.return_message})` : ""}` : "never");
  row("restore-drill", sc?.restoreDrill, runText(s.lastRuns["restore-drill"]));
  const d = s.lastDrill;
  lines.push("", d ? `last drill: ${d.ok ? "PASSED" : "FAILED"} at ${d.at} (${d.trigger}, ${formatAge(d.ageSeconds)} ago)` : "last drill: never (npm run backup:verify)");
  if (d?.report) lines.push(...renderDrillReport(d.report).trimEnd().split("\n").map((l) => `  ${l}`));
  return `${lines.join("\n")}\n`;
}
