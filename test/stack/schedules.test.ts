/**
 * `npm run test:db:schedules`: the job schedules and the restore drill for real, on a stack of its
 * own ("schedtest": containers kryonix-schedtest-*, ports picked free on 127.0.0.1, its own file
 * backend and passphrase), every schedule set to every minute:
 *
 * 1. a schedule that does not parse fails `npm run preview`, naming its key and the format;
 * 2. `npm run up` with every job every minute (the backups as differentials); a scheduled backup
 *    appears in `pgbackrest info` and in kryonix.job_runs, with nobody logged in (no command of ours ran it);
 * 3. the partitions job (pg_cron) creates next month's partition again after it was dropped;
 * 4. every container restarted: tini is PID 1 and cron runs again, the next scheduled backup
 *    fires, and the partitions job recreates the dropped partition again;
 * 5. a scheduled restore drill passes (kryonix.job_runs, trigger schedule), in the restore drill's
 *    own container (its crontab, its memory and CPU limits, no published port), logged in over TLS
 *    as kryonix_drill, never as the superuser, and that role can write no table;
 * 6. `npm run backup:verify -- --json` passes: every table matched, amcheck and pgbackrest verify
 *    clean, the copy restored in the drill container and removed, none of it in the postgres container;
 * 7. `npm run backup:status -- --json`: the schedules, each job's last run, the last drill passed;
 * 8. a real mismatch: an UNLOGGED table with rows (never in the WAL, so never in a backup) makes
 *    `npm run backup:verify` exit 1 naming the table, and `backup:status` exit 1 on the failed drill;
 * 9. `npm run destroy -- --including-data` leaves nothing named kryonix-schedtest-*.
 *
 * Every wait has a deadline and a real signal (pgBackRest's info, the catalog, kryonix.job_runs).
 */
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgSsl } from "../../model/tls";
import { postgresLog } from "../support/docker";
import { dockerLeftovers, sh, waitFor } from "../support/process";
import { openTestStack, testStackName, type TestStack } from "../support/stack";

const STACK = testStackName("schedtest");
const PREFIX = `kryonix-${STACK}-`;
const PG = `${PREFIX}postgres`;
const DRILL = `${PREFIX}restore-drill`;
// A cron minute, a backup on a loaded 2-core machine, and slack.
const JOB_DEADLINE = 4 * 60_000;

let t: TestStack;
const timed = <T>(step: string, fn: () => Promise<T> | T) => t.timed(step, fn);

async function live<T = any>(sql: string, database?: string): Promise<T[]> {
  const o = await t.outputs();
  const client = new Client({
    host: "127.0.0.1",
    port: o.endpoints.postgres.port,
    database: database ?? o.endpoints.postgres.database,
    user: o.credentials.postgres.user,
    password: o.credentials.postgres.password,
    ssl: pgSsl(o.caCertificate, "127.0.0.1"),
    connectionTimeoutMillis: 10_000,
  });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}
/** Like live(), but a server that is restarting is a "not yet", not a failure. */
const probe = async <T = any>(sql: string, database?: string): Promise<T[] | undefined> => live<T>(sql, database).catch(() => undefined);

/** The backups' labels in the repository (pgBackRest's own record). */
function backups(): string[] {
  const r = sh("docker", ["exec", "-u", "postgres", PG, "pgbackrest", "--stanza=kryonix", "--output=json", "--log-level-console=warn", "info"]);
  if (r.code !== 0) return [];
  const info = JSON.parse(r.stdout) as { backup?: { label: string; type: string }[] }[];
  return (info[0]?.backup ?? []).map((b) => b.label);
}

const scheduledRuns = (job: string, since: string) =>
  probe<{ exit_code: number; finished_at: Date }>(
    `SELECT exit_code, finished_at FROM kryonix.job_runs WHERE job = '${job}' AND trigger = 'schedule' AND started_at > '${since}' ORDER BY id`,
    "postgres",
  );

