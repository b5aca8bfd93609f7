import * as pulumi from "@pulumi/pulumi";
import { cliError, type CliOutcome, runDocker as runDockerCli } from "../io/docker-cli";
import { PATRONI_REST_PORT } from "../model/cluster";
import { invalid } from "../model/messages";
import { type PatroniDynamicConfig, dynamicConfigPatch } from "../model/patroni-dcs";

/**
 * The part of Patroni's dynamic configuration the stack owns (render/patroni.ts
 * patroniDynamicConfig), kept equal to the stack's settings. patroni.yml's `bootstrap.dcs` is read
 * once, when the cluster is initialised; after that a changed `kryonix:synchronousMode`, lag bound
 * or a parameter Patroni takes from the DCS only (max_connections, ...) reaches the cluster only
 * through `patronictl edit-config`, which this runs as postgres inside a running node (its own
 * configuration file names the DCS; no password leaves the container). A changed parameter that
 * needs a restart is followed by `patronictl restart --pending` (each node once, the leader without
 * a failover). A refresh reads Patroni's `GET /config`, so a change made by hand is drift that the
 * next up undoes. Deleting it does nothing: the DCS goes with the cluster.
 */
export interface PatroniConfigInputs {
  /** The nodes' containers, tried in order: the commands run in the first that answers. */
  containers: string[];
  /** Patroni's scope (the cluster's name in the DCS). */
  scope: string;
  config: PatroniDynamicConfig;
}

export type PatroniConfigOutputs = PatroniConfigInputs & {
  /** The parameters whose change was followed by a restart of the nodes, at the last create or update. */
  restartedFor: string[];
};

/** Runs `docker <args>` (with `input` on stdin). Injected by tests. */
export type DockerRun = (args: string[], input?: string) => CliOutcome;

export const PATRONI_PRIVATE_CONFIG = "/run/postgresql/kryonix/patroni.yml";
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** What is wrong with the inputs, one failure each. Pure. */
export function patroniConfigInputProblems(inputs: Partial<PatroniConfigInputs>): { property: string; reason: string }[] {
  const failures: { property: string; reason: string }[] = [];
  if (!Array.isArray(inputs.containers) || !inputs.containers.length || !inputs.containers.every((c) => typeof c === "string" && NAME.test(c))) {
    failures.push({ property: "containers", reason: invalid("PatroniConfig containers", inputs.containers, "the nodes' container names") });
  }
  if (typeof inputs.scope !== "string" || !NAME.test(inputs.scope)) failures.push({ property: "scope", reason: invalid("PatroniConfig scope", inputs.scope, "Patroni's scope") });
  const c = inputs.config;
  if (!c || typeof c.synchronous_mode !== "boolean" || !Number.isSafeInteger(c.maximum_lag_on_failover) || typeof c.postgresql?.parameters !== "object") {
    failures.push({ property: "config", reason: invalid("PatroniConfig config", "(object)", "{synchronous_mode, maximum_lag_on_failover, postgresql: {parameters}}") });
  }
  return failures;
}

export const runDocker: DockerRun = (args, input) => runDockerCli(args, { timeoutMs: 300_000, ...(input === undefined ? {} : { input }) });

const patronictl = (container: string, ...args: string[]) => ["exec", "-i", "-u", "postgres", container, "patronictl", "-c", PATRONI_PRIVATE_CONFIG, ...args];

export interface PatroniConfigWaits {
  /** How long to wait for Patroni to mark a node pending restart after a change (its loop runs every loop_wait). */
  pendingMs: number;
  pollMs: number;
  /** After a restart, how long before looking again (a Patroni loop, loop_wait, and a little). */
  settleMs: number;
  pause(ms: number): Promise<void>;
}

const DEFAULT_WAITS: PatroniConfigWaits = { pendingMs: 45_000, pollMs: 2_000, settleMs: 12_000, pause: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };

