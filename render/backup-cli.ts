/**
 * The pure part of `npm run backup`, `backup:status` and `restore` (their arguments: scripts/args.ts): the
 * pgBackRest command lines, the restore container's name, and the status report from
 * `pgbackrest info --output=json` and pg_stat_archiver. No I/O here; scripts/ run the commands.
 */
import { STANZA } from "../model/backup";
import { formatAge, formatBytes } from "../model/format";

export const BACKUP_TYPES = ["full", "diff", "incr"] as const;
export type BackupType = (typeof BACKUP_TYPES)[number];

export interface BackupOptions {
  stack: string;
  type: BackupType;
}
export interface StatusOptions {
  stack: string;
  json: boolean;
}
export type RestoreTarget = { kind: "time"; time: string } | { kind: "latest" };
export interface RestoreOptions {
  stack: string;
  target: RestoreTarget;
  /** Over the stack's own cluster (after a fresh backup), instead of a scratch copy. */
  inPlace: boolean;
}


/** pgBackRest's backup arguments; detail-level console logging shows each file as it is copied (progress). Pure. */
export function backupCommand(type: BackupType): string[] {
  return ["pgbackrest", `--stanza=${STANZA}`, `--type=${type}`, "--log-level-console=detail", "backup"];
}

/**
 * pgBackRest's restore arguments for a scratch copy: to a time (promoted when reached) or to the
 * end of the archive. archive_mode=off in the copy, so it never pushes its own WAL into the stack's
 * repository. Pure.
 */
export function restoreCommand(target: RestoreTarget): string[] {
  const to = target.kind === "time" ? ["--type=time", `--target=${target.time}`, "--target-action=promote"] : ["--type=default"];
  return ["pgbackrest", `--stanza=${STANZA}`, "--log-level-console=info", ...to, "--archive-mode=off", "restore"];
}

/**
 * pgBackRest's restore arguments over the stack's own data directory: --delta (files that match
 * the backup are kept, the rest rewritten or removed), archive_mode as the stack has it (on), and
 * to a time (promoted when reached) or to the end of the archive. Pure.
 */
export function inPlaceRestoreCommand(target: RestoreTarget): string[] {
  const to = target.kind === "time" ? ["--type=time", `--target=${target.time}`, "--target-action=promote"] : ["--type=default"];
  return ["pgbackrest", `--stanza=${STANZA}`, "--log-level-console=info", "--delta", ...to, "restore"];
}

/** The fresh backup before an in-place restore: incremental (pgBackRest makes it full when there is none). Pure. */
export const PRE_RESTORE_BACKUP_TYPE: BackupType = "incr";

/** `kryonix-<stack>-restore-<UTC time>`: the scratch container's and its volume's name. Pure. */
export function restoreName(stack: string, now: Date): string {
  const stamp = now.toISOString().replace(/\.\d+Z$/, "").replace(/[-:]/g, "").replace("T", "-").toLowerCase();
  return `kryonix-${stack}-restore-${stamp}`;
}

/** One backup in `pgbackrest info --output=json`, as far as the status reads it. */
interface InfoBackup {
  label: string;
  type: string;
  timestamp: { start: number; stop: number };
  info: { size: number; repository: { size?: number; delta: number } };
}
interface InfoStanza {
  name: string;
  status: { code: number; message: string };
  backup?: InfoBackup[];
  archive?: { id: string; min: string | null; max: string | null }[];
}

/** pg_stat_archiver's row, as `row_to_json` gives it. */
export interface ArchiverRow {
  archived_count: number;
  last_archived_wal: string | null;
  last_archived_time: string | null;
  failed_count: number;
  last_failed_wal: string | null;
  last_failed_time: string | null;
}

export interface BackupSummary {
  label: string;
  stoppedAt: string;
  ageSeconds: number;
  /** The database's size at backup time. */
  databaseBytes: number;
  /** What the backup stores in the repository (compressed, encrypted; an incremental only its changes). */
  repositoryBytes: number;
}