/** analytics.user_sessions' partition for next month (UTC), as ensure_user_sessions_partitions names it. */
function nextMonthPartition(now = new Date()): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  return `user_sessions_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
}
async function dropAndAwaitPartition(label: string): Promise<void> {
  const part = nextMonthPartition();
  await live(`DROP TABLE analytics.${part}`);
  expect((await live(`SELECT to_regclass('analytics.${part}') AS r`))[0].r).toBeNull();
  await timed(`partitions job recreates analytics.${part} (${label})`, () =>
    waitFor(`pg_cron recreating analytics.${part}`, JOB_DEADLINE, async () => (await probe(`SELECT to_regclass('analytics.${part}') AS r`))?.[0]?.r != null),
  );
  const runs = await live(
    "SELECT status FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname = 'kryonix-user-sessions-partitions' ORDER BY runid DESC LIMIT 1",
  );
  expect(runs[0].status).toBe("succeeded");
}

beforeAll(async () => {
  t = await openTestStack(STACK, "schedules test");
});

afterAll(() => {
  t?.dispose();
});

describe.sequential("schedules and the restore drill, for real", () => {
  it("1. a schedule that does not parse fails the preview, naming the key and the format", async () => {
    await t.stack.setConfig("kryonix:backupFullSchedule", { value: "0 25 * * *" });
    const preview = await timed("npm run preview (bad schedule)", () => t.npm("preview"));
    expect(preview.code).not.toBe(0);
    expect(preview.out).toContain('kryonix:backupFullSchedule: "0 25 * * *" is invalid: a cron schedule in UTC: five fields');
    expect(preview.out).toContain("25 is outside 0-23");
    expect(t.containerNames()).toEqual([]);
  });

  let upAt = "";
  let firstBackups: string[] = [];
  it("2. every job every minute: a scheduled backup appears with nobody running it", async () => {
    // Differentials every minute: the first is a full (pgBackRest promotes a diff without a full),
    // the next ones are small, so the drill's `pgbackrest verify` stays quick. The full's own
    // schedule (January 1st) is only checked in the crontab.
    for (const key of ["backupDiffSchedule", "partitionsSchedule", "restoreDrillSchedule"]) await t.stack.setConfig(`kryonix:${key}`, { value: "* * * * *" });
    await t.stack.setConfig("kryonix:backupFullSchedule", { value: "0 0 1 1 *" });
    const up = await timed("npm run up (from empty)", () => t.npm("up"));
    expect(up.code, up.out).toBe(0);
    upAt = new Date().toISOString();
    const crontab = sh("docker", ["exec", PG, "cat", "/etc/cron.d/kryonix"]).stdout;
    expect(crontab).toContain("0 0 1 1 * root /usr/local/bin/kryonix-job backup-full pgbackrest --stanza=kryonix --type=full backup");
    expect(crontab).toContain("* * * * * root /usr/local/bin/kryonix-job backup-diff pgbackrest --stanza=kryonix --type=diff backup");
    // The drill is scheduled in its own container, not beside the live server.
    expect(crontab).not.toContain("restore-drill");
    expect(sh("docker", ["exec", DRILL, "cat", "/etc/cron.d/kryonix"]).stdout).toContain("* * * * * root /usr/local/bin/kryonix-job restore-drill kryonix-drill");
    await timed("a scheduled backup in pgbackrest info", () =>
      waitFor("a scheduled backup", JOB_DEADLINE, async () => ((await scheduledRuns("backup-diff", "-infinity")) ?? []).some((r) => r.exit_code === 0)),
    );
    firstBackups = backups();
    expect(firstBackups.length).toBeGreaterThan(0);
  });

  it("3. the partitions job (pg_cron) creates next month's partition", async () => {
    const job = await live("SELECT schedule, command, database FROM cron.job WHERE jobname = 'kryonix-user-sessions-partitions'");
    expect(job).toEqual([{ schedule: "* * * * *", command: "SELECT analytics.ensure_user_sessions_partitions(3)", database: "kryonix_saas" }]);
    await dropAndAwaitPartition("first");
  });

  let restartedAt = "";
  it("4. every container restarted: the schedules run again", async () => {
    restartedAt = new Date().toISOString();
    const names = t.containerNames();
    expect(names).toContain(PG);
    const r = await timed("docker restart (every container)", () => sh("docker", ["restart", ...names]));
    expect(r.code, r.out).toBe(0);
    await waitFor("postgres accepting connections after the restart", 300_000, async () => (await probe("SELECT 1 AS ok")) !== undefined);
    for (const container of [PG, DRILL]) {
      const ps = sh("docker", ["exec", container, "ps", "-eo", "pid,comm"]).stdout;
      expect(ps, container).toMatch(/^\s*1 tini$/m);
      expect(ps, container).toMatch(/\bcron$/m);
    }
    await timed("the next scheduled backup after the restart", () =>
      waitFor("a scheduled backup after the restart", JOB_DEADLINE, async () =>
        ((await scheduledRuns("backup-diff", restartedAt)) ?? []).some((x) => x.exit_code === 0),
      ),
    );
    expect(backups().filter((l) => !firstBackups.includes(l)).length).toBeGreaterThan(0);
    await dropAndAwaitPartition("after the restart");
  });

  it("5. a scheduled restore drill passes", async () => {
    // One that started after the restart: an earlier one may have been cut short by it.
    await timed("a scheduled drill after the restart", () =>
      waitFor("a scheduled restore drill", JOB_DEADLINE, async () => ((await scheduledRuns("restore-drill", restartedAt)) ?? []).length > 0),
    );
    const runs = await live(`SELECT exit_code, report FROM kryonix.job_runs WHERE job = 'restore-drill' AND trigger = 'schedule' AND started_at > '${restartedAt}' ORDER BY id LIMIT 1`, "postgres");
    const why = () => `${JSON.stringify(runs[0])}\n${sh("docker", ["logs", "--tail", "60", DRILL]).out}`;
    expect(runs[0].report?.ok, why()).toBe(true);
    expect(runs[0].exit_code).toBe(0);
  });

  it("5b. the drill's container: its own limits, no published port, no superuser password; its role logs in over TLS and writes nothing", async () => {
    const inspect = JSON.parse(sh("docker", ["inspect", DRILL]).stdout)[0];
    expect(inspect.HostConfig.Memory).toBe(512 * 1024 * 1024);
    expect(inspect.HostConfig.NanoCpus).toBe(1e9);
    expect(inspect.HostConfig.PortBindings ?? {}).toEqual({});
    expect(Object.keys(inspect.NetworkSettings.Networks)).toEqual([`${PREFIX}net`]);
    const o = await t.outputs();
    // The drill's container, and the live server's log (its files with kryonix:serverLog = file), where the drill's sessions are logged.
    const seen = `${sh("docker", ["inspect", DRILL]).out}\n${sh("docker", ["logs", DRILL]).out}\n${postgresLog(`${PREFIX}postgres`)}`;
    for (const secret of [o.credentials.postgres.password, o.credentials.roles.kryonix_drill, o.credentials.minio.secretKey]) expect(seen).not.toContain(secret);
    // Nothing of the superuser's in the container's files either (the uploads are the drill's own).
    expect(sh("docker", ["exec", DRILL, "grep", "-rqF", o.credentials.postgres.password, "/run/kryonix", "/etc/kryonix", "/etc/pgbackrest"]).code).toBe(1);
    // The drill's sessions on the live server: its role, over TLS.
    const sessions = await live<{ usename: string; ssl: boolean }>(
      "SELECT DISTINCT a.usename, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.application_name IN ('kryonix-drill', 'kryonix-job')",
    );
    for (const x of sessions) expect(x).toEqual({ usename: "kryonix_drill", ssl: true });
    // The role's reach: table sums, locks, restore points; no row read, no write, no other database, not through PgBouncer.
    const asDrill = async (sql: string, database = o.endpoints.postgres.database, port = o.endpoints.postgres.port) => {
      const c = new Client({ host: "127.0.0.1", port, database, user: "kryonix_drill", password: o.credentials.roles.kryonix_drill, ssl: pgSsl(o.caCertificate, "127.0.0.1"), connectionTimeoutMillis: 10_000 });
      await c.connect();
      try {
        return (await c.query(sql)).rows;
      } finally {
        await c.end();
      }
    };
    expect((await asDrill("SELECT count(*)::int AS n FROM kryonix.drill_table_sums()"))[0].n).toBeGreaterThanOrEqual(15);
    await expect(asDrill("SELECT count(*) FROM auth.users")).rejects.toThrow(/permission denied/);
    await expect(asDrill("SELECT rolpassword FROM pg_authid")).rejects.toThrow(/permission denied/);
    await expect(asDrill("INSERT INTO core.projects DEFAULT VALUES")).rejects.toThrow(/permission denied/);
    await expect(asDrill("INSERT INTO kryonix.job_runs (job, trigger, started_at, finished_at, exit_code) VALUES ('x', 'manual', now(), now(), 0)", "postgres")).rejects.toThrow(/permission denied/);
    await expect(asDrill("SELECT 1", "template1")).rejects.toThrow(/pg_hba.conf rejects connection|no pg_hba.conf entry/);
    await expect(asDrill("SELECT 1", o.endpoints.pgbouncer.database, o.endpoints.pgbouncer.port)).rejects.toThrow(/authentication failed/);
  });

  it("6. `npm run backup:verify` passes on the healthy stack", async () => {
    const r = await timed("npm run backup:verify --json", () => t.npm("backup-verify", "--json"));
    expect(r.code, r.out).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(true);
    expect(report.mismatches).toEqual([]);
    expect(report.tables).toBeGreaterThanOrEqual(10);
    // Every table, pg_cron's (row-level security) included: the sums come from a SECURITY DEFINER function.
    expect(report.tables).toBeGreaterThanOrEqual(15);
    expect(report.restorePoint).toMatch(/^kryonix-drill-\d{8}T\d{6}Z$/);
    expect(report.backupSet).toMatch(/^\d{8}-\d{6}F/);
    expect(report.amcheck.map((a: any) => a.database).sort()).toEqual(["kryonix_saas", "postgres", "template1"]);
    for (const a of report.amcheck) {
      expect(a.btreeIndexes).toBeGreaterThan(100);
      expect(a.failures).toEqual([]);
    }
    expect(report.pgbackrestVerify).toMatchObject({ ok: true, exitCode: 0 });
    // This drill's scratch copy was in the drill container and is gone (a scheduled drill may have its own by now).
    expect(report.scratch).toMatch(/^\/var\/lib\/postgresql\/drill\/kryonix-drill\.\w+$/);
    expect(sh("docker", ["exec", DRILL, "test", "-d", "/var/lib/postgresql/drill"]).code).toBe(0);
    expect(sh("docker", ["exec", DRILL, "test", "-e", report.scratch]).code).toBe(1);
    // The live server's container never held a copy.
    expect(sh("docker", ["exec", PG, "sh", "-c", "ls -d /var/lib/postgresql/kryonix-drill.* /var/lib/postgresql/drill 2>/dev/null"]).stdout.trim()).toBe("");
  });

  it("7. `npm run backup:status` shows the schedules, their last runs and the last drill", async () => {
    const r = await timed("npm run backup:status --json", () => t.npm("backup-status", "--json"));
    expect(r.code, r.out).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.schedules).toEqual({ backupFull: "0 0 1 1 *", backupDiff: "* * * * *", partitions: "* * * * *", restoreDrill: "* * * * *" });
    expect(s.lastRuns["backup-diff"]).toMatchObject({ trigger: "schedule", exit_code: 0 });
    expect(s.lastRuns["backup-full"]).toBeNull();
    expect(s.lastDrill).toMatchObject({ ok: true });
    expect(s.partitionsJob.lastRun.status).toBe("succeeded");
    const text = t.npm("backup-status").stdout;
    expect(text).toMatch(/^ {2}backup-diff {4}\* \* \* \* \* {8}last: \S+ \(schedule\), exit 0$/m);
    expect(text).toMatch(/^last drill: PASSED at /m);
  });

  it("8. a real mismatch (an UNLOGGED table, never in a backup) fails the drill, naming the table", async () => {
    await live("CREATE UNLOGGED TABLE public.drill_probe AS SELECT g AS n FROM generate_series(1, 5) g");
    const r = await timed("npm run backup:verify (mismatch)", () => t.npm("backup-verify"));
    expect(r.code, r.out).toBe(1);
    expect(r.stdout).toMatch(/^restore drill FAILED/m);
    expect(r.stdout).toContain("MISMATCH public.drill_probe: row count differs (live 5 rows, restored 0); an UNLOGGED table");
    const status = t.npm("backup-status", "--json");
    expect(status.code, status.out).toBe(1);
    const s = JSON.parse(status.stdout);
    expect(s.lastDrill.ok).toBe(false);
    expect(s.lastDrill.report.mismatches).toEqual([{ table: "public.drill_probe", problem: "row count differs", liveRows: 5, restoredRows: 0, unlogged: true }]);
    await live("DROP TABLE public.drill_probe");
  });

  it("9. `npm run destroy -- --including-data` leaves nothing", async () => {
    const down = await timed("npm run destroy --including-data", () => t.npm("destroy", "--including-data"));
    expect(down.code, down.out).toBe(0);
    expect(dockerLeftovers(PREFIX)).toEqual([]);
  });
});
