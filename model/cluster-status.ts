/**
 * What `npm run cluster:status` and `npm run cluster:switchover` decide, from facts handed in:
 * the stack's `cluster` output (the nodes it declares and where their containers run), Patroni's
 * `GET /cluster` answer, and which containers Docker says are running. Pure.
 *
 * The status JSON is a contract other tools read:
 *   {"members": [{"name", "container", "host", "role", "state", "timeline", "lagBytes"}]}
 * with one member per declared node, in the stack's order.
 */
import type { ClusterOutput, ClusterOutputMember as ClusterMemberRef } from "./cluster";
import { invalid } from "./messages";
import { formatBytes } from "./format";

/**
 * Patroni's configuration as the patroni image's entrypoint hands it to postgres (a private 0600
 * copy): patronictl reads the DCS address and the REST API's credentials from it.
 */
export const PATRONI_PRIVATE_CONFIG = "/run/postgresql/kryonix/patroni.yml";

/** One container of the cluster and the Docker endpoint it runs on; the stack's `cluster` output (model/cluster.ts). */
export type { ClusterOutputMember as ClusterMemberRef, ClusterOutput } from "./cluster";

/** Roles of the contract: Patroni's leader, its synchronous standby, any other replica. */
export type ClusterRole = "leader" | "sync_standby" | "replica";

export interface ClusterStatusMember {
  name: string;
  container: string;
  host: string;
  role: ClusterRole;
  /** Patroni's state ("running", "streaming", "in archive recovery", "stopped", ...); "stopped" or "unknown" for a node Patroni does not list. */
  state: string;
  /** null when Patroni gives none (a stopped member). */
  timeline: number | null;
  /** Bytes behind the leader: 0 for the leader, null when unknown. */
  lagBytes: number | null;
}

export interface ClusterStatus {
  members: ClusterStatusMember[];
  /** Why the cluster is not healthy, one short phrase each; empty when it is. Not part of the JSON. */
  problems: string[];
}

/** A member as Patroni 4.0's REST `GET /cluster` lists it (the fields we read). */
export interface PatroniMember {
  name: string;
  role: string;
  state: string;
  host?: string;
  timeline?: number;
  /** Bytes behind the leader (REST; patronictl's `Lag in MB` is rounded to whole MB), "unknown", or absent on the leader. */
  lag?: number | string;
}

/** Patroni's `GET /cluster` body, checked down to what we read; throws naming what is wrong. */
export function parsePatroniCluster(body: string): PatroniMember[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error(`Patroni's GET /cluster did not answer JSON: ${body.slice(0, 200)}`);
  }
  const members = (parsed as { members?: unknown } | null)?.members;
  if (!Array.isArray(members) || !members.every((m) => typeof m?.name === "string" && typeof m?.role === "string" && typeof m?.state === "string")) {
    throw new Error(`Patroni's GET /cluster has no members list of {name, role, state}: ${body.slice(0, 200)}`);
  }
  return members as PatroniMember[];
}

/** The contract's role for Patroni's ("master"/"primary" before 4.0, "quorum_standby" in quorum mode). */
export function contractRole(patroniRole: string): ClusterRole {
  if (patroniRole === "leader" || patroniRole === "master" || patroniRole === "primary" || patroniRole === "standby_leader") return "leader";
  if (patroniRole === "sync_standby" || patroniRole === "quorum_standby") return "sync_standby";
  return "replica";
}

/** Patroni's `lag` as bytes: the leader has none (0), "unknown" or a missing one is null. */
export function lagBytesOf(role: ClusterRole, lag: unknown): number | null {
  if (role === "leader") return 0;
  return typeof lag === "number" && Number.isFinite(lag) && lag >= 0 ? lag : null;
}

/**
 * The `cluster` output of a stack, checked; throws an Error saying what is missing. A stack with
 * topology `single` passes: the caller says there is no cluster to show.
 */
export function clusterOutputFrom(stack: string, outputs: Readonly<Record<string, unknown>>): ClusterOutput {
  const c = outputs.cluster as Partial<ClusterOutput> | undefined;
  if (!c || typeof c !== "object") throw new Error(`stack ${stack} has no cluster output: run \`npm run up -- --stack ${stack}\` with this version first`);
  const refs = (v: unknown) => Array.isArray(v) && v.every((m) => typeof m?.name === "string" && typeof m?.container === "string" && typeof m?.host === "string");
  if ((c.topology !== "single" && c.topology !== "ha") || typeof c.scope !== "string" || !refs(c.nodes) || !refs(c.etcd)) {
    throw new Error(`stack ${stack}'s cluster output is not {topology, scope, nodes: [{name, container, host}], etcd, haproxy}: ${JSON.stringify(c).slice(0, 200)}`);
  }
  return c as ClusterOutput;
}

/** Docker's word on each container: running, stopped (exists, not running, or missing), or unknown (its engine did not answer). */
export type ContainerStates = ReadonlyMap<string, "running" | "stopped" | "unknown">;

/**
 * Every declared node with Patroni's view of it. Docker's word wins where the two disagree: a
 * node whose container is not running is "stopped" even while Patroni still lists it as it was
 * (a killed node's member key outlives it by up to ttl). A node Patroni does not list keeps the
 * contract's role "replica" (it has no other) with state "stopped" when its container is down,
 * "unknown" when the container runs or Docker could not tell. `patroni` undefined: no node answered.
 */
