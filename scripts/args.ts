/**
 * The command line of each npm script, on the one parser (ops/cli.ts). Each returns the script's
 * options or throws a ScriptError naming the bad argument and the allowed ones. Pure.
 */
import { BACKUP_TYPES, type BackupType, type RestoreOptions, type RestoreTarget } from "../render/backup-cli";
import { HEALTH_USAGE } from "../checks/health";
import { DEFAULT_THRESHOLDS, mergeThresholds, type Thresholds } from "../model/thresholds";
import { LOGIN_ROLES } from "../model/database";
import { invalid } from "../model/messages";
import { JSON_FLAG, parseCli, ScriptError, STACK_FLAG } from "../ops/cli";
import { PROVIDER_SRC_FLAG } from "../toolchain/source-build";

export interface StackJsonOptions {
  stack: string;
  json: boolean;
}

/** `[--stack NAME] [--json]`: audit, backup:status, backup:verify, test:db:connection. */
export function parseStackJsonArgs(command: string, argv: readonly string[]): StackJsonOptions {
  return parseCli(command, argv, { stack: STACK_FLAG, json: JSON_FLAG }).values;
}

/** `npm run backup [-- --stack NAME] [--type full|diff|incr]`. */
export function parseBackupArgs(argv: readonly string[]): { stack: string; type: BackupType } {
  const { values } = parseCli("backup", argv, {
    stack: STACK_FLAG,
    type: { type: "string", value: "TYPE", describe: "a backup type", example: "full", default: "full", choices: BACKUP_TYPES },
  });
  return { stack: values.stack, type: values.type as BackupType };
}

/** The flag an in-place restore needs besides --in-place: it replaces the stack's data. */
export const IN_PLACE_CONFIRM = "--yes-destroy-current-data";
/** Why `--in-place` alone stops. */
export const IN_PLACE_UNCONFIRMED = `restore --in-place replaces the stack's current data with the backup's (a fresh backup is taken first); add ${IN_PLACE_CONFIRM} to confirm, or drop --in-place to restore into a scratch container`;

// What PostgreSQL's recovery_target_time and pgBackRest's backup set selection both read:
// date, time (seconds and fraction optional), and an optional zone (Z, +HH, +HH:MM, +HHMM).
const TARGET_TIME = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?$/;

/** `npm run restore -- [--stack NAME] --target-time "<timestamp>" | --latest [--in-place --yes-destroy-current-data]`. */
export function parseRestoreArgs(argv: readonly string[]): RestoreOptions {
  const { values } = parseCli(
    "restore",
    argv,
    {
      stack: STACK_FLAG,
      "target-time": { type: "string", value: '"<timestamp>"', describe: "a timestamp", example: '"2026-11-29 16:05:00+00"', multiple: true },
      latest: { type: "boolean" },
      "in-place": { type: "boolean" },
      [IN_PLACE_CONFIRM.slice(2)]: { type: "boolean" },
    },
    { allowed: `--stack NAME, --target-time "<timestamp>", --latest, --in-place ${IN_PLACE_CONFIRM}` },
  );
  const targets: RestoreTarget[] = [];
  for (const time of values["target-time"]) {
    if (!TARGET_TIME.test(time.trim())) {
      throw new ScriptError(invalid("restore --target-time", time, 'a timestamp such as "2026-11-29 16:05:00+00" (date, time, optional fraction and zone)'));
    }
    targets.push({ kind: "time", time: time.trim() });
  }
  if (values.latest) targets.push({ kind: "latest" });
  if (targets.length !== 1) throw new ScriptError(`restore: give exactly one of --target-time "<timestamp>" or --latest (got ${targets.length})`);
  const inPlace = values["in-place"];
  const confirmed = values[IN_PLACE_CONFIRM.slice(2)];
  if (inPlace && !confirmed) throw new ScriptError(IN_PLACE_UNCONFIRMED);
  if (confirmed && !inPlace) throw new ScriptError(`restore: ${IN_PLACE_CONFIRM} goes with --in-place only`);
  return { stack: values.stack, target: targets[0], inPlace };
}