/** The dynamic provider; `docker` defaults to the docker CLI. */
export function makePatroniConfigProvider(docker: DockerRun = runDocker, waits: PatroniConfigWaits = DEFAULT_WAITS): pulumi.dynamic.ResourceProvider {
  /** Runs `args` (built for a container) in the first container that answers; throws with every answer when none does. */
  const inAnyNode = (inputs: PatroniConfigInputs, build: (container: string) => string[], input?: string): string => {
    const seen: string[] = [];
    for (const c of inputs.containers) {
      const args = build(c);
      const r = docker(args, input);
      if (r.code === 0) return r.out;
      seen.push(cliError("docker", args, r));
    }
    throw new Error(`no node of ${inputs.scope} ran it: ${seen.join("\n")}`);
  };
  const show = (inputs: PatroniConfigInputs): Record<string, unknown> => {
    // Patroni's REST API answers JSON (patronictl show-config prints YAML), on the node's loopback.
    const text = inAnyNode(inputs, (c) => ["exec", c, "curl", "-fsS", "--max-time", "5", `http://127.0.0.1:${PATRONI_REST_PORT}/config`]);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!parsed || typeof parsed !== "object") throw new Error(`Patroni's GET /config gave no configuration: ${text.slice(0, 300)}`);
    return parsed as Record<string, unknown>;
  };
  /** What the DCS holds now, for the keys the stack owns (its parameters: those of `owned`). */
  const current = (inputs: PatroniConfigInputs, owned: readonly string[]): PatroniDynamicConfig => {
    const dcs = show(inputs) as { synchronous_mode?: unknown; maximum_lag_on_failover?: unknown; postgresql?: { parameters?: Record<string, unknown> } };
    const params = dcs.postgresql?.parameters ?? {};
    return {
      synchronous_mode: dcs.synchronous_mode === true,
      maximum_lag_on_failover: Number(dcs.maximum_lag_on_failover),
      postgresql: { parameters: Object.fromEntries(owned.filter((k) => params[k] !== undefined && params[k] !== null).map((k) => [k, String(params[k])])) },
    };
  };
  /** The changed parameters a running server applies only at a restart (pg_settings' context postmaster). */
  const needRestart = (inputs: PatroniConfigInputs, names: string[]): string[] => {
    if (!names.length) return [];
    const list = names.map((n) => `'${n.replace(/'/g, "''")}'`).join(",");
    const out = inAnyNode(inputs, (c) => ["exec", "-u", "postgres", c, "psql", "-XAtq", "-d", "postgres", "-c", `SELECT name FROM pg_settings WHERE context = 'postmaster' AND name IN (${list}) ORDER BY 1`]);
    return out.split("\n").map((l) => l.trim()).filter(Boolean);
  };
  /** Members running a server, and those of them Patroni marks pending restart. */
  const restartState = (inputs: PatroniConfigInputs): { running: number; pending: number } => {
    const out = inAnyNode(inputs, (c) => patronictl(c, "list", "-f", "json", inputs.scope));
    const members = (JSON.parse(out) as { State?: string; "Pending restart"?: string }[]).filter((m) => m.State === "running" || m.State === "streaming");
    return { running: members.length, pending: members.filter((m) => !!m["Pending restart"]).length };
  };
  /** `patronictl restart --pending` until no node is pending, at most three times. */
  async function restartPending(inputs: PatroniConfigInputs): Promise<void> {
    for (let round = 1; ; round++) {
      const state = restartState(inputs);
      if (state.pending === 0) return;
      if (round > 3) throw new Error(`${state.pending} node(s) of ${inputs.scope} still pending a restart after three restarts: see \`patronictl list\` in a node`);
      inAnyNode(inputs, (c) => patronictl(c, "restart", "--pending", "--force", inputs.scope));
      // A node that marks itself only now (its loop runs every loop_wait) is restarted in the next round.
      await waits.pause(waits.settleMs);
    }
  }
  async function apply(inputs: PatroniConfigInputs, previous: readonly string[]): Promise<PatroniConfigOutputs> {
    const owned = [...new Set([...Object.keys(inputs.config.postgresql.parameters), ...previous])];
    const patch = dynamicConfigPatch(inputs.config, current(inputs, owned), previous);
    let restart: string[] = [];
    if (patch) {
      inAnyNode(inputs, (c) => patronictl(c, "edit-config", "--force", "--quiet", "--apply", "-", inputs.scope), JSON.stringify(patch));
      restart = needRestart(inputs, Object.keys((patch.postgresql as { parameters?: Record<string, unknown> } | undefined)?.parameters ?? {}));
      // Each node notices the change at its own next loop and marks itself pending: wait for all of them.
      let state = restartState(inputs);
      for (let waited = 0; restart.length && state.pending < state.running && waited < waits.pendingMs; waited += waits.pollMs) {
        await waits.pause(waits.pollMs);
        state = restartState(inputs);
      }
      if (restart.length && state.pending === 0) {
        throw new Error(`${restart.join(", ")} changed in the DCS of ${inputs.scope}, but no node reported a pending restart within ${waits.pendingMs / 1000} s: see \`npm run cluster:status\``);
      }
    }
    // Also a restart left pending by an earlier run that stopped half-way.
    await restartPending(inputs);
    return { ...inputs, restartedFor: restart };
  }
  return {
    async check(_olds: PatroniConfigInputs, news: PatroniConfigInputs) {
      return { inputs: news, failures: patroniConfigInputProblems(news) };
    },
    async diff(_id: string, olds: PatroniConfigOutputs, news: PatroniConfigInputs) {
      const same = JSON.stringify(olds.config) === JSON.stringify(news.config) && olds.scope === news.scope;
      return { changes: !same, replaces: olds.scope !== news.scope ? ["scope"] : [], deleteBeforeReplace: false };
    },
    async create(inputs: PatroniConfigInputs) {
      return { id: `patroni/${inputs.scope}`, outs: await apply(inputs, []) };
    },
    async update(_id: string, olds: PatroniConfigOutputs, news: PatroniConfigInputs) {
      return { outs: await apply(news, Object.keys(olds.config?.postgresql?.parameters ?? {})) };
    },
    async read(id: string, props: PatroniConfigOutputs) {
      // What the DCS holds now for the keys the state says the stack owns: a change by hand shows as drift.
      try {
        return { id, props: { ...props, config: current(props, Object.keys(props.config.postgresql.parameters)) } };
      } catch {
        // No node answers (the cluster is down): keep what the state says, the up that starts it applies again.
        return { id, props };
      }
    },
    // No delete: the DCS goes with the cluster.
  };
}

const patroniConfigProvider = makePatroniConfigProvider();

export type PatroniConfigArgs = { [K in keyof PatroniConfigInputs]: pulumi.Input<PatroniConfigInputs[K]> };

/** See makePatroniConfigProvider. */
export class PatroniConfig extends pulumi.dynamic.Resource {
  declare public readonly restartedFor: pulumi.Output<string[]>;

  constructor(name: string, args: PatroniConfigArgs, opts?: pulumi.CustomResourceOptions) {
    super(patroniConfigProvider, name, { ...args, restartedFor: undefined }, opts, "kryonix", "PatroniConfig");
  }
}