export function statusMembers(nodes: readonly ClusterMemberRef[], patroni: readonly PatroniMember[] | undefined, containers: ContainerStates): ClusterStatusMember[] {
  return nodes.map((n) => {
    const p = patroni?.find((m) => m.name === n.name);
    const docker = containers.get(n.container) ?? "unknown";
    const up = docker !== "stopped";
    if (!p) return { ...pick(n), role: "replica", state: docker === "stopped" ? "stopped" : "unknown", timeline: null, lagBytes: null };
    const role = contractRole(p.role);
    return {
      ...pick(n),
      role,
      state: up ? p.state : "stopped",
      timeline: typeof p.timeline === "number" ? p.timeline : null,
      lagBytes: up ? lagBytesOf(role, p.lag) : null,
    };
  });
}

const pick = (n: ClusterMemberRef) => ({ name: n.name, container: n.container, host: n.host });

/** A replica counts as up when Patroni says it streams or runs. */
const REPLICA_UP = new Set(["streaming", "running"]);

/**
 * Why the cluster is not healthy: healthy is exactly one leader running and every declared node
 * running (the leader) or streaming/running (a replica), and Patroni listing no member the stack
 * does not declare.
 */
export function statusProblems(members: readonly ClusterStatusMember[], patroni: readonly PatroniMember[] | undefined): string[] {
  if (!patroni) return ["no running node answered Patroni's GET /cluster"];
  const problems: string[] = [];
  const leaders = members.filter((m) => m.role === "leader" && m.state === "running");
  if (leaders.length === 0) problems.push("no leader running");
  if (leaders.length > 1) problems.push(`${leaders.length} leaders running (${leaders.map((m) => m.name).join(", ")})`);
  for (const m of members) {
    const ok = m.role === "leader" ? m.state === "running" : REPLICA_UP.has(m.state);
    if (!ok) problems.push(`${m.name} is ${m.role === "leader" ? "the leader but " : ""}${m.state}`);
  }
  const declared = new Set(members.map((m) => m.name));
  for (const p of patroni) if (!declared.has(p.name)) problems.push(`Patroni lists ${p.name}, which the stack does not declare`);
  return problems;
}

/** The status from the facts: see statusMembers and statusProblems. */
export function clusterStatus(nodes: readonly ClusterMemberRef[], patroni: readonly PatroniMember[] | undefined, containers: ContainerStates): ClusterStatus {
  const members = statusMembers(nodes, patroni, containers);
  return { members, problems: statusProblems(members, patroni) };
}

/** The contract's JSON: members only. */
export function statusJson(status: ClusterStatus): string {
  return `${JSON.stringify({ members: status.members }, null, 2)}\n`;
}

/** `npm run cluster:status` without --json: a table, then "healthy" or "degraded: <why>". */
export function renderStatusTable(stack: string, status: ClusterStatus): string {
  const rows = [
    ["NAME", "CONTAINER", "HOST", "ROLE", "STATE", "TL", "LAG"],
    ...status.members.map((m) => [m.name, m.container, m.host, m.role, m.state, m.timeline === null ? "-" : String(m.timeline), m.lagBytes === null ? "unknown" : formatBytes(m.lagBytes)]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join("  "));
  return `${lines.join("\n")}\n${statusVerdict(stack, status)}\n`;
}

/** One line: "cluster <stack>: healthy" or "cluster <stack>: degraded: <why>; <why>". */
export function statusVerdict(stack: string, status: ClusterStatus): string {
  return status.problems.length ? `cluster ${stack}: degraded: ${status.problems.join("; ")}` : `cluster ${stack}: healthy`;
}

export interface SwitchoverPlan {
  leader: ClusterStatusMember;
  candidate: ClusterStatusMember;
}

/**
 * Who leads now and who is to lead: `to` (a node's name or container) or, without it, the
 * synchronous standby, else the streaming replica least behind. Throws an Error naming
 * `--to`, the value and the nodes allowed, for a node not declared, the leader itself or a node
 * not streaming; and when there is no leader running or no replica to switch to.
 */
export function switchoverPlan(members: readonly ClusterStatusMember[], to?: string): SwitchoverPlan {
  const leaders = members.filter((m) => m.role === "leader" && m.state === "running");
  if (leaders.length !== 1) {
    throw new Error(`cluster:switchover needs exactly one leader running, found ${leaders.length} (${members.map((m) => `${m.name}: ${m.role} ${m.state}`).join(", ")})`);
  }
  const leader = leaders[0];
  const candidates = members.filter((m) => m !== leader && m.state === "streaming");
  const allowed = candidates.length ? `${candidates.map((m) => `${m.name} (${m.container})`).join(", ")}: a streaming replica` : "none: no replica is streaming";
  if (to === undefined) {
    const pick = candidates.find((m) => m.role === "sync_standby") ?? [...candidates].sort((a, b) => (a.lagBytes ?? Infinity) - (b.lagBytes ?? Infinity) || a.name.localeCompare(b.name))[0];
    if (!pick) throw new Error(`cluster:switchover: no replica is streaming, nothing to switch over to (${members.map((m) => `${m.name}: ${m.state}`).join(", ")})`);
    return { leader, candidate: pick };
  }
  const target = members.find((m) => m.name === to || m.container === to);
  if (!target) throw new Error(invalid("cluster:switchover --to", to, `a node of the cluster: ${allowed}`));
  if (target === leader) throw new Error(invalid("cluster:switchover --to", to, `not the current leader (${leader.name}): ${allowed}`));
  if (target.state !== "streaming") throw new Error(invalid("cluster:switchover --to", to, `a streaming replica (${target.name} is ${target.state}): ${allowed}`));
  return { leader, candidate: target };
}

/** Whether the switchover is done: `candidate` is the one leader, running. */
export function switchedOver(members: readonly ClusterStatusMember[], candidate: string): boolean {
  const leaders = members.filter((m) => m.role === "leader" && m.state === "running");
  return leaders.length === 1 && leaders[0].name === candidate;
}
