import { describe, expect, it } from "vitest";
import { backupDataset, formatBackupBench, parseBackupBenchArgs, summarizeBackupBench } from "../../bench/backup-report";

const measures = {
  databaseBytes: 1100 * 1024 * 1024,
  clusterBytes: 1150 * 1024 * 1024,
  pgbackrest: { backupSeconds: 40, repositoryBytes: 120 * 1024 * 1024, restoreSeconds: 30 },
  pgDump: { dumpSeconds: 100, dumpBytes: 60 * 1024 * 1024, restoreSeconds: 150 },
  archiveTimeoutSeconds: 60,
  archiveLagSeconds: 47.26,
};

describe("the backup benchmark's summary", () => {
  it("computes throughputs, ratios, targets, RPO and RTO", () => {
    const s = summarizeBackupBench(measures);
    expect(s).toMatchObject({ pgbackrestBackupMBps: 28.8, pgDumpMBps: 11, backupSpeedup: 2.5, restoreSpeedup: 5, rtoSeconds: 30 });
    expect(s.targets).toEqual({ backupAtLeast2xFaster: true, restoreUnder60s: true });
    expect(s.rpo).toEqual({ boundSeconds: 60, measuredSeconds: 47.3 });
    const slow = summarizeBackupBench({ ...measures, pgbackrest: { ...measures.pgbackrest, backupSeconds: 80, restoreSeconds: 75 } });
    expect(slow.targets).toEqual({ backupAtLeast2xFaster: false, restoreUnder60s: false });
  });

  it("prints the table with each target met or not", () => {
    const text = formatBackupBench(summarizeBackupBench(measures));
    expect(text).toMatch(/^\s+pgBackRest \(full, lz4, aes-256\)\s+pg_dump -Fc\s+ratio$/m);
    expect(text).toMatch(/^backup time\s+40 s\s+100 s\s+2.5x$/m);
    expect(text).toContain("at least 2x faster than pg_dump: met (2.5x)");
    expect(text).toContain("RTO: 30 s measured");
  });

  it("refuses a measure that is missing or not positive", () => {
    expect(() => summarizeBackupBench({ ...measures, pgDump: { ...measures.pgDump, dumpSeconds: 0 } })).toThrow(/dumpSeconds must be a positive number/);
  });
});

describe("the backup benchmark's arguments and data sets", () => {
  it("measures both data sets by default, events first", () => {
    expect(parseBackupBenchArgs([])).toEqual({ stack: "dev", data: ["events", "pgbench"], scale: 70, rows: 4_000_000, keep: false });
    expect(parseBackupBenchArgs(["--stack", "w7", "--data", "pgbench", "--scale", "5", "--keep-data"])).toMatchObject({ stack: "w7", data: ["pgbench"], scale: 5, keep: true });
  });

  it("names the argument and the allowed values when one is wrong", () => {
    expect(() => parseBackupBenchArgs(["--data", "tpcc"])).toThrow(/--data "tpcc": allowed: events, pgbench/);
    expect(() => parseBackupBenchArgs(["--data", "events,events"])).toThrow(/each once/);
    expect(() => parseBackupBenchArgs(["--scale", "0"])).toThrow(/--scale 0: a whole number from 1 to 1000/);
    expect(() => parseBackupBenchArgs(["--rows", "12.5"])).toThrow(/--rows 12.5/);
    expect(() => parseBackupBenchArgs(["--rows"])).toThrow(/^bench:backup --rows: undefined is invalid: a number of events rows after it/);
    expect(() => parseBackupBenchArgs(["--fast"])).toThrow(/^bench:backup argument: "--fast" is invalid: --stack NAME, --data events,pgbench .*--keep-data$/);
  });

  it("loads pgbench by its own initialisation and events by SQL, with the row count to check", () => {
    const pgbench = backupDataset("pgbench", { scale: 70, rows: 1 });
    expect(pgbench).toMatchObject({ table: "pgbench_accounts", rows: 7_000_000, load: { pgbench: ["-i", "-q", "-s", "70"] } });
    const events = backupDataset("events", { scale: 1, rows: 2500 });
    expect(events).toMatchObject({ table: "events", rows: 2500 });
    expect((events.load as { sql: string }).sql).toMatch(/generate_series\(1, 2500\);/);
    expect((events.load as { sql: string }).sql).toMatch(/CREATE INDEX ON events \(email\);/);
  });
});
