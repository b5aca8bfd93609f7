/**
 * The high-availability cluster's members and constants: three PostgreSQL nodes managed by Patroni,
 * an etcd of (by default) three members as Patroni's consensus store, and one HAProxy in front with
 * a write port (the leader) and a read port (replicas within a lag bound). Pure: names, ports,
 * timings and the checks on the cluster's settings; render/patroni.ts, render/etcd.ts and
 * render/haproxy.ts turn them into files.
 */
import { invalid } from "./messages";
import { stackNameProblem } from "./config";
import { MiB } from "./size";

/** The cluster's images (images/<name>/), built by the toolchain beside the single stack's SERVICES. */
export const CLUSTER_IMAGES = ["patroni", "etcd", "haproxy"] as const;
export type ClusterImage = (typeof CLUSTER_IMAGES)[number];

/** PostgreSQL nodes: one leader, one synchronous standby, one more replica to fail over to. */
export const NODE_COUNT = 3;
export const DEFAULT_ETCD_MEMBERS = 3;
/** Replicas further behind than this leave the read port, and may not be promoted. */
export const DEFAULT_REPLICA_LAG_BOUND = MiB;
export const DEFAULT_SYNCHRONOUS_MODE = true;

export const POSTGRES_PORT = 5432;
export const PATRONI_REST_PORT = 8008;
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
export const HAPROXY_WRITE_PORT = 5000;
export const HAPROXY_READ_PORT = 5001;
/** HAProxy's own liveness answer, bound on the container's loopback only (images/haproxy/healthcheck.sh). */
export const HAPROXY_MONITOR_PORT = 8404;

/**
 * Patroni's timings. Patroni silently raises a ttl below 20 to 20, and a dead leader's key expires
 * ttl − (0..loop_wait) after its last renewal, so with ttl fixed at 20 a larger loop_wait gives the
 * shorter failovers after a kill (measured 14-18 s with 10, 18-22 s with 5). Patroni requires
 * loop_wait + 2·retry_timeout ≤ ttl.
 */
export const PATRONI_TIMINGS = { ttl: 20, loopWait: 10, retryTimeout: 5 } as const;

/** Patroni's DCS scope and namespace: the etcd keys live under /kryonix/<scope>/. */
export const PATRONI_NAMESPACE = "/kryonix/";

export interface ClusterSettings {
  nodes: number;
  etcdMembers: number;
  replicaLagBoundBytes: number;
  synchronousMode: boolean;
}

export const DEFAULT_CLUSTER_SETTINGS: ClusterSettings = {
  nodes: NODE_COUNT,
  etcdMembers: DEFAULT_ETCD_MEMBERS,
  replicaLagBoundBytes: DEFAULT_REPLICA_LAG_BOUND,
  synchronousMode: DEFAULT_SYNCHRONOUS_MODE,
};

/**
 * Every problem with the cluster's settings, one message each naming the setting and what it
 * accepts; empty when they are valid. `prefix` is the settings' namespace (e.g. "kryonix:").
 */
export function clusterSettingsProblems(settings: Readonly<Record<keyof ClusterSettings, unknown>>, prefix = "kryonix:"): string[] {
  const problems: string[] = [];
  const { nodes, etcdMembers, replicaLagBoundBytes, synchronousMode } = settings;
  if (nodes !== NODE_COUNT) {
    problems.push(invalid(`${prefix}nodes`, nodes, `${NODE_COUNT} (a leader, a synchronous standby and a replica)`));
  }
  if (!Number.isInteger(etcdMembers) || (etcdMembers as number) < 3 || (etcdMembers as number) % 2 === 0) {
    problems.push(invalid(`${prefix}etcdMembers`, etcdMembers, "an odd whole number, at least 3 (3, 5, 7): an even membership tolerates no more failures than the odd one below it"));
  }
  if (!Number.isSafeInteger(replicaLagBoundBytes) || (replicaLagBoundBytes as number) <= 0) {
    problems.push(invalid(`${prefix}replicaLagBound`, replicaLagBoundBytes, "a whole number of bytes greater than 0, e.g. 1048576 (1 MiB)"));
  }
  if (typeof synchronousMode !== "boolean") {
    problems.push(invalid(`${prefix}synchronousMode`, synchronousMode, "true or false"));
  }
  return problems;
}

export interface ClusterNode {
  /** Patroni's member name: node-1, node-2, node-3. */
  name: string;
  /** The container's name, also its DNS name on the stack's network. */
  container: string;
  /** The data volume's name. */
  volume: string;
}

export interface EtcdMember {
  /** etcd's member name: etcd-1, ... */
  name: string;
  container: string;
  volume: string;
  clientUrl: string;
  peerUrl: string;
}

export interface ClusterMembers {
  /** Patroni's scope: the cluster's name in the DCS. */
  scope: string;
  nodes: ClusterNode[];
  etcd: EtcdMember[];
  haproxy: string;
  /** etcd's initial-cluster-token: one per stack, so two stacks' members never join each other. */
  etcdToken: string;
}

