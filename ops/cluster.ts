/**
 * The cluster's operator commands (`npm run cluster:status`, `npm run cluster:switchover`): they ask
 * Patroni inside a running node's container (`docker exec`, against the Docker endpoint of that
 * node's host), so the host never connects to a container's address and no password leaves a
 * container. The decisions are model/cluster-status.ts's.
 *
 * The docker commands run asynchronously: a test's writer in the same process keeps writing (and
 * timing) while the status is polled.
 */
import { spawn } from "node:child_process";
import { PATRONI_REST_PORT } from "../model/cluster";
import {
  PATRONI_PRIVATE_CONFIG,
  clusterOutputFrom,
  clusterStatus,
  parsePatroniCluster,
  switchedOver,
  switchoverPlan,
  type ClusterMemberRef,
  type ClusterOutput,
  type ClusterStatus,
  type ContainerStates,
  type PatroniMember,
} from "../model/cluster-status";
import { ScriptError } from "./cli";
import { readOutputs } from "./stack-run";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `docker args` against `host` (DOCKER_HOST), without blocking the event loop; never throws. */
function dockerOn(host: string, args: readonly string[], base: NodeJS.ProcessEnv, timeoutMs = 15_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn("docker", args, { env: { ...base, DOCKER_HOST: host }, timeout: timeoutMs, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", (err) => (stderr += String(err)));
    child.on("close", (code, signal) => resolve({ code: code ?? 1, stdout, stderr: signal ? `${stderr}killed by ${signal} (timeout ${timeoutMs / 1000} s)` : stderr }));
  });
}

/** The stack's cluster (its `cluster` output); a ScriptError (exit 2) when it cannot be read or is a single stack. */
export function readStackCluster(stack: string): ClusterOutput {
  let cluster: ClusterOutput;
  try {
    cluster = clusterOutputFrom(stack, readOutputs(stack));
  } catch (err) {
    throw new ScriptError((err as Error).message, 2);
  }
  if (cluster.topology !== "ha") throw new ScriptError(`stack ${stack} has kryonix:topology ${cluster.topology}: no cluster to show`, 2);
  return cluster;
}

/** Docker's word on each node's container, asked of each node's own host. */
export async function nodeContainerStates(nodes: readonly ClusterMemberRef[], base: NodeJS.ProcessEnv = process.env): Promise<ContainerStates> {
  const states = await Promise.all(
    nodes.map(async (n) => {
      const r = await dockerOn(n.host, ["inspect", "--type", "container", "--format", "{{.State.Running}}", n.container], base);
      if (r.code === 0) return [n.container, r.stdout.trim() === "true" ? "running" : "stopped"] as const;
      return [n.container, /no such (container|object)/i.test(r.stderr) ? "stopped" : "unknown"] as const;
    }),
  );
  return new Map(states);
}

/** Patroni's `GET /cluster`, from the first running node that answers; undefined when none does. */
export async function patroniCluster(nodes: readonly ClusterMemberRef[], states: ContainerStates, base: NodeJS.ProcessEnv = process.env): Promise<PatroniMember[] | undefined> {
  for (const n of nodes) {
    if (states.get(n.container) === "stopped") continue;
    const r = await dockerOn(n.host, ["exec", n.container, "curl", "-fsS", "--max-time", "3", `http://127.0.0.1:${PATRONI_REST_PORT}/cluster`], base);
    if (r.code !== 0) continue;
    try {
      return parsePatroniCluster(r.stdout);
    } catch {
      continue;
    }
  }
  return undefined;
}

/** Every declared node's role, state, timeline and lag (model/cluster-status.ts), read live. Needs no stack: only `cluster.nodes`. */
export async function readClusterStatus(cluster: Pick<ClusterOutput, "nodes">, base: NodeJS.ProcessEnv = process.env): Promise<ClusterStatus> {
  const states = await nodeContainerStates(cluster.nodes, base);
  return clusterStatus(cluster.nodes, await patroniCluster(cluster.nodes, states, base), states);
}

export interface SwitchoverOptions {
  /** The node to lead (name or container); default the synchronous standby, else the streaming replica least behind. */
  to?: string;
  /** How long to wait for the cluster to show the new leader running. */
  deadlineMs?: number;
  log?: (line: string) => void;
  base?: NodeJS.ProcessEnv;
}

export interface SwitchoverResult {
  from: string;
  to: string;
  /** From the switchover's start to the cluster showing the new leader running. */
  seconds: number;
  status: ClusterStatus;
}

export const SWITCHOVER_DEADLINE_MS = 60_000;

/**
 * A planned switchover: patronictl run as postgres inside the current leader's container with that
 * container's own configuration (its REST credentials never leave it), then a wait until the
 * cluster shows the new leader running. A ScriptError (exit 2) refuses a `to` that is not a
 * streaming replica; one with exit 1 when patronictl fails or the deadline passes.
 */
export async function switchover(cluster: Pick<ClusterOutput, "nodes" | "scope">, options: SwitchoverOptions = {}): Promise<SwitchoverResult> {
  const base = options.base ?? process.env;
  const log = options.log ?? (() => {});
  const deadlineMs = options.deadlineMs ?? SWITCHOVER_DEADLINE_MS;
  const before = await readClusterStatus(cluster, base);
  let plan;
  try {
    plan = switchoverPlan(before.members, options.to);
  } catch (err) {
    throw new ScriptError((err as Error).message, 2);
  }
  const { leader, candidate } = plan;
  log(`switching over from ${leader.name} (${leader.container}) to ${candidate.name} (${candidate.container})`);
  const startedAt = Date.now();
  const r = await dockerOn(
    leader.host,
    ["exec", "-u", "postgres", leader.container, "patronictl", "-c", PATRONI_PRIVATE_CONFIG, "switchover", "--leader", leader.name, "--candidate", candidate.name, "--force", cluster.scope],
    base,
    deadlineMs,
  );
  const said = `${r.stdout}${r.stderr}`.trim();
  // patronictl exits 0 even when the leader refused the switchover; its last line says so.
  if (r.code !== 0 || /switchover failed|error/i.test(said)) {
    throw new ScriptError(`patronictl switchover in ${leader.container} failed (exit ${r.code}): ${said.split("\n").slice(-5).join("\n")}`, 1);
  }
  let status = before;
  while (Date.now() - startedAt < deadlineMs) {
    status = await readClusterStatus(cluster, base);
    if (switchedOver(status.members, candidate.name)) {
      const seconds = (Date.now() - startedAt) / 1000;
      log(`${candidate.name} leads, running, ${seconds.toFixed(1)} s after the switchover began`);
      return { from: leader.name, to: candidate.name, seconds, status };
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const seen = status.members.map((m) => `${m.name}: ${m.role} ${m.state}`).join(", ");
  throw new ScriptError(`cluster:switchover: ${candidate.name} is not the leader running ${deadlineMs / 1000} s after the switchover began (${seen})`, 1);
}
