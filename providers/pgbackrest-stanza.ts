import * as pulumi from "@pulumi/pulumi";
import { cliError, type CliOutcome, runDocker as runDockerCli } from "../io/docker-cli";
import { invalid } from "../model/messages";

/**
 * pgBackRest's stanza in the repository, made by the stack: `stanza-create` (idempotent: an
 * existing stanza of the same cluster is left as it is), then `check`, which has PostgreSQL switch
 * WAL and waits until archive_command has pushed the segment, so an up fails when archiving does
 * not work. Then, when the repository holds no backup of the stanza yet (a new stack, a new
 * bucket), a first full backup: archived WAL alone restores nothing, so without it the stack could
 * not be restored to any point until the first scheduled full backup. A repository that already
 * has backups (a kept data volume adopted again, an up after a destroy) gets none. All of it runs
 * as postgres inside the postgres container (`docker exec`, the docker CLI on the host running the
 * dynamic-provider plugin, DOCKER_HOST as the scripts pin it), where pgbackrest.conf and its
 * secrets are; no secret is on the command line.
 *
 * Deleting it does nothing: the repository outlives the stack (the resource is `deletedWith` the
 * data volume, so a destroy never reaches it anyway).
 */
export interface PgbackrestStanzaInputs {
  /** The postgres container's name. */
  container: string;
  stanza: string;
  /** The repository's bucket: a new bucket needs the stanza again. */
  bucket: string;
}

/** Runs `docker <args>`; resolves with its exit code and output. Injected by tests. */
export type DockerRun = (args: string[]) => CliOutcome;

/** What is wrong with the inputs, one failure each. Pure. */
export function stanzaInputProblems(inputs: Partial<PgbackrestStanzaInputs>): { property: string; reason: string }[] {
  const failures: { property: string; reason: string }[] = [];
  if (typeof inputs.container !== "string" || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(inputs.container)) {
    failures.push({ property: "container", reason: invalid("PgbackrestStanza container", inputs.container, "a container name") });
  }
  if (typeof inputs.stanza !== "string" || !/^[a-z0-9_-]+$/.test(inputs.stanza)) {
    failures.push({ property: "stanza", reason: invalid("PgbackrestStanza stanza", inputs.stanza, "lower-case letters, digits, _ and -") });
  }
  if (typeof inputs.bucket !== "string" || inputs.bucket === "") failures.push({ property: "bucket", reason: "PgbackrestStanza bucket: required" });
  return failures;
}

/** What the resource records besides its inputs. */
export interface PgbackrestStanzaOutputs extends PgbackrestStanzaInputs {
  /**
   * The label of the first full backup this resource took, or null when the repository already had
   * one, or a scheduled backup that held the lock made one meanwhile.
   */
  firstBackup: string | null;
}

type StanzaCommand = "stanza-create" | "check" | "info" | "backup";
// info's JSON alone on stdout; the first backup quiet unless it fails.
const COMMAND_OPTIONS: Record<StanzaCommand, string[]> = {
  "stanza-create": [],
  check: [],
  info: ["--output=json", "--log-level-console=warn"],
  backup: ["--type=full", "--log-level-console=warn"],
};

/** `docker exec -u postgres CONTAINER pgbackrest --stanza=S [options] <command>`. Pure. */
export function stanzaCommand(inputs: PgbackrestStanzaInputs, command: StanzaCommand): string[] {
  return ["exec", "-u", "postgres", inputs.container, "pgbackrest", `--stanza=${inputs.stanza}`, ...COMMAND_OPTIONS[command], command];
}

/**
 * The labels of the stanza's backups in `pgbackrest info --output=json`, oldest first. Throws when
 * the text is not that JSON: guessing "none" would take a needless backup, guessing "some" none. Pure.
 */
export function stanzaBackups(infoJson: string, stanza: string): string[] {
  let info: unknown;
  try {
    info = JSON.parse(infoJson);
  } catch {
    throw new Error(`pgbackrest info printed no JSON: ${infoJson.trim().slice(0, 300)}`);
  }
  if (!Array.isArray(info)) throw new Error(`pgbackrest info: expected a list of stanzas, got ${infoJson.trim().slice(0, 300)}`);
  const entry = info.find((s: { name?: string }) => s?.name === stanza) as { backup?: { label: string }[] } | undefined;
  return (entry?.backup ?? []).map((b) => b.label);
}

/** The docker CLI (io/docker-cli.ts); `check` waits for a WAL segment to be archived. */
export const runDocker: DockerRun = (args) => runDockerCli(args, { timeoutMs: 600_000 });

/**
 * pgBackRest's answer when another of its processes holds the stanza's lock: a scheduled backup
 * (cron in the postgres container) started during the up, say. Pure.
 */
