import { describe, expect, it } from "vitest";
import { backupCommand, backupStatus, inPlaceRestoreCommand, renderStatus, restoreCommand, restoreName, type ArchiverRow } from "../../render/backup-cli";
import { formatAge, formatBytes } from "../../model/format";
import { backupTargetFrom } from "../../ops/stack-run";

describe("npm run backup", () => {
  it("runs pgBackRest with per-file progress", () => {
    expect(backupCommand("diff")).toEqual(["pgbackrest", "--stanza=kryonix", "--type=diff", "--log-level-console=detail", "backup"]);
  });
});

describe("npm run restore", () => {
  it("restores in place with --delta, archive_mode left as the stack has it", () => {
    expect(inPlaceRestoreCommand({ kind: "time", time: "2026-11-29 16:05:00+00" })).toEqual([
      "pgbackrest",
      "--stanza=kryonix",
      "--log-level-console=info",
      "--delta",
      "--type=time",
      "--target=2026-11-29 16:05:00+00",
      "--target-action=promote",
      "restore",
    ]);
    expect(inPlaceRestoreCommand({ kind: "latest" })).toEqual(["pgbackrest", "--stanza=kryonix", "--log-level-console=info", "--delta", "--type=default", "restore"]);
  });
  it("restores to the time and promotes, or to the end of the archive; the copy never archives", () => {
    expect(restoreCommand({ kind: "time", time: "2026-11-29 16:05:00+00" })).toEqual([
      "pgbackrest", "--stanza=kryonix", "--log-level-console=info", "--type=time", "--target=2026-11-29 16:05:00+00", "--target-action=promote", "--archive-mode=off", "restore",
    ]);
    expect(restoreCommand({ kind: "latest" })).toEqual(["pgbackrest", "--stanza=kryonix", "--log-level-console=info", "--type=default", "--archive-mode=off", "restore"]);
  });
  it("names the scratch container and volume after the stack and the UTC time", () => {
    expect(restoreName("dev", new Date("2026-11-29T16:05:07.123Z"))).toBe("kryonix-dev-restore-20261129-160507");
  });
});

describe("backup:status", () => {
  const info = [
    {
      name: "kryonix",
      status: { code: 0, message: "ok" },
      archive: [{ id: "17-1", min: "000000010000000000000001", max: "000000010000000000000009" }],
      backup: [
        { label: "F1", type: "full", timestamp: { start: 1000, stop: 1010 }, info: { size: 30_000_000, repository: { size: 4_000_000, delta: 4_000_000 } } },
        { label: "F2", type: "full", timestamp: { start: 5000, stop: 5020 }, info: { size: 31_000_000, repository: { size: 4_100_000, delta: 4_100_000 } } },
        { label: "F2_I", type: "incr", timestamp: { start: 6000, stop: 6003 }, info: { size: 31_000_000, repository: { delta: 9_000 } } },
      ],
    },
  ];
  const archiver: ArchiverRow = {
    archived_count: 9,
    last_archived_wal: "000000010000000000000009",
    last_archived_time: "2026-11-29T16:00:00+00:00",
    failed_count: 0,
    last_failed_wal: null,
    last_failed_time: null,
  };
  const status = backupStatus({ stack: "dev", info, archiver, retentionFullDays: 30, archiveTimeoutSeconds: 60, now: new Date(7000 * 1000) });

  it("reports the last backup of each type with age and size", () => {
    expect(status.last.full).toEqual({ label: "F2", stoppedAt: new Date(5020_000).toISOString(), ageSeconds: 1980, databaseBytes: 31_000_000, repositoryBytes: 4_100_000 });
    expect(status.last.diff).toBeNull();
    expect(status.last.incr).toMatchObject({ label: "F2_I", repositoryBytes: 9_000 });
    expect(status.stanzaStatus).toBe("ok");
    expect(status.retention).toEqual({ fullType: "time", fullDays: 30 });
  });

  it("reports the archive, and failing only when the last attempt failed", () => {
    expect(status.archive).toMatchObject({ min: "000000010000000000000001", max: "000000010000000000000009", archivedCount: 9, failedCount: 0, failing: false });
    const recovered = backupStatus({ stack: "dev", info, archiver: { ...archiver, failed_count: 3, last_failed_time: "2026-11-29T15:00:00+00:00" }, retentionFullDays: 30, archiveTimeoutSeconds: 60, now: new Date() });
    expect(recovered.archive).toMatchObject({ failedCount: 3, failing: false });
    const stuck = backupStatus({ stack: "dev", info, archiver: { ...archiver, failed_count: 1, last_failed_time: "2026-11-29T16:01:00+00:00" }, retentionFullDays: 30, archiveTimeoutSeconds: 60, now: new Date() });
    expect(stuck.archive.failing).toBe(true);
  });

  it("says missing when pgBackRest knows no stanza", () => {
    const none = backupStatus({ stack: "dev", info: [], archiver, retentionFullDays: 30, archiveTimeoutSeconds: 60, now: new Date() });
    expect(none.stanzaStatus).toBe("missing");
    expect(none.last).toEqual({ full: null, diff: null, incr: null });
  });

  it("renders a readable report", () => {
    const text = renderStatus(status);
    expect(text).toContain("full  F2  finished");
    expect(text).toContain("(33 min 0 s ago), database 29.6 MiB, in the repository 3.9 MiB");
    expect(text).toContain("diff  none");
    expect(text).toContain("WAL archive: ok");
    expect(text).toContain("full backups kept 30 days");
    expect(formatAge(90_000)).toBe("1 d 1 h");
    expect(formatAge(3700)).toBe("1 h 1 min");
    expect(formatBytes(512)).toBe("512 B");
  });
});

describe("the stack's backup target", () => {
  it("comes from the outputs, and says to run up when they predate backups", () => {
    const outputs = {
      endpoints: { postgres: { host: "127.0.0.1", port: 15432, database: "kryonix_saas" }, pgbouncer: { host: "127.0.0.1", port: 16432, database: "kryonix_saas" } },
      credentials: { postgres: { user: "postgres", password: "pw" }, roles: {} },
      dockerNetwork: "kryonix-dev-net",
      caCertificate: "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n",
      backup: { container: "kryonix-dev-postgres", stanza: "kryonix", bucket: "kryonix-backups", retentionFullDays: 30, archiveTimeoutSeconds: 60 },
    };
    expect(backupTargetFrom("dev", outputs)).toEqual({
      stack: "dev",
      container: "kryonix-dev-postgres",
      // Outputs from before the restore drill's container: none known (backup:verify says to run up).
      drillContainer: null,
      network: "kryonix-dev-net",
      retentionFullDays: 30,
      archiveTimeoutSeconds: 60,
      // Outputs from before the schedules: none known.
      schedules: null,
      database: "kryonix_saas",
      port: 15432,
      caCertificate: "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n",
      superuser: { user: "postgres", password: "pw" },
    });
    expect(backupTargetFrom("dev", { ...outputs, backup: { ...outputs.backup, drillContainer: "kryonix-dev-restore-drill" } }).drillContainer).toBe("kryonix-dev-restore-drill");
    expect(() => backupTargetFrom("dev", { ...outputs, backup: undefined })).toThrow(/npm run up -- --stack dev/);
  });
});