/** `kryonix-<stack>-<member>`: the Docker name of a cluster member's container (and volume). */
export function clusterResourceName(stack: string, member: string): string {
  const problem = stackNameProblem(stack);
  if (problem) throw new Error(problem);
  if (!/^(postgres|etcd)-[1-9][0-9]*$|^haproxy$/.test(member)) {
    throw new Error(invalid("cluster member", member, "postgres-<n>, etcd-<n> or haproxy"));
  }
  return `kryonix-${stack}-${member}`;
}

/** The cluster's members for a stack: node N is postgres-N, etcd member N is etcd-N. */
export function clusterMembers(stack: string, settings: Pick<ClusterSettings, "nodes" | "etcdMembers"> = DEFAULT_CLUSTER_SETTINGS): ClusterMembers {
  const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
  const nodes = range(settings.nodes).map((n) => {
    const container = clusterResourceName(stack, `postgres-${n}`);
    return { name: `node-${n}`, container, volume: container };
  });
  const etcd = range(settings.etcdMembers).map((n) => {
    const container = clusterResourceName(stack, `etcd-${n}`);
    return {
      name: `etcd-${n}`,
      container,
      volume: container,
      clientUrl: `http://${container}:${ETCD_CLIENT_PORT}`,
      peerUrl: `http://${container}:${ETCD_PEER_PORT}`,
    };
  });
  return { scope: stack, nodes, etcd, haproxy: clusterResourceName(stack, "haproxy"), etcdToken: `kryonix-${stack}` };
}

/** The roles Patroni creates at bootstrap and logs in as: the superuser, streaming replication, pg_rewind. */
export const CLUSTER_ROLES = { superuser: "postgres", replication: "replicator", rewind: "rewind" } as const;
/** Connection limits for Patroni's own roles: two standbys stream and one may rewind, with room for a clone and a retry. */
export const CLUSTER_ROLE_CONNECTION_LIMITS: Readonly<Record<string, number>> = { [CLUSTER_ROLES.replication]: 10, [CLUSTER_ROLES.rewind]: 3 };
/** Patroni's REST API user for the unsafe endpoints (switchover, restart, config); health checks need none. */
export const PATRONI_REST_USER = "patroni";

/** A member as the `cluster` stack output lists it: where it runs (the Docker endpoint) and under which container name. */
export interface ClusterOutputMember {
  name: string;
  container: string;
  /** The Docker endpoint (DOCKER_HOST) of the member's host, e.g. unix:///var/run/docker.sock. */
  host: string;
}

/**
 * The stack output `cluster`, read by `npm run cluster:status` and `cluster:switchover` and by other
 * tools: the topology and, for `ha`, every member with its Docker endpoint. No secret. Pure.
 */
export interface ClusterOutput {
  topology: "single" | "ha";
  scope: string;
  nodes: ClusterOutputMember[];
  etcd: ClusterOutputMember[];
  haproxy?: { container: string; host: string; writePort: number; readPort: number };
}

export function clusterOutput(
  config: { stack: string; topology: "single" | "ha"; postgresPort: number; postgresReadPort: number },
  members: ClusterMembers | undefined,
  host: string,
): ClusterOutput {
  if (config.topology === "single" || !members) return { topology: "single", scope: config.stack, nodes: [], etcd: [] };
  const at = (m: { name: string; container: string }) => ({ name: m.name, container: m.container, host });
  return {
    topology: "ha",
    scope: members.scope,
    nodes: members.nodes.map(at),
    etcd: members.etcd.map(at),
    haproxy: { container: members.haproxy, host, writePort: config.postgresPort, readPort: config.postgresReadPort },
  };
}

/**
 * Why the stack may not go on with `topology` on an engine that holds the other topology's data, or
 * undefined. Converting a `single` cluster with data into the first Patroni leader (and back) is not
 * built: without this check the plan would create an empty cluster beside the kept volume and the
 * database objects on it. Pure.
 */
export function topologyChangeProblem(stack: string, topology: "single" | "ha", volumes: { singleVolume: boolean; clusterVolume: boolean }): string | undefined {
  const single = `kryonix-${stack}-postgres`;
  const first = clusterMembers(stack).nodes[0].volume;
  if (topology === "ha" && volumes.singleVolume) {
    return `kryonix:topology ha: the Docker engine holds ${single}, the data of this stack's single server; converting it to a cluster is not supported yet. Keep kryonix:topology single, or move the data out (npm run backup, then npm run destroy -- --including-data) before switching`;
  }
  if (topology === "single" && volumes.clusterVolume) {
    return `kryonix:topology single: the Docker engine holds ${first}, the data of this stack's ha cluster; converting it back to one server is not supported. Keep kryonix:topology ha, or remove the cluster (npm run destroy -- --including-data) before switching`;
  }
  return undefined;
}