export function lockBusy(r: CliOutcome): boolean {
  return r.code === 50 && /unable to acquire lock/i.test(`${r.out}\n${r.stderr ?? ""}`);
}

export interface StanzaWaits {
  /** How long a command waits for a lock another pgBackRest process holds, in ms (the sum of the pauses). */
  lockWaitMs: number;
  /** Between two tries, in ms. */
  retryMs: number;
  pause(ms: number): Promise<void>;
}

const DEFAULT_WAITS: StanzaWaits = { lockWaitMs: 900_000, retryMs: 5_000, pause: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };

/** The dynamic provider; `docker` defaults to the docker CLI. */
export function makePgbackrestStanzaProvider(docker: DockerRun = runDocker, waits: StanzaWaits = DEFAULT_WAITS): pulumi.dynamic.ResourceProvider {
  const fail = (args: string[], r: CliOutcome, waited: number) =>
    new Error(`${cliError("docker", args, r)}${waited ? `\n(another pgBackRest process held the stanza's lock for the ${Math.round(waited / 1000)} s this waited)` : ""}`);
  /**
   * Runs the command, waiting while another pgBackRest process holds the lock. After each wait
   * `settled` may say the command is no longer needed: then null.
   */
  const attempt = async (inputs: PgbackrestStanzaInputs, command: StanzaCommand, settled?: () => Promise<boolean>): Promise<string | null> => {
    for (let waited = 0; ; waited += waits.retryMs) {
      const args = stanzaCommand(inputs, command);
      const r = docker(args);
      if (r.code === 0) return r.out;
      if (!lockBusy(r) || waited >= waits.lockWaitMs) throw fail(args, r, lockBusy(r) ? waited : 0);
      await waits.pause(waits.retryMs);
      if (settled && (await settled())) return null;
    }
  };
  const run = async (inputs: PgbackrestStanzaInputs, command: StanzaCommand): Promise<string> => (await attempt(inputs, command)) as string;
  const backups = async (inputs: PgbackrestStanzaInputs) => stanzaBackups(await run(inputs, "info"), inputs.stanza);
  async function ensure(inputs: PgbackrestStanzaInputs): Promise<PgbackrestStanzaOutputs> {
    await run(inputs, "stanza-create");
    await run(inputs, "check");
    const hasBackup = async () => (await backups(inputs)).length > 0;
    if (await hasBackup()) return { ...inputs, firstBackup: null };
    // A scheduled backup holding the lock leaves what this backup was for: then none of its own.
    if ((await attempt(inputs, "backup", hasBackup)) === null) return { ...inputs, firstBackup: null };
    const labels = await backups(inputs);
    if (!labels.length) throw new Error(`pgbackrest --stanza=${inputs.stanza} backup succeeded, but pgbackrest info lists no backup`);
    return { ...inputs, firstBackup: labels[labels.length - 1] };
  }
  return {
    async check(_olds: PgbackrestStanzaInputs, news: PgbackrestStanzaInputs) {
      return { inputs: news, failures: stanzaInputProblems(news) };
    },
    async diff(_id: string, olds: PgbackrestStanzaInputs, news: PgbackrestStanzaInputs) {
      const changed = (["container", "stanza", "bucket"] as const).filter((k) => olds[k] !== news[k]);
      return { changes: changed.length > 0, replaces: [], deleteBeforeReplace: false };
    },
    async create(inputs: PgbackrestStanzaInputs) {
      return { id: `${inputs.bucket}/${inputs.stanza}`, outs: await ensure(inputs) };
    },
    async update(_id: string, olds: PgbackrestStanzaOutputs, news: PgbackrestStanzaInputs) {
      const outs = await ensure(news);
      // The first backup stays the one this resource took, if it took one.
      return { outs: { ...outs, firstBackup: outs.firstBackup ?? olds.firstBackup ?? null } };
    },
    // No delete: the repository keeps the backups after the stack is gone.
  };
}

const pgbackrestStanzaProvider = makePgbackrestStanzaProvider();

export type PgbackrestStanzaArgs = { [K in keyof PgbackrestStanzaInputs]: pulumi.Input<PgbackrestStanzaInputs[K]> };

/** See makePgbackrestStanzaProvider. */
export class PgbackrestStanza extends pulumi.dynamic.Resource {
  declare public readonly stanza: pulumi.Output<string>;
  declare public readonly firstBackup: pulumi.Output<string | null>;

  constructor(name: string, args: PgbackrestStanzaArgs, opts?: pulumi.CustomResourceOptions) {
    super(pgbackrestStanzaProvider, name, { ...args, firstBackup: undefined }, opts, "kryonix", "PgbackrestStanza");
  }
}
