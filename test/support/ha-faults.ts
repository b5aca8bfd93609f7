/**
 * Helpers of the `ha` fault suite (test/fault/ha-faults.test.ts): the cluster read live without
 * blocking the event loop (the writer in the same process keeps writing and timing meanwhile),
 * which nodes answer Patroni's `GET /primary`, a node's address on the stack's network (what the
 * writer's inet_server_addr() names), and the figures: median, max, and the targets judged.
 */
import { PATRONI_REST_PORT, type ClusterOutput } from "../../model/cluster";
import type { ClusterStatusMember } from "../../model/cluster-status";
import { readClusterStatus } from "../../ops/cluster";
import { shAsync, waitFor } from "./process";

export type Cluster = Pick<ClusterOutput, "nodes" | "scope" | "etcd">;

export const showMembers = (members: readonly ClusterStatusMember[]) => members.map((m) => `${m.name}:${m.role}/${m.state}/tl${m.timeline}`).join(" ");

/** One leader running, every other node streaming and, with synchronous mode, one of them the synchronous standby. */
export function healthy(members: readonly ClusterStatusMember[], synchronous: boolean): boolean {
  const leaders = members.filter((m) => m.role === "leader" && m.state === "running");
  return leaders.length === 1 && members.filter((m) => m.state === "streaming").length === members.length - 1 && (!synchronous || members.some((m) => m.role === "sync_standby"));
}

/**
 * Waits for a healthy cluster (and, with `rejoined`, that node streaming again); the members then.
 * `notLeader`: the node that must not lead (the one just failed over from).
 */
export async function waitForHealthy(cluster: Cluster, what: string, deadlineMs: number, opts: { synchronous: boolean; notLeader?: string; rejoined?: string }): Promise<ClusterStatusMember[]> {
  let last: ClusterStatusMember[] = [];
  await waitFor(what, deadlineMs, async () => {
    last = (await readClusterStatus(cluster)).members;
    if (!healthy(last, opts.synchronous)) return false;
    if (opts.notLeader && last.find((m) => m.role === "leader")?.name === opts.notLeader) return false;
    return !opts.rejoined || last.find((m) => m.name === opts.rejoined)?.state === "streaming";
  }).catch((e: Error) => {
    throw new Error(`${e.message}; last seen: ${showMembers(last)}`);
  });
  return last;
}

/** The nodes whose Patroni answers 200 on `GET /primary` (asked inside each running container): who thinks it leads and holds the lock. */
export async function primaries(cluster: Cluster): Promise<string[]> {
  const answers = await Promise.all(
    cluster.nodes.map(async (n) => {
      const r = await shAsync("docker", ["exec", n.container, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3", `http://127.0.0.1:${PATRONI_REST_PORT}/primary`], { env: { ...process.env, DOCKER_HOST: n.host }, timeoutMs: 15_000 });
      return r.stdout.trim() === "200" ? n.name : undefined;
    }),
  );
  return answers.filter((n): n is string => n !== undefined);
}

/** A container's address on its network(s), as inet_server_addr() reports it to the writer. */
export async function containerAddress(container: string): Promise<string> {
  const r = await shAsync("docker", ["inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", container], { timeoutMs: 15_000 });
  return r.stdout.trim().split(/\s+/)[0] ?? "";
}

/** A docker command that must work (kill, start, pause, unpause), without blocking the writer. */
export async function docker(...args: string[]): Promise<void> {
  const r = await shAsync("docker", args, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")} failed (exit ${r.code}): ${r.out.trim()}`);
}

/** Whether the container's log since `since` (Date.now()) mentions pg_rewind: the rejoin rewound. */
export async function rewoundSince(container: string, since: number): Promise<boolean> {
  const r = await shAsync("docker", ["logs", "--since", new Date(since - 1000).toISOString(), container], { timeoutMs: 30_000 });
  return /pg_rewind|rewind/i.test(r.out);
}

export const median = (xs: readonly number[]) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const max = (xs: readonly number[]) => (xs.length ? Math.max(...xs) : NaN);

/** One fault's runs: seconds to the first write on another server, lost acknowledged ids, seconds to rejoin. */
export interface FaultRun {
  firstWriteSeconds: number;
  /** The writer's longest wait between two acknowledgements around the fault. */
  longestGapSeconds: number;
  lost: number;
  acked: number;
  errors: number;
  rejoinSeconds: number;
  rewound?: boolean;
  from: string;
  to: string;
  timelineBefore: number | null;
  timelineAfter: number | null;
}

export interface FaultSummary {
  runs: number;
  firstWriteMedianSeconds: number;
  firstWriteMaxSeconds: number;
  lost: number;
  rejoinMedianSeconds: number;
  rejoinMaxSeconds: number;
}

export function summarize(runs: readonly FaultRun[]): FaultSummary {
  const first = runs.map((r) => r.firstWriteSeconds);
  const rejoin = runs.map((r) => r.rejoinSeconds);
  return {
    runs: runs.length,
    firstWriteMedianSeconds: median(first),
    firstWriteMaxSeconds: max(first),
    lost: runs.reduce((n, r) => n + r.lost, 0),
    rejoinMedianSeconds: median(rejoin),
    rejoinMaxSeconds: max(rejoin),
  };
}

export interface Target {
  what: string;
  value: number;
  limit: number;
  pass: boolean;
}

/**
 * The targets for one kind of fault: 0 lost (synchronous mode on; `judgeLost` false where
 * a loss is only reported), median and max to the first write, rejoin.
 */
export function judge(kind: string, s: FaultSummary, medianLimitSeconds: number, opts: { maxLimitSeconds?: number; rejoinLimitSeconds?: number; judgeLost?: boolean } = {}): Target[] {
  const t = (what: string, value: number, limit: number): Target => ({ what: `${kind}: ${what}`, value, limit, pass: value <= limit });
  return [
    ...(opts.judgeLost === false ? [] : [t("acknowledged writes lost", s.lost, 0)]),
    t("median s to the first write", s.firstWriteMedianSeconds, medianLimitSeconds),
    t("max s to the first write", s.firstWriteMaxSeconds, opts.maxLimitSeconds ?? 35),
    t("max s to rejoin", s.rejoinMaxSeconds, opts.rejoinLimitSeconds ?? 60),
  ];
}

export const formatTarget = (x: Target) => `${x.pass ? "PASS" : "FAIL"} ${x.what}: ${Number.isInteger(x.value) ? x.value : x.value.toFixed(1)} (target <= ${x.limit})`;
