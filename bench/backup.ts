/**
 * `npm run bench:backup [-- --stack NAME] [--data events,pgbench] [--scale N] [--rows N] [--keep-data]`
 * (dev by default; not part of `npm test`): pgBackRest against pg_dump on a database of about 1 GB,
 * in one run, on a running stack, for each data set in turn (bench/backup-report.ts backupDataset):
 * `events` (random text and jsonb with two secondary indexes: what an application writes) and
 * `pgbench` (pgbench -i: blank-padded rows, pg_dump's best case, since zlib has next to nothing to
 * do). The ratio depends on the data far more than on either tool's settings, so both are shown.
 *
 * For each data set:
 * 1. `kryonix_bench` made in the stack's PostgreSQL, and its WAL archived;
 * 2. a pgBackRest full backup (`npm run backup`'s command): time, throughput, size in the repository;
 * 3. `pg_dump --format=custom` of kryonix_bench streamed to an object in MinIO (a bucket of its own,
 *    `kryonix-bench`, removed afterwards): time, size;
 * 4. `npm run restore -- --latest` (pgBackRest into a scratch container, WAL replayed, accepting
 *    connections): time;
 * 5. the dump streamed back from MinIO into `pg_restore` in that scratch server: time;
 * then kryonix_bench is dropped (kept after the last data set with --keep-data: a second run then
 * skips loading it), so that each backup holds one data set. Finally:
 * 6. the archive lag: a lone commit, then how long until pg_stat_archiver has its segment.
 * Prints a table per data set with the ratios and the targets, writes
 * bench/results/backup-<time>.json (and backup-latest.json: the settings of pgBackRest measured, the
 * load average at start and end) and puts the backup and restore ratios on the chart
 * (bench/chart.ts). The scratch containers and the bench bucket are removed.
 */
import { spawn } from "node:child_process";
import { runCli, runCliOrThrow, runDocker } from "../io/docker-cli";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { PassThrough } from "node:stream";
import { Client as MinioClient } from "minio";
import { Client } from "pg";
import { MINIO_REGION } from "../model/minio-policy";
import { RESULTS_DIR, updateChart } from "./chart";
import { backupComparisons, backupDataset, formatBackupBench, parseBackupBenchArgs, summarizeBackupBench, type BackupBenchMeasures, type BackupDataset } from "./backup-report";
import { backupCommand } from "../render/backup-cli";
import { LOOPBACK } from "../model/containers";
import { readBackupTarget, readOutputs } from "../ops/stack-run";
import { pgSsl } from "../model/tls";
import { repoRoot } from "../toolchain/versions";
import { runMain } from "../ops/cli";

const DB = "kryonix_bench";
const BUCKET = "kryonix-bench";
const say = (m: string) => process.stderr.write(`[bench:backup] ${m}\n`);


