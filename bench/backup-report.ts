/**
 * The pure part of `npm run bench:backup`: from the measured times and sizes, the throughputs, the
 * ratios against pg_dump, the targets (a pgBackRest full backup at least 2x faster than
 * pg_dump; a 1 GB restore under 60 s) and the printed table.
 */
import { parseCli, ScriptError, STACK_FLAG } from "../ops/cli";
import type { Comparison } from "./report";

export interface BackupBenchMeasures {
  /** The benchmark database's size (pg_database_size) and the whole cluster's. */
  databaseBytes: number;
  clusterBytes: number;
  /** restoreCopySeconds / restoreRecoverySeconds: the restore's two parts (scripts/restore.ts's JSON), when measured. */
  pgbackrest: { backupSeconds: number; repositoryBytes: number; restoreSeconds: number; restoreCopySeconds?: number; restoreRecoverySeconds?: number };
  pgDump: { dumpSeconds: number; dumpBytes: number; restoreSeconds: number };
  /** archive_timeout, and how long a lone committed row waited until its WAL segment was archived. */
  archiveTimeoutSeconds: number;
  archiveLagSeconds: number;
}

export interface BackupBenchSummary extends BackupBenchMeasures {
  pgbackrestBackupMBps: number;
  pgDumpMBps: number;
  /** pg_dump's time over pgBackRest's (2 = pgBackRest twice as fast). */
  backupSpeedup: number;
  restoreSpeedup: number;
  targets: { backupAtLeast2xFaster: boolean; restoreUnder60s: boolean };
  /** Recovery point: committed data an outage of this host can lose, at most (archive_timeout plus the push), and as measured. */
  rpo: { boundSeconds: number; measuredSeconds: number };
  /** Recovery time: pgBackRest's measured restore to a server accepting connections. */
  rtoSeconds: number;
}

const MB = 1024 * 1024;
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Throughputs, ratios and targets. Pure. */
export function summarizeBackupBench(m: BackupBenchMeasures): BackupBenchSummary {
  for (const [name, v] of Object.entries({ ...m.pgbackrest, ...m.pgDump, databaseBytes: m.databaseBytes, clusterBytes: m.clusterBytes })) {
    if (!(typeof v === "number" && Number.isFinite(v) && v > 0)) throw new Error(`bench: ${name} must be a positive number (got ${v})`);
  }
  const backupSpeedup = m.pgDump.dumpSeconds / m.pgbackrest.backupSeconds;
  return {
    ...m,
    // pgBackRest copies the whole cluster; pg_dump the one database.
    pgbackrestBackupMBps: round(m.clusterBytes / MB / m.pgbackrest.backupSeconds),
    pgDumpMBps: round(m.databaseBytes / MB / m.pgDump.dumpSeconds),
    backupSpeedup: round(backupSpeedup, 2),
    restoreSpeedup: round(m.pgDump.restoreSeconds / m.pgbackrest.restoreSeconds, 2),
    targets: { backupAtLeast2xFaster: backupSpeedup >= 2, restoreUnder60s: m.pgbackrest.restoreSeconds < 60 },
    rpo: { boundSeconds: m.archiveTimeoutSeconds, measuredSeconds: round(m.archiveLagSeconds) },
    rtoSeconds: round(m.pgbackrest.restoreSeconds),
  };
}

/**
 * The chart's comparisons (bench/report.ts HEADLINE_FIGURES): pgBackRest's full backup and restore
 * against pg_dump -Fc and pg_restore, each at least 2x on the application-like data set (events);
 * other data sets are shown without a target. Pure.
 */
export function backupComparisons(datasets: readonly (BackupBenchSummary & { name: string })[]): (Comparison & { section: string })[] {
  return datasets.flatMap((d) => {
    const headline = d.name === "events";
    const size = `cluster ${round(d.clusterBytes / MB / 1024, 2)} GB`;
    return [
      {
        section: "backup",
        name: `pgBackRest full backup vs pg_dump -Fc, ${d.name} data set`,
        subject: "pg_dump time",
        baseline: "pgBackRest time",
        ratio: d.pgDump.dumpSeconds / d.pgbackrest.backupSeconds,
        ...(headline ? { target: 2 } : {}),
        note: `${round(d.pgbackrest.backupSeconds)} s against ${round(d.pgDump.dumpSeconds)} s, ${size}`,
      },
      {
        section: "backup",
        name: `pgBackRest restore vs pg_restore, ${d.name} data set`,
        subject: "pg_restore time",
        baseline: "pgBackRest time",
        ratio: d.pgDump.restoreSeconds / d.pgbackrest.restoreSeconds,
        ...(headline ? { target: 2 } : {}),
        note: `${round(d.pgbackrest.restoreSeconds)} s against ${round(d.pgDump.restoreSeconds)} s, ${size}`,
      },
    ];
  });
}

