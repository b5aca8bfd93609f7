import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import {
  CLUSTER_ROLES,
  DEFAULT_CLUSTER_SETTINGS,
  PATRONI_TIMINGS,
  clusterMembers,
  clusterOutput,
  clusterResourceName,
  clusterSettingsProblems,
  topologyChangeProblem,
  type ClusterSettings,
} from "../../model/cluster";
import { renderEtcdYml } from "../../render/etcd";
import { renderHaproxyCfg } from "../../render/haproxy";
import { dynamicConfigPatch } from "../../model/patroni-dcs";
import { renderPatroniYml, type PatroniNodeOptions } from "../../render/patroni";
import { ALL_IMAGES, buildOrder } from "../../scripts/images";

const members = clusterMembers("prod");
const passwords = { superuser: "s".repeat(24), replication: "r".repeat(24), rewind: "w".repeat(24), restApi: "a".repeat(24) };
const nodeOptions = (over: Partial<PatroniNodeOptions> = {}): PatroniNodeOptions => ({
  members,
  node: 2,
  parameters: { shared_buffers: "1GB", max_connections: "200", listen_addresses: "*", port: "5433", wal_level: "minimal", archive_command: "/bin/true" },
  pgHba: ["hostssl all all samenet scram-sha-256"],
  passwords,
  stanza: "kryonix",
  synchronousMode: true,
  replicaLagBoundBytes: 4 * 1024 * 1024,
  ...over,
});
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const patroni = (over: Partial<PatroniNodeOptions> = {}) => load(renderPatroniYml(nodeOptions(over))) as any;

describe("clusterMembers", () => {
  it("names three nodes, three etcd members and HAProxy after the stack", () => {
    expect(members.nodes.map((n) => n.container)).toEqual(["kryonix-prod-postgres-1", "kryonix-prod-postgres-2", "kryonix-prod-postgres-3"]);
    expect(members.nodes.map((n) => n.name)).toEqual(["node-1", "node-2", "node-3"]);
    expect(members.etcd.map((m) => m.container)).toEqual(["kryonix-prod-etcd-1", "kryonix-prod-etcd-2", "kryonix-prod-etcd-3"]);
    expect(members.etcd[0].peerUrl).toBe("http://kryonix-prod-etcd-1:2380");
    expect(members.etcd[2].clientUrl).toBe("http://kryonix-prod-etcd-3:2379");
    expect(members.haproxy).toBe("kryonix-prod-haproxy");
    expect(members.scope).toBe("prod");
    expect(clusterMembers("dev", { nodes: 3, etcdMembers: 5 }).etcd).toHaveLength(5);
  });

  it("refuses a bad stack name or member", () => {
    expect(() => clusterResourceName("Bad_Stack", "haproxy")).toThrow(/stack/);
    expect(() => clusterResourceName("prod", "postgres")).toThrow(/cluster member: "postgres" is invalid/);
    expect(() => clusterResourceName("prod", "etcd-0")).toThrow(/etcd-<n>/);
  });

  it("keeps loop_wait + 2 retry_timeout within a ttl Patroni does not raise", () => {
    expect(PATRONI_TIMINGS.ttl).toBeGreaterThanOrEqual(20);
    expect(PATRONI_TIMINGS.loopWait + 2 * PATRONI_TIMINGS.retryTimeout).toBeLessThanOrEqual(PATRONI_TIMINGS.ttl);
  });
});