/** What `npm run restore` is asked for: a restore, or the stack's scratch copies listed or removed. */
export type RestoreCommand = { kind: "restore"; options: RestoreOptions } | { kind: "list"; stack: string } | { kind: "remove"; stack: string; names: string[] | "all" };

const COPIES_ALLOWED = "--stack NAME with --list, --remove NAME (repeatable) or --remove --all";
// A Docker container or volume name.
const COPY_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/**
 * `npm run restore -- [--stack NAME] --list`, `--remove NAME [--remove NAME ...]`, `--remove --all`,
 * or a restore (parseRestoreArgs). The copies' commands take no restore option, and --list and
 * --remove go on separate runs.
 */
export function parseRestoreCommand(argv: readonly string[]): RestoreCommand {
  if (!argv.some((a) => a === "--list" || a === "--remove" || a.startsWith("--remove="))) return { kind: "restore", options: parseRestoreArgs(argv) };
  // `--remove --all`: --all stands for the value, which parseCli would take for a missing one.
  const all = argv.some((a, i) => a === "--remove" && argv[i + 1] === "--all");
  const rest = argv.filter((a, i) => !(a === "--remove" && argv[i + 1] === "--all") && !(a === "--all" && argv[i - 1] === "--remove"));
  const { values } = parseCli(
    "restore",
    rest,
    {
      stack: STACK_FLAG,
      list: { type: "boolean" },
      remove: {
        type: "string",
        value: "NAME",
        describe: "the name of a restore copy (npm run restore -- --list shows them), or --all",
        example: "kryonix-dev-restore-20261207-150000",
        multiple: true,
        problem: (v) => (COPY_NAME.test(v) ? undefined : invalid("restore --remove", v, "the name of a restore copy (npm run restore -- --list shows them), or --all")),
      },
    },
    { allowed: COPIES_ALLOWED },
  );
  const names = values.remove;
  if (values.list && (all || names.length)) throw new ScriptError("restore: --list and --remove go on separate runs");
  if (values.list) return { kind: "list", stack: values.stack };
  if (all && names.length) throw new ScriptError(`restore: --remove --all removes every copy; drop the names (${names.join(", ")}) or --all`);
  return { kind: "remove", stack: values.stack, names: all ? "all" : names };
}

export interface HealthArgs extends StackJsonOptions {
  /** The flags over the defaults. */
  thresholds: Thresholds;
  /** The flags alone, as given: the script lays them over the stack's kryonix:healthThresholds. */
  thresholdFlags: Partial<Record<keyof Thresholds, string>>;
}

/** `npm run health [-- --stack NAME] [--json] [--threshold NAME=VALUE ...]`; an error ends with the usage. */
export function parseHealthArgs(argv: readonly string[]): HealthArgs {
  const { values } = parseCli(
    "health",
    argv,
    { stack: STACK_FLAG, json: JSON_FLAG, threshold: { type: "string", value: "NAME=VALUE", describe: "a threshold", example: "connectionsWarnRatio=0.8", multiple: true } },
    { usage: HEALTH_USAGE },
  );
  const thresholdFlags: HealthArgs["thresholdFlags"] = {};
  for (const v of values.threshold) {
    const m = /^([A-Za-z]+)=(.+)$/.exec(v);
    const key = m?.[1] as keyof Thresholds | undefined;
    if (!m || !key || !(key in DEFAULT_THRESHOLDS)) {
      throw new ScriptError(`${invalid("health --threshold", v, `NAME=VALUE with NAME one of ${Object.keys(DEFAULT_THRESHOLDS).join(", ")}`)}\n${HEALTH_USAGE}`);
    }
    thresholdFlags[key] = m[2];
  }
  const merged = mergeThresholds(DEFAULT_THRESHOLDS, thresholdFlags, (key) => `--threshold ${key}`);
  if (merged.problems.length) throw new ScriptError(merged.problems.join("\n"));
  return { stack: values.stack, json: values.json, thresholds: merged.thresholds, thresholdFlags };
}