/** The table `npm run bench:backup` prints. Pure. */
export function formatBackupBench(s: BackupBenchSummary): string {
  const mb = (b: number) => `${round(b / MB, 0)} MB`;
  const rows: [string, string, string, string][] = [
    ["", "pgBackRest (full, lz4, aes-256)", "pg_dump -Fc", "ratio"],
    ["backup time", `${round(s.pgbackrest.backupSeconds)} s`, `${round(s.pgDump.dumpSeconds)} s`, `${s.backupSpeedup}x`],
    ["backup throughput", `${s.pgbackrestBackupMBps} MB/s (cluster ${mb(s.clusterBytes)})`, `${s.pgDumpMBps} MB/s (database ${mb(s.databaseBytes)})`, ""],
    ["size in MinIO", mb(s.pgbackrest.repositoryBytes), mb(s.pgDump.dumpBytes), ""],
    ["restore time", `${round(s.pgbackrest.restoreSeconds)} s (to a server accepting connections)`, `${round(s.pgDump.restoreSeconds)} s (pg_restore)`, `${s.restoreSpeedup}x`],
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [
    ...rows.map(line),
    "",
    `target: pgBackRest full backup at least 2x faster than pg_dump: ${s.targets.backupAtLeast2xFaster ? "met" : "NOT met"} (${s.backupSpeedup}x)`,
    `target: restore of about 1 GB under 60 s: ${s.targets.restoreUnder60s ? "met" : "NOT met"} (${round(s.pgbackrest.restoreSeconds)} s)`,
    `RPO: at most archive_timeout = ${s.rpo.boundSeconds} s of committed data (plus the push); measured: a lone commit archived after ${s.rpo.measuredSeconds} s`,
    `RTO: ${s.rtoSeconds} s measured (pgBackRest restore of the whole cluster into a new container, WAL replayed, accepting connections)`,
  ].join("\n");
}

/** The data sets `npm run bench:backup` measures, in the order given by --data. */
export const BACKUP_DATASET_NAMES = ["events", "pgbench"] as const;
export type BackupDatasetName = (typeof BACKUP_DATASET_NAMES)[number];

export interface BackupDataset {
  name: BackupDatasetName;
  description: string;
  /** The table whose row count is checked in both restored copies, and that count. */
  table: string;
  rows: number;
  /** How it is loaded: pgbench's own initialisation, or SQL run by psql in the database. */
  load: { pgbench: string[] } | { sql: string };
}

export interface BackupBenchArgs {
  stack: string;
  data: BackupDatasetName[];
  /** pgbench scale (70: about 1 GB). */
  scale: number;
  /** Rows of the events table (4,000,000: about 1.1 GB of heap, 1.5 GB with its indexes). */
  rows: number;
  keep: boolean;
}

/**
 * `events`: what an application writes (random text, an email, a timestamp and a jsonb document per
 * row, with two secondary indexes), so that compression has real work on both sides. Pure.
 */
export function backupDataset(name: BackupDatasetName, args: Pick<BackupBenchArgs, "scale" | "rows">): BackupDataset {
  if (name === "pgbench") {
    return {
      name,
      description: `pgbench -i -s ${args.scale}: blank-padded rows, pg_dump's best case (zlib has next to nothing to do)`,
      table: "pgbench_accounts",
      rows: args.scale * 100_000,
      load: { pgbench: ["-i", "-q", "-s", String(args.scale)] },
    };
  }
  const sql = [
    "CREATE TABLE events (id bigserial PRIMARY KEY, user_id int NOT NULL, kind text NOT NULL, email text NOT NULL, created_at timestamptz NOT NULL, payload jsonb NOT NULL);",
    "INSERT INTO events (user_id, kind, email, created_at, payload)",
    "SELECT (random() * 100000)::int, (ARRAY['login', 'logout', 'purchase', 'view'])[1 + (random() * 3)::int], md5(random()::text) || '@example.com',",
    "  now() - random() * interval '365 days',",
    "  jsonb_build_object('ip', (random() * 255)::int || '.' || (random() * 255)::int || '.0.1', 'agent', md5(random()::text),",
    "    'amount', round((random() * 1000)::numeric, 2), 'note', md5(random()::text) || md5(random()::text))",
    `FROM generate_series(1, ${args.rows});`,
    "CREATE INDEX ON events (user_id, created_at);",
    "CREATE INDEX ON events (email);",
  ].join("\n");
  return {
    name,
    description: `${args.rows.toLocaleString("en-US")} application events: random text, email, timestamp and jsonb, two secondary indexes`,
    table: "events",
    rows: args.rows,
    load: { sql },
  };
}

/** `--stack NAME --data events,pgbench --scale N --rows N --keep-data`. Pure. */
export function parseBackupBenchArgs(argv: readonly string[]): BackupBenchArgs {
  const allowed = "--stack NAME, --data events,pgbench (one or both), --scale N (pgbench scale 1..1000, 70 = about 1 GB), --rows N (events rows 1000..100000000), --keep-data";
  const { values } = parseCli(
    "bench:backup",
    argv,
    {
      stack: STACK_FLAG,
      data: { type: "string", value: "events,pgbench", describe: "data sets, comma-separated", example: "events,pgbench", default: BACKUP_DATASET_NAMES.join(",") },
      scale: { type: "string", value: "N", describe: "a pgbench scale", example: "70", default: "70" },
      rows: { type: "string", value: "N", describe: "a number of events rows", example: "4000000", default: "4000000" },
      "keep-data": { type: "boolean" },
    },
    { allowed },
  );
  const names = values.data.split(",").map((n: string) => n.trim());
  const bad = names.filter((n) => !(BACKUP_DATASET_NAMES as readonly string[]).includes(n));
  if (bad.length || !names.length || new Set(names).size !== names.length) throw new ScriptError(`bench:backup: --data ${JSON.stringify(names.join(","))}: allowed: ${BACKUP_DATASET_NAMES.join(", ")}, each once, comma-separated`);
  const o: BackupBenchArgs = { stack: values.stack, data: names as BackupDatasetName[], scale: Number(values.scale), rows: Number(values.rows), keep: values["keep-data"] };
  if (!Number.isInteger(o.scale) || o.scale < 1 || o.scale > 1000) throw new ScriptError(`bench:backup: --scale ${o.scale}: a whole number from 1 to 1000`);
  if (!Number.isInteger(o.rows) || o.rows < 1000 || o.rows > 100_000_000) throw new ScriptError(`bench:backup: --rows ${o.rows}: a whole number from 1000 to 100000000`);
  return o;
}