describe("clusterSettingsProblems", () => {
  const problems = (over: Partial<Record<keyof ClusterSettings, unknown>>) => clusterSettingsProblems({ ...DEFAULT_CLUSTER_SETTINGS, ...over });

  it("accepts the defaults and odd etcd memberships from 3", () => {
    expect(problems({})).toEqual([]);
    expect(problems({ etcdMembers: 5 })).toEqual([]);
    expect(problems({ synchronousMode: false, replicaLagBoundBytes: 1 })).toEqual([]);
  });

  it.each([
    ["nodes", 2, /^kryonix:nodes: 2 is invalid: 3 /],
    ["nodes", 5, /^kryonix:nodes: 5 is invalid/],
    ["etcdMembers", 4, /^kryonix:etcdMembers: 4 is invalid: an odd whole number, at least 3/],
    ["etcdMembers", 1, /^kryonix:etcdMembers: 1 is invalid/],
    ["etcdMembers", 3.5, /^kryonix:etcdMembers: 3.5 is invalid/],
    ["etcdMembers", "3", /^kryonix:etcdMembers: "3" is invalid/],
    ["replicaLagBoundBytes", 0, /^kryonix:replicaLagBound: 0 is invalid: a whole number of bytes greater than 0/],
    ["replicaLagBoundBytes", -1, /^kryonix:replicaLagBound: -1 is invalid/],
    ["replicaLagBoundBytes", 1.5, /^kryonix:replicaLagBound: 1.5 is invalid/],
    ["synchronousMode", "yes", /^kryonix:synchronousMode: "yes" is invalid: true or false/],
  ] as const)("names %s when it is %j", (key, value, message) => {
    const found = problems({ [key]: value });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  it("reports every bad setting at once, under the prefix given", () => {
    const found = clusterSettingsProblems({ nodes: 1, etcdMembers: 2, replicaLagBoundBytes: 0, synchronousMode: undefined }, "x:");
    expect(found.map((p) => p.split(":").slice(0, 2).join(":"))).toEqual(["x:nodes", "x:etcdMembers", "x:replicaLagBound", "x:synchronousMode"]);
  });
});

describe("renderPatroniYml", () => {
  it("names node N and reaches it, etcd and its peers by container name", () => {
    const c = patroni();
    expect(c.scope).toBe("prod");
    expect(c.name).toBe("node-2");
    expect(c.restapi.connect_address).toBe("kryonix-prod-postgres-2:8008");
    expect(c.postgresql.connect_address).toBe("kryonix-prod-postgres-2:5432");
    expect(c.etcd3.hosts).toEqual(["kryonix-prod-etcd-1:2379", "kryonix-prod-etcd-2:2379", "kryonix-prod-etcd-3:2379"]);
  });

  it("puts the stack's tuning in the DCS, under what replication needs, without node-local settings", () => {
    const p = patroni().bootstrap.dcs.postgresql.parameters;
    expect(p.shared_buffers).toBe("1GB");
    expect(p.max_connections).toBe("200");
    expect(p.wal_level).toBe("replica");
    expect(p.hot_standby).toBe("on");
    expect(p.wal_log_hints).toBe("on");
    expect(p.archive_command).toBe("pgbackrest --stanza=kryonix archive-push %p");
    expect(p).not.toHaveProperty("listen_addresses");
    expect(p).not.toHaveProperty("port");
  });

  it("uses the timings, the lag bound and the synchronous mode given", () => {
    const dcs = patroni().bootstrap.dcs;
    expect([dcs.ttl, dcs.loop_wait, dcs.retry_timeout]).toEqual([20, 10, 5]);
    expect(dcs.maximum_lag_on_failover).toBe(4 * 1024 * 1024);
    expect(dcs.synchronous_mode).toBe(true);
    expect(dcs.failsafe_mode).toBe(true);
    expect(patroni({ synchronousMode: false }).bootstrap.dcs.synchronous_mode).toBe(false);
  });

  it("carries the passwords given, the cluster's roles and pg_hba lines before the stack's", () => {
    const c = patroni();
    expect(c.postgresql.authentication.superuser).toEqual({ username: CLUSTER_ROLES.superuser, password: passwords.superuser });
    expect(c.postgresql.authentication.replication).toEqual({ username: "replicator", password: passwords.replication });
    expect(c.postgresql.authentication.rewind.password).toBe(passwords.rewind);
    expect(c.restapi.authentication.password).toBe(passwords.restApi);
    expect(c.postgresql.pg_hba).toEqual([
      "local all all peer",
      "host replication replicator samenet scram-sha-256",
      "host postgres rewind samenet scram-sha-256",
      "hostssl all all samenet scram-sha-256",
    ]);
  });

  it("restores replicas from pgBackRest's stanza first, then by base backup", () => {
    const pg = patroni({ stanza: "other" }).postgresql;
    expect(pg.create_replica_methods).toEqual(["pgbackrest", "basebackup"]);
    expect(pg.pgbackrest.command).toBe("/usr/bin/pgbackrest --stanza=other --delta restore");
    expect(pg.recovery_conf.restore_command).toBe('pgbackrest --stanza=other archive-get %f "%p"');
  });

  it("refuses a missing or weak password, a bad node, stanza, lag bound or pg_hba line", () => {
    expect(() => renderPatroniYml(nodeOptions({ passwords: { ...passwords, rewind: "" } }))).toThrow(/patroni rewind password: "<hidden>" is invalid/);
    expect(() => renderPatroniYml(nodeOptions({ passwords: { ...passwords, superuser: "x".repeat(20) + " y" } }))).toThrow(/superuser password/);
    expect(() => renderPatroniYml(nodeOptions({ node: 4 }))).toThrow(/patroni node: 4 is invalid: a node number from 1 to 3/);
    expect(() => renderPatroniYml(nodeOptions({ stanza: "a b" }))).toThrow(/pgBackRest stanza: "a b" is invalid/);
    expect(() => renderPatroniYml(nodeOptions({ replicaLagBoundBytes: 0 }))).toThrow(/replica lag bound: 0 is invalid/);
    expect(() => renderPatroniYml(nodeOptions({ pgHba: ["all all trust\nlocal all all trust"] }))).toThrow(/pg_hba line/);
  });

  it("keeps a password with YAML's special characters intact", () => {
    const tricky = "a:b#c-{d}[e]&*!|>%@`:-?";
    expect(patroni({ passwords: { ...passwords, superuser: tricky } }).postgresql.authentication.superuser.password).toBe(tricky);
  });
});

describe("renderHaproxyCfg", () => {
  const cfg = renderHaproxyCfg({ members, replicaLagBoundBytes: 2 * 1024 * 1024 });
  const section = (name: string) => cfg.split("\n\n").find((s) => s.startsWith(name)) ?? "";

  it("sends the write port to Patroni's primary and the read port to replicas within the lag bound", () => {
    expect(section("listen write")).toMatch(/bind :5000\n/);
    expect(section("listen write")).toMatch(/http-check send meth GET uri \/primary\n/);
    expect(section("listen read")).toMatch(/bind :5001\n/);
    expect(section("listen read")).toMatch(/http-check send meth GET uri \/replica\?lag=2097152\n/);
    for (const s of ["listen write", "listen read"]) {
      expect(section(s).match(/^ {4}server .*$/gm)).toEqual([
        "    server node-1 kryonix-prod-postgres-1:5432",
        "    server node-2 kryonix-prod-postgres-2:5432",
        "    server node-3 kryonix-prod-postgres-3:5432",
      ]);
    }
  });

  it("checks Patroni's port, follows Docker's DNS and cuts a node's sessions when it is marked down", () => {
    expect(section("resolvers docker")).toMatch(/nameserver dns 127\.0\.0\.11:53/);
    const defaults = section("defaults");
    expect(defaults).toMatch(/default-server .*init-addr last,libc,none/);
    expect(defaults).toMatch(/default-server .*resolvers docker/);
    expect(defaults).toMatch(/default-server .*check port 8008/);
    expect(defaults).toMatch(/default-server .*on-marked-down shutdown-sessions/);
    expect(section("frontend monitor")).toMatch(/bind 127\.0\.0\.1:8404/);
    expect(section("# Generated")).toMatch(/hard-stop-after 5s/);
  });

  it("refuses a lag bound of 0", () => {
    expect(() => renderHaproxyCfg({ members, replicaLagBoundBytes: 0 })).toThrow(/replica lag bound: 0 is invalid/);
  });
});

describe("renderEtcdYml", () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const etcd = (member: number) => load(renderEtcdYml({ members, member })) as any;

  it("advertises member N by its container name and lists every member's peer URL", () => {
    const c = etcd(3);
    expect(c.name).toBe("etcd-3");
    expect(c["initial-advertise-peer-urls"]).toBe("http://kryonix-prod-etcd-3:2380");
    expect(c["advertise-client-urls"]).toBe("http://kryonix-prod-etcd-3:2379");
    expect(c["initial-cluster"]).toBe("etcd-1=http://kryonix-prod-etcd-1:2380,etcd-2=http://kryonix-prod-etcd-2:2380,etcd-3=http://kryonix-prod-etcd-3:2380");
    expect(c["initial-cluster-token"]).toBe("kryonix-prod");
    expect(c["initial-cluster-state"]).toBe("new");
  });

  it("serves v3 only and compacts its history", () => {
    const c = etcd(1);
    expect(c["enable-v2"]).toBe(false);
    expect(c["auto-compaction-mode"]).toBe("periodic");
    expect(c["auto-compaction-retention"]).toBe("1h");
    expect(c["data-dir"]).toBe("/var/lib/etcd/data");
  });

  it("refuses a member number outside the membership", () => {
    expect(() => renderEtcdYml({ members, member: 0 })).toThrow(/etcd member: 0 is invalid: a member number from 1 to 3/);
  });
});

describe("buildOrder", () => {
  it("builds the postgres image before patroni, which is built FROM it, and each image once", () => {
    expect(buildOrder(["patroni", "etcd"])).toEqual(["postgres", "patroni", "etcd"]);
    expect(buildOrder(["etcd", "postgres", "patroni", "haproxy"])).toEqual(["etcd", "postgres", "patroni", "haproxy"]);
    expect(buildOrder(ALL_IMAGES).filter((s) => s === "postgres")).toHaveLength(1);
    expect(buildOrder(ALL_IMAGES).indexOf("postgres")).toBeLessThan(buildOrder(ALL_IMAGES).indexOf("patroni"));
  });
});

describe("renderPatroniYml: the stack's node", () => {
  it("applies local parameters (TLS, tuning) on every start, but never node-local ones", () => {
    const c = patroni({ localParameters: { ssl: "on", ssl_cert_file: "/etc/kryonix/tls/server.crt", work_mem: "8MB", listen_addresses: "*", port: "6000" } });
    expect(c.postgresql.parameters).toEqual({ ssl: "on", ssl_cert_file: "/etc/kryonix/tls/server.crt", work_mem: "8MB", unix_socket_directories: "/run/postgresql" });
  });

  it("has Patroni reach its own server over the Unix socket (every TCP client must use TLS)", () => {
    expect(patroni().postgresql.use_unix_socket).toBe(true);
  });
});

describe("the HAProxy monitor", () => {
  it("answers healthy only while the write port has a server up", () => {
    const cfg = renderHaproxyCfg({ members, replicaLagBoundBytes: 1024 });
    expect(cfg).toMatch(/frontend monitor\n(.*\n)*? {4}monitor fail if \{ nbsrv\(write\) lt 1 \}\n/);
  });
});

describe("clusterOutput", () => {
  const config = { stack: "prod", postgresPort: 25432, postgresReadPort: 25433 };
  it("lists every member with its Docker endpoint for ha, and nothing for single", () => {
    const out = clusterOutput({ ...config, topology: "ha" }, clusterMembers("prod"), "unix:///var/run/docker.sock");
    expect(out.topology).toBe("ha");
    expect(out.nodes).toEqual([1, 2, 3].map((n) => ({ name: `node-${n}`, container: `kryonix-prod-postgres-${n}`, host: "unix:///var/run/docker.sock" })));
    expect(out.etcd.map((m) => m.container)).toEqual(["kryonix-prod-etcd-1", "kryonix-prod-etcd-2", "kryonix-prod-etcd-3"]);
    expect(out.haproxy).toEqual({ container: "kryonix-prod-haproxy", host: "unix:///var/run/docker.sock", writePort: 25432, readPort: 25433 });
    expect(clusterOutput({ ...config, topology: "single" }, undefined, "unix:///var/run/docker.sock")).toEqual({ topology: "single", scope: "prod", nodes: [], etcd: [] });
  });
});

describe("topologyChangeProblem", () => {
  it("refuses ha over a single server's data and single over a cluster's, naming the key and the volume", () => {
    expect(topologyChangeProblem("dev", "ha", { singleVolume: true, clusterVolume: false })).toMatch(/^kryonix:topology ha: .*kryonix-dev-postgres,.*not supported yet/);
    expect(topologyChangeProblem("dev", "single", { singleVolume: false, clusterVolume: true })).toMatch(/^kryonix:topology single: .*kryonix-dev-postgres-1,/);
  });

  it("lets each topology go on over its own data or none", () => {
    expect(topologyChangeProblem("dev", "ha", { singleVolume: false, clusterVolume: true })).toBeUndefined();
    expect(topologyChangeProblem("dev", "single", { singleVolume: true, clusterVolume: false })).toBeUndefined();
    expect(topologyChangeProblem("dev", "ha", { singleVolume: false, clusterVolume: false })).toBeUndefined();
  });
});

describe("dynamicConfigPatch", () => {
  const desired = { synchronous_mode: true, maximum_lag_on_failover: 1048576, postgresql: { parameters: { max_connections: "120", work_mem: "8MB" } } };
  it("is undefined when the DCS holds the same values (numbers read back as numbers included)", () => {
    expect(dynamicConfigPatch(desired, { synchronous_mode: true, maximum_lag_on_failover: 1048576, postgresql: { parameters: { max_connections: 120, work_mem: "8MB", other: "x" } } })).toBeUndefined();
  });
  it("sets what differs, and removes (null) a parameter the stack set before and no longer does", () => {
    expect(dynamicConfigPatch(desired, { synchronous_mode: false, maximum_lag_on_failover: 1048576, postgresql: { parameters: { max_connections: "100", work_mem: "8MB", jit: "off" } } }, ["jit", "work_mem"])).toEqual({
      synchronous_mode: true,
      postgresql: { parameters: { max_connections: "120", jit: null } },
    });
  });
});
