/**
 * `npm run backup:status [-- --stack NAME] [--json]`: the last backup of each type (age, size),
 * the WAL archive (pg_stat_archiver and the repository's range), the retention, the schedules with
 * each job's last run (kryonix.job_runs; pg_cron's cron.job_run_details for the partitions) and
 * the last restore drill with its report. Read inside the postgres container (pgbackrest info;
 * psql as postgres over the local socket, peer), so no password is needed. Exit code: 0; 1 when
 * the stanza is not ok, archiving is failing now, or the last drill failed; 2 when the stack or
 * the commands cannot be read.
 */
import { dockerOrThrow } from "../io/docker-cli";
import { backupStatus, renderStatus, type ArchiverRow } from "../render/backup-cli";
import { PARTITIONS_JOB } from "../model/backup-schedule";
import { PG_CRON_DATABASE } from "../model/config";
import { renderScheduleStatus, scheduleStatus, type CronRun, type JobRun } from "../model/drill";
import { STANZA } from "../model/backup";
import { runMain } from "../ops/cli";
import { readBackupTarget } from "../ops/stack-run";
import { parseStackJsonArgs } from "./args";

function main(): number {
  const options = parseStackJsonArgs("backup:status", process.argv.slice(2));
  let stack;
  try {
    stack = readBackupTarget(options.stack);
  } catch (err) {
    process.stderr.write(`backup:status: ${(err as Error).message}\n`);
    return 2;
  }
  const exec = (args: string[]) => dockerOrThrow(["exec", "-u", "postgres", stack.target.container, ...args], { env: stack.env }).stdout;
  let status;
  let schedules;
  try {
    const info = JSON.parse(exec(["pgbackrest", `--stanza=${STANZA}`, "--output=json", "--log-level-console=warn", "info"]));
    const archiver = JSON.parse(exec(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-c", "SELECT row_to_json(a) FROM pg_stat_archiver a"])) as ArchiverRow;
    status = backupStatus({
      stack: options.stack,
      info,
      archiver,
      retentionFullDays: stack.target.retentionFullDays,
      archiveTimeoutSeconds: stack.target.archiveTimeoutSeconds,
      now: new Date(),
    });
    // The last run of each job (kryonix-job records them in the postgres database) and pg_cron's last partitions run.
    const psql = (database: string, sql: string) => exec(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql]).trim();
    // The table appears with the first recorded run.
    const recorded = psql("postgres", "SELECT to_regclass('kryonix.job_runs') IS NOT NULL") === "t";
    const runs = recorded
      ? (JSON.parse(
          psql("postgres", "SELECT coalesce(json_agg(r), '[]') FROM (SELECT DISTINCT ON (job) job, trigger, started_at, finished_at, exit_code, report FROM kryonix.job_runs ORDER BY job, id DESC) r"),
        ) as JobRun[])
      : [];
    const cron = psql(
      PG_CRON_DATABASE,
      `SELECT row_to_json(d) FROM (SELECT status, return_message, start_time, end_time FROM cron.job_run_details WHERE jobid = (SELECT jobid FROM cron.job WHERE jobname = '${PARTITIONS_JOB}') ORDER BY runid DESC LIMIT 1) d`,
    );
    schedules = scheduleStatus({ schedules: stack.target.schedules, runs, cronRun: cron ? (JSON.parse(cron) as CronRun) : null, now: new Date() });
  } catch (err) {
    process.stderr.write(`backup:status: ${(err as Error).message}\n`);
    return 2;
  }
  process.stdout.write(options.json ? `${JSON.stringify({ ...status, ...schedules }, null, 2)}\n` : renderStatus(status) + renderScheduleStatus(schedules));
  const drillFailed = schedules.lastDrill !== null && !schedules.lastDrill.ok;
  return status.stanzaStatus === "ok" && !status.archive.failing && !drillFailed ? 0 : 1;
}

runMain("backup:status", main);
