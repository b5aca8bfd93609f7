import { describe, expect, it } from "vitest";
import {
  clusterOutputFrom,
  clusterStatus,
  contractRole,
  lagBytesOf,
  parsePatroniCluster,
  renderStatusTable,
  statusJson,
  statusVerdict,
  switchedOver,
  switchoverPlan,
  type ClusterMemberRef,
  type ContainerStates,
} from "../../model/cluster-status";

// Patroni 4.0.7's GET /cluster, captured from the cluster smoke test (scope ctest-486cfc).
const HEALTHY =
  '{"members": [{"name": "node-1", "role": "leader", "state": "running", "api_url": "http://kryonix-ctest-486cfc-postgres-1:8008/patroni", "host": "kryonix-ctest-486cfc-postgres-1", "port": 5432, "timeline": 1}, {"name": "node-2", "role": "replica", "state": "streaming", "api_url": "http://kryonix-ctest-486cfc-postgres-2:8008/patroni", "host": "kryonix-ctest-486cfc-postgres-2", "port": 5432, "timeline": 1, "lag": 0}, {"name": "node-3", "role": "sync_standby", "state": "streaming", "api_url": "http://kryonix-ctest-486cfc-postgres-3:8008/patroni", "host": "kryonix-ctest-486cfc-postgres-3", "port": 5432, "timeline": 1, "lag": 0}], "scope": "ctest-486cfc"}';
// After `docker stop` of node-1: its member key outlives it as a stopped replica with no timeline.
const ONE_STOPPED =
  '{"members": [{"name": "node-1", "role": "replica", "state": "stopped", "api_url": "http://kryonix-ctest-486cfc-postgres-1:8008/patroni", "host": "kryonix-ctest-486cfc-postgres-1", "port": 5432, "lag": "unknown"}, {"name": "node-2", "role": "sync_standby", "state": "streaming", "api_url": "http://kryonix-ctest-486cfc-postgres-2:8008/patroni", "host": "kryonix-ctest-486cfc-postgres-2", "port": 5432, "timeline": 2, "lag": 0}, {"name": "node-3", "role": "leader", "state": "running", "api_url": "http://kryonix-ctest-486cfc-postgres-3:8008/patroni", "host": "kryonix-ctest-486cfc-postgres-3", "port": 5432, "timeline": 2}], "scope": "ctest-486cfc"}';
// node-1 started again, pg_rewind done, replaying on its old timeline.
const REJOINING =
  '{"members": [{"name": "node-1", "role": "replica", "state": "in archive recovery", "api_url": "http://kryonix-ctest-486cfc-postgres-1:8008/patroni", "host": "kryonix-ctest-486cfc-postgres-1", "port": 5432, "timeline": 1, "lag": 20968}, {"name": "node-2", "role": "sync_standby", "state": "streaming", "api_url": "http://kryonix-ctest-486cfc-postgres-2:8008/patroni", "host": "kryonix-ctest-486cfc-postgres-2", "port": 5432, "timeline": 2, "lag": 0}, {"name": "node-3", "role": "leader", "state": "running", "api_url": "http://kryonix-ctest-486cfc-postgres-3:8008/patroni", "host": "kryonix-ctest-486cfc-postgres-3", "port": 5432, "timeline": 2}], "scope": "ctest-486cfc"}';

const HOST = "unix:///var/run/docker.sock";
const NODES: ClusterMemberRef[] = [1, 2, 3].map((n) => ({ name: `node-${n}`, container: `kryonix-ctest-486cfc-postgres-${n}`, host: HOST }));
const states = (...stopped: number[]): ContainerStates => new Map(NODES.map((n, i) => [n.container, stopped.includes(i + 1) ? "stopped" : "running"]));