async function main(): Promise<number> {
  const started = new Date();
  const loadavgAtStart = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number);
  const options = parseBackupBenchArgs(process.argv.slice(2));
  const { target, env } = readBackupTarget(options.stack);
  const outputs = readOutputs(options.stack) as any;
  const live = target.container;
  const run = (cmd: string, args: string[], opts: { inherit?: boolean; input?: string } = {}) => {
    return runCliOrThrow(cmd, args, { env, input: opts.input, inherit: opts.inherit ? "all" : undefined, maxBuffer: 256 * 1024 * 1024, timeoutMs: 0 }).stdout;
  };
  const timed = async <T>(what: string, fn: () => Promise<T> | T): Promise<[T, number]> => {
    say(`${what} ...`);
    const t0 = Date.now();
    const value = await fn();
    const s = (Date.now() - t0) / 1000;
    say(`${what}: ${s.toFixed(1)} s`);
    return [value, s];
  };
  // The live server speaks TLS only (verify-full, stack CA); the scratch copy runs without the stack's TLS files.
  const sql = async <T = any>(database: string, text: string, port = target.port): Promise<T[]> => {
    const ssl = port === target.port ? pgSsl(target.caCertificate, LOOPBACK) : false;
    const c = new Client({ host: LOOPBACK, port, database, user: target.superuser.user, password: target.superuser.password, ssl });
    await c.connect();
    try {
      return (await c.query(text)).rows as T[];
    } finally {
      await c.end();
    }
  };
  const waitArchived = async (wal: string, deadlineMs: number) => {
    const end = Date.now() + deadlineMs;
    for (;;) {
      const [a] = await sql(target.database, "SELECT last_archived_wal FROM pg_stat_archiver");
      if (typeof a.last_archived_wal === "string" && a.last_archived_wal >= wal) return;
      if (Date.now() > end) throw new Error(`WAL segment ${wal} not archived within ${deadlineMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const s3 = new MinioClient({
    endPoint: LOOPBACK,
    port: outputs.endpoints.minio.port,
    useSSL: true,
    accessKey: outputs.credentials.minio.accessKey,
    secretKey: outputs.credentials.minio.secretKey,
    region: MINIO_REGION,
    pathStyle: true,
    transportAgent: new https.Agent({ ca: outputs.caCertificate, keepAlive: true }),
  });
  const countRows = async (ds: BackupDataset, port?: number, database = DB) =>
    Number((await sql(database, `SELECT count(*)::bigint AS n FROM ${ds.table}`, port).catch(() => [{ n: 0 }]))[0].n);

  /** One data set through both tools: load, pgBackRest backup, pg_dump, both restores, row counts. */
  const benchDataset = async (ds: BackupDataset, keep: boolean, scratches: string[]): Promise<Omit<BackupBenchMeasures, "archiveTimeoutSeconds" | "archiveLagSeconds">> => {
    say(`data set ${ds.name}: ${ds.description}`);
    const exists = (await sql("postgres", `SELECT 1 FROM pg_database WHERE datname = '${DB}'`)).length > 0;
    if (!exists || (await countRows(ds)) !== ds.rows) {
      if (exists) await sql("postgres", `DROP DATABASE ${DB}`);
      await sql("postgres", `CREATE DATABASE ${DB}`);
      if ("pgbench" in ds.load) await timed(`load ${ds.name} (pgbench ${ds.load.pgbench.join(" ")})`, () => run("docker", ["exec", "-u", "postgres", live, "pgbench", ...(ds.load as { pgbench: string[] }).pgbench, DB], { inherit: true }));
      else await timed(`load ${ds.name} (SQL, ${ds.rows} rows)`, () => run("docker", ["exec", "-i", "-u", "postgres", live, "psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", DB], { inherit: true, input: (ds.load as { sql: string }).sql }));
    } else {
      say(`${DB} already holds data set ${ds.name}: loading skipped`);
    }
    const [{ wal }] = await sql(target.database, "SELECT pg_walfile_name(pg_switch_wal()) AS wal");
    await timed("the data's WAL archived", () => waitArchived(wal, 1_800_000));
    await sql(DB, "CHECKPOINT");
    const [{ db, cluster }] = await sql(DB, `SELECT pg_database_size('${DB}')::bigint AS db, (SELECT sum(pg_database_size(datname))::bigint FROM pg_database) AS cluster`);
    say(`${DB}: ${(Number(db) / 1024 / 1024).toFixed(0)} MB; cluster ${(Number(cluster) / 1024 / 1024).toFixed(0)} MB`);

    // pgBackRest full backup (npm run backup's command).
    const [, backupSeconds] = await timed("pgBackRest full backup", () => run("docker", ["exec", "-u", "postgres", live, ...backupCommand("full").filter((a) => !a.startsWith("--log-level"))], { inherit: true }));
    const info = JSON.parse(run("docker", ["exec", "-u", "postgres", live, "pgbackrest", "--stanza=kryonix", "info", "--output=json"]));
    const lastFull = [...info[0].backup].reverse().find((b: any) => b.type === "full");
    // With block incremental (repo1-block) pgBackRest reports no `size`, only `delta`: for a full,
    // every file is in the delta, so it is the backup's size in the repository.
    const repositoryBytes = Number(lastFull.info.repository.size ?? lastFull.info.repository.delta);

    // pg_dump -Fc streamed into MinIO.
    const key = `pg_dump-${ds.name}-${new Date().toISOString()}.dump`;
    const [, dumpSeconds] = await timed("pg_dump --format=custom to MinIO", async () => {
      const child = spawn("docker", ["exec", "-u", "postgres", live, "pg_dump", "--format=custom", "-d", DB], { env, stdio: ["ignore", "pipe", "inherit"] });
      const body = new PassThrough();
      child.stdout.pipe(body);
      const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? 1)));
      await s3.putObject(BUCKET, key, body, undefined, { "Content-Type": "application/octet-stream" });
      if ((await exited) !== 0) throw new Error("pg_dump failed (see above)");
    });
    const dumpBytes = (await s3.statObject(BUCKET, key)).size;

    // pgBackRest restore into a scratch container (npm run restore -- --latest).
    const [restoreOut, restoreSeconds] = await timed("pgBackRest restore --latest (scratch container, until it accepts connections)", () =>
      run("npx", ["tsx", path.join(repoRoot, "scripts/restore.ts"), "--stack", options.stack, "--latest"]),
    );
    const restored = JSON.parse(restoreOut.trim().split("\n").pop()!);
    scratches.push(restored.container);
    say(`restore's parts: pgBackRest restore ${restored.copySeconds} s, then the server's start, WAL replay and promotion ${restored.recoverySeconds} s`);

    // pg_restore from MinIO into the scratch server.
    await sql("postgres", "CREATE DATABASE kryonix_bench_pg_restore", restored.port);
    const [, pgRestoreSeconds] = await timed("pg_restore from MinIO", async () => {
      const child = spawn("docker", ["exec", "-i", "-u", "postgres", restored.container, "pg_restore", "--no-owner", "-d", "kryonix_bench_pg_restore"], { env, stdio: ["pipe", "inherit", "inherit"] });
      const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? 1)));
      (await s3.getObject(BUCKET, key)).pipe(child.stdin);
      if ((await exited) !== 0) throw new Error("pg_restore failed (see above)");
    });
    for (const [what, database] of [["pg_restore", "kryonix_bench_pg_restore"], ["pgBackRest restore", DB]] as const) {
      const n = await countRows(ds, restored.port, database);
      if (n !== ds.rows) throw new Error(`${what}: ${n} rows in ${ds.table}, expected ${ds.rows}`);
    }
    // The restore container goes now, so that the next data set's restore has the machine to itself.
    removeScratch(restored.container, env);
    scratches.splice(scratches.indexOf(restored.container), 1);
    if (!keep) await sql("postgres", `DROP DATABASE ${DB}`);
    return {
      databaseBytes: Number(db),
      clusterBytes: Number(cluster),
      pgbackrest: { backupSeconds, repositoryBytes, restoreSeconds, restoreCopySeconds: restored.copySeconds, restoreRecoverySeconds: restored.recoverySeconds },
      pgDump: { dumpSeconds, dumpBytes, restoreSeconds: pgRestoreSeconds },
    };
  };

  const scratches: string[] = [];
  try {
    if (!(await s3.bucketExists(BUCKET))) await s3.makeBucket(BUCKET, MINIO_REGION);
    const measured: [BackupDataset, Awaited<ReturnType<typeof benchDataset>>][] = [];
    for (const [i, name] of options.data.entries()) {
      const ds = backupDataset(name, options);
      measured.push([ds, await benchDataset(ds, options.keep && i === options.data.length - 1, scratches)]);
    }

    // Archive lag of a lone commit (nothing else written meanwhile).
    await sql("postgres", "CREATE TABLE IF NOT EXISTS public.kryonix_bench_rpo (at timestamptz)");
    const [{ wal: before }] = await sql("postgres", "SELECT pg_walfile_name(pg_switch_wal()) AS wal");
    await waitArchived(before, 600_000);
    const [, lag] = await timed("archive lag of a lone commit", async () => {
      await sql("postgres", "INSERT INTO public.kryonix_bench_rpo VALUES (now())");
      const [{ seg }] = await sql("postgres", "SELECT pg_walfile_name(pg_current_wal_insert_lsn()) AS seg");
      await waitArchived(seg, (target.archiveTimeoutSeconds + 120) * 1000);
    });
    await sql("postgres", "DROP TABLE IF EXISTS public.kryonix_bench_rpo");

    const datasets = measured.map(([ds, m]) => ({
      name: ds.name,
      description: ds.description,
      rows: ds.rows,
      ...summarizeBackupBench({ ...m, archiveTimeoutSeconds: target.archiveTimeoutSeconds, archiveLagSeconds: lag }),
    }));
    for (const d of datasets) process.stdout.write(`\n== ${d.name}: ${d.description} ==\n${formatBackupBench(d)}\n`);
    const file = path.join(RESULTS_DIR, `backup-${started.toISOString().replace(/[:.]/g, "-")}.json`);
    // What the run measured: pgBackRest's speed settings as the live container has them.
    const pgbackrestSettings = () =>
      run("docker", ["exec", live, "cat", "/etc/pgbackrest/pgbackrest.conf"])
        .split("\n")
        .filter((l) => /^(\[|compress|process-max|repo1-bundle|repo1-block|buffer-size|archive-async)/.test(l));
    mkdirSync(path.dirname(file), { recursive: true });
    const cpus = runCli("nproc", []).stdout.trim();
    const loadavg = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number);
    const comparisons = backupComparisons(datasets);
    writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), stack: options.stack, host: { cpus: Number(cpus), loadavg, loadavgAtStart }, pgbackrest: pgbackrestSettings(), datasets, comparisons }, null, 2)}\n`);
    copyFileSync(file, path.join(RESULTS_DIR, "backup-latest.json"));
    say(`written ${path.relative(repoRoot, file)} and bench/results/backup-latest.json`);
    updateChart(comparisons, started);
    say("bench/results/chart.json and ratios.svg updated");
    return 0;
  } finally {
    for (const scratch of scratches) removeScratch(scratch, env);
    try {
      if (await s3.bucketExists(BUCKET)) {
        const names: string[] = [];
        for await (const o of s3.listObjects(BUCKET, "", true)) names.push((o as { name: string }).name);
        if (names.length) await s3.removeObjects(BUCKET, names);
        await s3.removeBucket(BUCKET);
      }
    } catch (err) {
      say(`could not remove the bucket ${BUCKET}: ${(err as Error).message}`);
    }
    if (!options.keep) await sql("postgres", `DROP DATABASE IF EXISTS ${DB}`).catch((err) => say(`could not drop ${DB}: ${(err as Error).message}`));
  }
}

function removeScratch(container: string, env: NodeJS.ProcessEnv): void {
  runDocker(["rm", "-f", "-v", container], { env });
  runDocker(["volume", "rm", container], { env });
}

runMain("bench:backup", main, 1);
