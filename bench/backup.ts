/**
 * `npm run bench:backup [-- --stack NAME] [--scale N] [--keep-data]` (dev by default; not part of
 * `npm test`): pgBackRest against pg_dump on a database of about 1 GB, in one run, on a running
 * stack.
 *
 * 1. `kryonix_bench` made with pgbench -i -s N (70 by default: about 1 GB) in the stack's
 *    PostgreSQL, and its WAL archived;
 * 2. a pgBackRest full backup (`npm run backup`'s command): time, throughput, size in the repository;
 * 3. `pg_dump --format=custom` of kryonix_bench streamed to an object in MinIO (a bucket of its own,
 *    `kryonix-bench`, removed afterwards): time, size;
 * 4. `npm run restore -- --latest` (pgBackRest into a scratch container, WAL replayed, accepting
 *    connections): time;
 * 5. the dump streamed back from MinIO into `pg_restore` in that scratch server: time;
 * 6. the archive lag: a lone commit, then how long until pg_stat_archiver has its segment.
 * Prints a table with the ratios and the issue's targets, and writes bench/results/backup-<date>.json.
 * The scratch container and the bench bucket are removed at the end; kryonix_bench is dropped unless
 * --keep-data (a second run then skips pgbench -i).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { PassThrough } from "node:stream";
import { Client as MinioClient } from "minio";
import { Client } from "pg";
import { MINIO_REGION } from "../components/minio-bucket";
import { formatBackupBench, summarizeBackupBench } from "../lib/bench-backup";
import { backupCommand } from "../lib/backup-cli";
import { LOOPBACK } from "../lib/containers";
import { readBackupTarget, readOutputs } from "../lib/stack-run";
import { pgSsl } from "../lib/tls";
import { repoRoot } from "../lib/versions";

const DB = "kryonix_bench";
const BUCKET = "kryonix-bench";
const say = (m: string) => process.stderr.write(`[bench:backup] ${m}\n`);

function parseArgs(args: string[]): { stack: string; scale: number; keep: boolean } {
  const o = { stack: "dev", scale: 70, keep: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--stack") o.stack = args[++i];
    else if (a === "--scale") o.scale = Number(args[++i]);
    else if (a === "--keep-data") o.keep = true;
    else throw new Error(`bench:backup: unknown argument ${JSON.stringify(a)}; allowed: --stack NAME, --scale N (pgbench scale, 70 = about 1 GB), --keep-data`);
  }
  if (!o.stack || !Number.isInteger(o.scale) || o.scale < 1 || o.scale > 1000) throw new Error("bench:backup: --stack NAME and --scale 1..1000 required");
  return o;
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const { target, env } = readBackupTarget(options.stack);
  const outputs = readOutputs(options.stack) as any;
  const live = target.container;
  const run = (cmd: string, args: string[], opts: { inherit?: boolean } = {}) => {
    const r = spawnSync(cmd, args, { env, encoding: "utf8", stdio: opts.inherit ? ["ignore", "inherit", "inherit"] : undefined, maxBuffer: 256 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 4).join(" ")} exited ${r.status}: ${opts.inherit ? "see above" : (r.stderr ?? "").trim()}`);
    return r.stdout ?? "";
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

  let scratch = "";
  try {
    // 1. The data.
    const exists = (await sql("postgres", `SELECT 1 FROM pg_database WHERE datname = '${DB}'`)).length > 0;
    const accounts = exists ? Number((await sql(DB, "SELECT count(*) AS n FROM pgbench_accounts").catch(() => [{ n: 0 }]))[0].n) : 0;
    if (accounts !== options.scale * 100_000) {
      if (exists) await sql("postgres", `DROP DATABASE ${DB}`);
      await sql("postgres", `CREATE DATABASE ${DB}`);
      await timed(`pgbench -i -s ${options.scale}`, () => run("docker", ["exec", "-u", "postgres", live, "pgbench", "-i", "-q", "-s", String(options.scale), DB], { inherit: true }));
    } else {
      say(`${DB} already holds scale ${options.scale}: pgbench -i skipped`);
    }
    const [{ wal }] = await sql(target.database, "SELECT pg_walfile_name(pg_switch_wal()) AS wal");
    await timed("the data's WAL archived", () => waitArchived(wal, 1_800_000));
    await sql(DB, "CHECKPOINT");
    const [{ db, cluster }] = await sql(DB, `SELECT pg_database_size('${DB}')::bigint AS db, (SELECT sum(pg_database_size(datname))::bigint FROM pg_database) AS cluster`);
    say(`${DB}: ${(Number(db) / 1024 / 1024).toFixed(0)} MB; cluster ${(Number(cluster) / 1024 / 1024).toFixed(0)} MB`);

    // 2. pgBackRest full backup.
    const [, backupSeconds] = await timed("pgBackRest full backup", () => run("docker", ["exec", "-u", "postgres", live, ...backupCommand("full").filter((a) => !a.startsWith("--log-level"))], { inherit: true }));
    const info = JSON.parse(run("docker", ["exec", "-u", "postgres", live, "pgbackrest", "--stanza=kryonix", "info", "--output=json"]));
    const lastFull = [...info[0].backup].reverse().find((b: any) => b.type === "full");
    const repositoryBytes = Number(lastFull.info.repository.size);

    // 3. pg_dump -Fc streamed into MinIO.
    if (!(await s3.bucketExists(BUCKET))) await s3.makeBucket(BUCKET, MINIO_REGION);
    const key = `pg_dump-${new Date().toISOString()}.dump`;
    const [, dumpSeconds] = await timed("pg_dump --format=custom to MinIO", async () => {
      const child = spawn("docker", ["exec", "-u", "postgres", live, "pg_dump", "--format=custom", "-d", DB], { env, stdio: ["ignore", "pipe", "inherit"] });
      const body = new PassThrough();
      child.stdout.pipe(body);
      const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? 1)));
      await s3.putObject(BUCKET, key, body, undefined, { "Content-Type": "application/octet-stream" });
      if ((await exited) !== 0) throw new Error("pg_dump failed (see above)");
    });
    const dumpBytes = (await s3.statObject(BUCKET, key)).size;

    // 4. pgBackRest restore into a scratch container (npm run restore -- --latest).
    const [restoreOut, restoreSeconds] = await timed("pgBackRest restore --latest (scratch container, until it accepts connections)", () =>
      run("npx", ["tsx", path.join(repoRoot, "scripts/restore.ts"), "--stack", options.stack, "--latest"]),
    );
    const restored = JSON.parse(restoreOut.trim().split("\n").pop()!);
    scratch = restored.container;

    // 5. pg_restore from MinIO into the scratch server.
    await sql("postgres", "CREATE DATABASE kryonix_bench_pg_restore", restored.port);
    const [, pgRestoreSeconds] = await timed("pg_restore from MinIO", async () => {
      const child = spawn("docker", ["exec", "-i", "-u", "postgres", scratch, "pg_restore", "--no-owner", "-d", "kryonix_bench_pg_restore"], { env, stdio: ["pipe", "inherit", "inherit"] });
      const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? 1)));
      (await s3.getObject(BUCKET, key)).pipe(child.stdin);
      if ((await exited) !== 0) throw new Error("pg_restore failed (see above)");
    });
    const [{ n }] = await sql("kryonix_bench_pg_restore", "SELECT count(*)::bigint AS n FROM pgbench_accounts", restored.port);
    if (Number(n) !== options.scale * 100_000) throw new Error(`pg_restore: ${n} accounts, expected ${options.scale * 100_000}`);
    const [{ m }] = await sql(DB, "SELECT count(*)::bigint AS m FROM pgbench_accounts", restored.port);
    if (Number(m) !== options.scale * 100_000) throw new Error(`pgBackRest restore: ${m} accounts, expected ${options.scale * 100_000}`);

    // 6. Archive lag of a lone commit (nothing else written meanwhile).
    await sql("postgres", "CREATE TABLE IF NOT EXISTS public.kryonix_bench_rpo (at timestamptz)");
    const [{ wal: before }] = await sql("postgres", "SELECT pg_walfile_name(pg_switch_wal()) AS wal");
    await waitArchived(before, 600_000);
    const [, lag] = await timed("archive lag of a lone commit", async () => {
      await sql("postgres", "INSERT INTO public.kryonix_bench_rpo VALUES (now())");
      const [{ seg }] = await sql("postgres", "SELECT pg_walfile_name(pg_current_wal_insert_lsn()) AS seg");
      await waitArchived(seg, (target.archiveTimeoutSeconds + 120) * 1000);
    });
    await sql("postgres", "DROP TABLE IF EXISTS public.kryonix_bench_rpo");

    const summary = summarizeBackupBench({
      databaseBytes: Number(db),
      clusterBytes: Number(cluster),
      pgbackrest: { backupSeconds, repositoryBytes, restoreSeconds },
      pgDump: { dumpSeconds, dumpBytes, restoreSeconds: pgRestoreSeconds },
      archiveTimeoutSeconds: target.archiveTimeoutSeconds,
      archiveLagSeconds: lag,
    });
    process.stdout.write(`${formatBackupBench(summary)}\n`);
    const file = path.join(repoRoot, "bench", "results", `backup-${new Date().toISOString().slice(0, 10)}.json`);
    mkdirSync(path.dirname(file), { recursive: true });
    const cpus = spawnSync("nproc", { encoding: "utf8" }).stdout.trim();
    writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), stack: options.stack, scale: options.scale, host: { cpus: Number(cpus) }, ...summary }, null, 2)}\n`);
    say(`written ${path.relative(repoRoot, file)}`);
    return 0;
  } finally {
    if (scratch) {
      spawnSync("docker", ["rm", "-f", scratch], { env, stdio: "ignore" });
      spawnSync("docker", ["volume", "rm", scratch], { env, stdio: "ignore" });
    }
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

main().then(
  (code) => (process.exitCode = code),
  (err) => {
    say(`failed: ${(err as Error).message}`);
    process.exitCode = 1;
  },
);
