import * as pulumi from "@pulumi/pulumi";
import { cliError, type CliOutcome, runDocker as runDockerCli } from "../io/docker-cli";
import { invalid } from "../model/messages";

/**
 * pgBackRest's stanza in the repository, made by the stack: `stanza-create` (idempotent: an
 * existing stanza of the same cluster is left as it is), then `check`, which has PostgreSQL switch
 * WAL and waits until archive_command has pushed the segment, so an up fails when archiving does
 * not work. Both run as postgres inside the postgres container (`docker exec`, the docker CLI on
 * the host running the dynamic-provider plugin, DOCKER_HOST as the scripts pin it), where
 * pgbackrest.conf and its secrets are; no secret is on the command line.
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

/** `docker exec -u postgres CONTAINER pgbackrest --stanza=S <command>`. Pure. */
export function stanzaCommand(inputs: PgbackrestStanzaInputs, command: "stanza-create" | "check"): string[] {
  return ["exec", "-u", "postgres", inputs.container, "pgbackrest", `--stanza=${inputs.stanza}`, command];
}

/** The docker CLI (io/docker-cli.ts); `check` waits for a WAL segment to be archived. */
export const runDocker: DockerRun = (args) => runDockerCli(args, { timeoutMs: 600_000 });

/** The dynamic provider; `docker` defaults to the docker CLI. */
export function makePgbackrestStanzaProvider(docker: DockerRun = runDocker): pulumi.dynamic.ResourceProvider {
  function ensure(inputs: PgbackrestStanzaInputs): void {
    for (const command of ["stanza-create", "check"] as const) {
      const args = stanzaCommand(inputs, command);
      const r = docker(args);
      if (r.code !== 0) throw new Error(cliError("docker", args, r));
    }
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
      ensure(inputs);
      return { id: `${inputs.bucket}/${inputs.stanza}`, outs: inputs };
    },
    async update(_id: string, _olds: PgbackrestStanzaInputs, news: PgbackrestStanzaInputs) {
      ensure(news);
      return { outs: news };
    },
    // No delete: the repository keeps the backups after the stack is gone.
  };
}

const pgbackrestStanzaProvider = makePgbackrestStanzaProvider();

export type PgbackrestStanzaArgs = { [K in keyof PgbackrestStanzaInputs]: pulumi.Input<PgbackrestStanzaInputs[K]> };

/** See makePgbackrestStanzaProvider. */
export class PgbackrestStanza extends pulumi.dynamic.Resource {
  declare public readonly stanza: pulumi.Output<string>;

  constructor(name: string, args: PgbackrestStanzaArgs, opts?: pulumi.CustomResourceOptions) {
    super(pgbackrestStanzaProvider, name, args, opts, "kryonix", "PgbackrestStanza");
  }
}