describe("cluster status", () => {
  it("maps Patroni's healthy cluster to the contract, in the declared order", () => {
    const status = clusterStatus(NODES, parsePatroniCluster(HEALTHY), states());
    expect(status.problems).toEqual([]);
    expect(JSON.parse(statusJson(status))).toEqual({
      members: [
        { name: "node-1", container: "kryonix-ctest-486cfc-postgres-1", host: HOST, role: "leader", state: "running", timeline: 1, lagBytes: 0 },
        { name: "node-2", container: "kryonix-ctest-486cfc-postgres-2", host: HOST, role: "replica", state: "streaming", timeline: 1, lagBytes: 0 },
        { name: "node-3", container: "kryonix-ctest-486cfc-postgres-3", host: HOST, role: "sync_standby", state: "streaming", timeline: 1, lagBytes: 0 },
      ],
    });
  });

  it("shows a stopped member with no timeline and an unknown lag, and says why the cluster is degraded", () => {
    const status = clusterStatus(NODES, parsePatroniCluster(ONE_STOPPED), states(1));
    expect(status.members[0]).toEqual({ name: "node-1", container: NODES[0].container, host: HOST, role: "replica", state: "stopped", timeline: null, lagBytes: null });
    expect(status.members[2]).toMatchObject({ role: "leader", state: "running", timeline: 2, lagBytes: 0 });
    expect(status.problems).toEqual(["node-1 is stopped"]);
    expect(statusVerdict("ha", status)).toBe("cluster ha: degraded: node-1 is stopped");
  });

  it("takes Patroni's lag in bytes, and counts a replica still replaying from the archive as degraded", () => {
    const status = clusterStatus(NODES, parsePatroniCluster(REJOINING), states());
    expect(status.members[0]).toMatchObject({ role: "replica", state: "in archive recovery", timeline: 1, lagBytes: 20968 });
    expect(status.problems).toEqual(["node-1 is in archive recovery"]);
  });

  it("believes Docker over a dead leader's member key, which outlives the container", () => {
    // Right after `docker kill` of node-1 Patroni still lists it as the running leader (until its key's ttl runs out).
    const status = clusterStatus(NODES, parsePatroniCluster(HEALTHY), states(1));
    expect(status.members[0]).toMatchObject({ role: "leader", state: "stopped", lagBytes: null });
    expect(status.problems).toEqual(["no leader running", "node-1 is the leader but stopped"]);
  });

  it("lists a node Patroni does not know as a stopped (container down) or unknown (container up) replica", () => {
    const patroni = parsePatroniCluster(HEALTHY).filter((m) => m.name !== "node-2");
    expect(clusterStatus(NODES, patroni, states(2)).members[1]).toMatchObject({ role: "replica", state: "stopped", timeline: null, lagBytes: null });
    const up = clusterStatus(NODES, patroni, states());
    expect(up.members[1]).toMatchObject({ role: "replica", state: "unknown" });
    expect(up.problems).toEqual(["node-2 is unknown"]);
    // Docker could not tell (the host did not answer): Patroni's word stands.
    expect(clusterStatus(NODES, parsePatroniCluster(HEALTHY), new Map()).problems).toEqual([]);
  });

  it("says so when no node answers, or Patroni lists a member the stack does not declare", () => {
    const none = clusterStatus(NODES, undefined, states(1, 2, 3));
    expect(none.members.map((m) => m.state)).toEqual(["stopped", "stopped", "stopped"]);
    expect(none.problems).toEqual(["no running node answered Patroni's GET /cluster"]);
    const extra = parsePatroniCluster(HEALTHY.replace('"name": "node-2"', '"name": "node-9"'));
    expect(clusterStatus(NODES, extra, states()).problems).toEqual(["node-2 is unknown", "Patroni lists node-9, which the stack does not declare"]);
  });

  it("counts two running leaders as degraded", () => {
    const two = parsePatroniCluster(HEALTHY.replace('"role": "replica", "state": "streaming"', '"role": "leader", "state": "running"'));
    expect(clusterStatus(NODES, two, states()).problems).toEqual(["2 leaders running (node-1, node-2)"]);
  });

  it("maps Patroni's roles and lags to the contract's", () => {
    expect(["leader", "master", "primary", "standby_leader", "sync_standby", "quorum_standby", "replica"].map(contractRole)).toEqual([
      "leader",
      "leader",
      "leader",
      "leader",
      "sync_standby",
      "sync_standby",
      "replica",
    ]);
    expect(lagBytesOf("leader", undefined)).toBe(0);
    expect(lagBytesOf("replica", "unknown")).toBeNull();
    expect(lagBytesOf("replica", undefined)).toBeNull();
    expect(lagBytesOf("sync_standby", 1048576)).toBe(1048576);
  });

  it("refuses an answer that is not Patroni's cluster", () => {
    expect(() => parsePatroniCluster("<html>")).toThrow(/did not answer JSON/);
    expect(() => parsePatroniCluster('{"members": [{"name": "node-1"}]}')).toThrow(/no members list/);
  });

  it("prints a table and the verdict", () => {
    const table = renderStatusTable("ha", clusterStatus(NODES, parsePatroniCluster(REJOINING), states()));
    expect(table.split("\n")[0]).toMatch(/^NAME\s+CONTAINER\s+HOST\s+ROLE\s+STATE\s+TL\s+LAG$/);
    expect(table).toContain("in archive recovery  1   20.5 KiB");
    expect(table.trimEnd().split("\n").at(-1)).toBe("cluster ha: degraded: node-1 is in archive recovery");
  });
});