export interface BackupStatus {
  stack: string;
  stanza: string;
  /** pgBackRest's own verdict on the stanza ("ok" when the repository is usable). */
  stanzaStatus: string;
  retention: { fullType: "time"; fullDays: number };
  archiveTimeoutSeconds: number;
  last: Record<BackupType, BackupSummary | null>;
  archive: {
    /** The oldest and newest WAL segment in the repository. */
    min: string | null;
    max: string | null;
    archivedCount: number;
    lastArchivedWal: string | null;
    lastArchivedTime: string | null;
    failedCount: number;
    lastFailedWal: string | null;
    lastFailedTime: string | null;
    /** The last attempt failed (a failure after the last success): archiving is stuck right now. */
    failing: boolean;
  };
}

/** The status report from pgBackRest's info JSON and pg_stat_archiver. Pure. */
export function backupStatus(input: {
  stack: string;
  info: unknown;
  archiver: ArchiverRow;
  retentionFullDays: number;
  archiveTimeoutSeconds: number;
  now: Date;
}): BackupStatus {
  const stanzas = Array.isArray(input.info) ? (input.info as InfoStanza[]) : [];
  const stanza = stanzas.find((s) => s.name === STANZA);
  const backups = [...(stanza?.backup ?? [])].sort((a, b) => a.timestamp.stop - b.timestamp.stop);
  const last = Object.fromEntries(
    BACKUP_TYPES.map((type) => {
      const b = backups.filter((x) => x.type === type).pop();
      return [
        type,
        b
          ? {
              label: b.label,
              stoppedAt: new Date(b.timestamp.stop * 1000).toISOString(),
              ageSeconds: Math.max(0, Math.round(input.now.getTime() / 1000 - b.timestamp.stop)),
              databaseBytes: b.info.size,
              repositoryBytes: b.info.repository.size ?? b.info.repository.delta,
            }
          : null,
      ];
    }),
  ) as Record<BackupType, BackupSummary | null>;
  const archive = stanza?.archive?.[stanza.archive.length - 1];
  const a = input.archiver;
  const failing = a.last_failed_time !== null && (a.last_archived_time === null || Date.parse(a.last_failed_time) > Date.parse(a.last_archived_time));
  return {
    stack: input.stack,
    stanza: STANZA,
    stanzaStatus: stanza?.status.message ?? "missing",
    retention: { fullType: "time", fullDays: input.retentionFullDays },
    archiveTimeoutSeconds: input.archiveTimeoutSeconds,
    last,
    archive: {
      min: archive?.min ?? null,
      max: archive?.max ?? null,
      archivedCount: Number(a.archived_count),
      lastArchivedWal: a.last_archived_wal,
      lastArchivedTime: a.last_archived_time,
      failedCount: Number(a.failed_count),
      lastFailedWal: a.last_failed_wal,
      lastFailedTime: a.last_failed_time,
      failing,
    },
  };
}

/** The human-readable report. Pure. */
export function renderStatus(s: BackupStatus): string {
  const lines = [`stack ${s.stack}, stanza ${s.stanza}: ${s.stanzaStatus}`, "", "last backups:"];
  for (const type of BACKUP_TYPES) {
    const b = s.last[type];
    lines.push(
      b
        ? `  ${type.padEnd(5)} ${b.label}  finished ${b.stoppedAt} (${formatAge(b.ageSeconds)} ago), database ${formatBytes(b.databaseBytes)}, in the repository ${formatBytes(b.repositoryBytes)}`
        : `  ${type.padEnd(5)} none`,
    );
  }
  const a = s.archive;
  lines.push(
    "",
    `WAL archive: ${a.failing ? "FAILING" : "ok"}; in the repository ${a.min ?? "-"} .. ${a.max ?? "-"}`,
    `  archived ${a.archivedCount}, last ${a.lastArchivedWal ?? "-"} at ${a.lastArchivedTime ?? "-"}`,
    `  failed ${a.failedCount}, last ${a.lastFailedWal ?? "-"} at ${a.lastFailedTime ?? "-"}`,
    `  archive_timeout ${s.archiveTimeoutSeconds} s`,
    "",
    `retention: full backups kept ${s.retention.fullDays} days (repo1-retention-full-type=time), applied by pgBackRest after each backup`,
  );
  return `${lines.join("\n")}\n`;
}
