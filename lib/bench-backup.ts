/**
 * The pure part of `npm run bench:backup`: from the measured times and sizes, the throughputs, the
 * ratios against pg_dump, the targets (a pgBackRest full backup at least 2x faster than
 * pg_dump; a 1 GB restore under 60 s) and the printed table.
 */
export interface BackupBenchMeasures {
  /** The benchmark database's size (pg_database_size) and the whole cluster's. */
  databaseBytes: number;
  clusterBytes: number;
  pgbackrest: { backupSeconds: number; repositoryBytes: number; restoreSeconds: number };
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

/** The table `npm run bench:backup` prints. Pure. */
export function formatBackupBench(s: BackupBenchSummary): string {
  const mb = (b: number) => `${round(b / MB, 0)} MB`;
  const rows: [string, string, string, string][] = [
    ["", "pgBackRest (full, zst, aes-256)", "pg_dump -Fc", "ratio"],
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