export interface PerformanceArgs extends StackJsonOptions {
  /**
   * pgbench through PgBouncer: clients as a multiple of max_connections, and transactions per
   * client. A count, not a duration: pgbench's -T clock also runs while 1000 clients log in, which
   * on a loaded machine takes longer than a short run.
   */
  clientsFactor: number;
  transactions: number;
}

/** `npm run test:db:performance [-- --stack NAME] [--json] [--transactions N]` (per pgbench client, default 10). */
export function parsePerformanceArgs(argv: readonly string[]): PerformanceArgs {
  const { values } = parseCli("test:db:performance", argv, {
    stack: STACK_FLAG,
    json: JSON_FLAG,
    transactions: { type: "string", value: "N", describe: "a number of transactions", example: "10", default: "10" },
  });
  const n = Number(values.transactions);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new ScriptError(invalid("test:db:performance --transactions", values.transactions, "an integer from 1 to 100000"));
  return { stack: values.stack, json: values.json, clientsFactor: 10, transactions: n };
}

/** `npm run rotate -- --role NAME [--stack NAME]`. */
export function parseRotateArgs(argv: readonly string[]): { role: string; stack: string } {
  const { values } = parseCli("rotate", argv, { role: { type: "string", value: "NAME", describe: "a role", example: LOGIN_ROLES[0] }, stack: STACK_FLAG }, { allowed: "--role NAME and optionally --stack NAME" });
  const role = values.role ?? "";
  if (!(LOGIN_ROLES as readonly string[]).includes(role)) throw new ScriptError(invalid("rotate --role", role, LOGIN_ROLES.join(", ")));
  return { role, stack: values.stack };
}

/** `npm run toolchain [-- --provider-src DIR]`: where the providers' source archives are (toolchain/source-build.ts). */
export function parseToolchainArgs(argv: readonly string[]): { providerSrc?: string } {
  const { values } = parseCli("toolchain", argv, {
    [PROVIDER_SRC_FLAG.slice(2)]: { type: "string", value: "DIR", describe: "a folder", example: "../shared/provider-src" },
  });
  return { providerSrc: values[PROVIDER_SRC_FLAG.slice(2)] };
}

export interface DriftArgs {
  stack: string;
  format: "text" | "json" | "markdown";
  /** Where drift-<stack>.json and .md also go (CI artifacts). */
  write?: string;
}

/** `npm run drift [-- --stack NAME] [--json | --markdown] [--write DIR]`; --json wins over --markdown. */
export function parseDriftArgs(argv: readonly string[]): DriftArgs {
  const { values } = parseCli("drift", argv, {
    stack: STACK_FLAG,
    json: JSON_FLAG,
    markdown: { type: "boolean" },
    write: { type: "string", value: "DIR", describe: "a directory", example: "drift-report" },
  });
  return { stack: values.stack, format: values.json ? "json" : values.markdown ? "markdown" : "text", write: values.write };
}

/**
 * A pulumi command line with our flags taken out (`npm run up`, `preview`, `pulumi`): the stack
 * (dev by default), the booleans in `own`, and the rest, passed on to pulumi as given.
 */
export function parsePulumiArgs<K extends string>(command: string, argv: readonly string[], own: readonly K[] = []): { stack: string; flags: Record<K, boolean>; rest: string[] } {
  const flags = Object.fromEntries(own.map((k) => [k, JSON_FLAG])) as Record<K, typeof JSON_FLAG>;
  const { values, rest } = parseCli(command, argv, { stack: STACK_FLAG, ...flags }, { passThrough: true });
  const { stack, ...mine } = values as { stack: string } & Record<K, boolean>;
  return { stack, flags: mine as unknown as Record<K, boolean>, rest };
}