describe("the stack's cluster output", () => {
  const cluster = {
    topology: "ha",
    scope: "prod",
    nodes: NODES,
    etcd: [{ name: "etcd-1", container: "kryonix-prod-etcd-1", host: HOST }],
    haproxy: { container: "kryonix-prod-haproxy", host: HOST, writePort: 5000, readPort: 5001 },
  };
  it("is read as declared", () => {
    expect(clusterOutputFrom("prod", { cluster })).toEqual(cluster);
  });
  it("is required, with its nodes", () => {
    expect(() => clusterOutputFrom("prod", {})).toThrow("stack prod has no cluster output: run `npm run up -- --stack prod` with this version first");
    expect(() => clusterOutputFrom("prod", { cluster: { ...cluster, nodes: [{ name: "node-1" }] } })).toThrow(/cluster output is not/);
  });
});

describe("switchover plan", () => {
  const healthy = clusterStatus(NODES, parsePatroniCluster(HEALTHY), states()).members;

  it("goes to the synchronous standby by default", () => {
    expect(switchoverPlan(healthy)).toMatchObject({ leader: { name: "node-1" }, candidate: { name: "node-3" } });
  });

  it("goes to the node asked for, by name or container", () => {
    expect(switchoverPlan(healthy, "node-2").candidate.name).toBe("node-2");
    expect(switchoverPlan(healthy, "kryonix-ctest-486cfc-postgres-2").candidate.name).toBe("node-2");
  });

  it("refuses a node not declared, the leader, or a node not streaming, naming --to and the nodes allowed", () => {
    const allowed = "node-2 (kryonix-ctest-486cfc-postgres-2), node-3 (kryonix-ctest-486cfc-postgres-3): a streaming replica";
    expect(() => switchoverPlan(healthy, "node-9")).toThrow(`cluster:switchover --to: "node-9" is invalid: a node of the cluster: ${allowed}`);
    expect(() => switchoverPlan(healthy, "node-1")).toThrow(`cluster:switchover --to: "node-1" is invalid: not the current leader (node-1): ${allowed}`);
    const rejoining = clusterStatus(NODES, parsePatroniCluster(REJOINING), states()).members;
    expect(() => switchoverPlan(rejoining, "node-1")).toThrow(
      'cluster:switchover --to: "node-1" is invalid: a streaming replica (node-1 is in archive recovery): node-2 (kryonix-ctest-486cfc-postgres-2): a streaming replica',
    );
  });

  it("without a synchronous standby, takes the streaming replica least behind", () => {
    const noSync = clusterStatus(NODES, parsePatroniCluster(HEALTHY.replace('"role": "sync_standby"', '"role": "replica"').replace('"lag": 0}]', '"lag": 4096}]')), states()).members;
    expect(switchoverPlan(noSync).candidate.name).toBe("node-2");
  });

  it("needs one leader running and a streaming replica", () => {
    const leaderless = clusterStatus(NODES, parsePatroniCluster(HEALTHY), states(1)).members;
    expect(() => switchoverPlan(leaderless)).toThrow(/needs exactly one leader running, found 0/);
    const alone = clusterStatus(NODES, parsePatroniCluster(ONE_STOPPED), states(1, 2)).members;
    expect(() => switchoverPlan(alone)).toThrow(/no replica is streaming/);
  });

  it("is done when the candidate is the one leader running", () => {
    expect(switchedOver(healthy, "node-1")).toBe(true);
    expect(switchedOver(healthy, "node-3")).toBe(false);
  });
});
