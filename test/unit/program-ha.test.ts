/**
 * The stack program with kryonix:topology ha, under Pulumi's mocks: the resource graph only (the
 * real thing is test/stack/ha.test.ts). Three etcd members, three Patroni nodes and HAProxy; every
 * client of PostgreSQL goes through HAProxy's write port; a topology change over the other
 * topology's data is refused before any resource is declared.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { load } from "js-yaml";
import { CONTAINER, VOLUME, byName, containers, ofType, resolved, runProgram, stackFile, useProgramMocks, type Run } from "../support/program-mocks";

useProgramMocks();

const HA = { ...stackFile("dev"), "kryonix:topology": "ha" };

describe("the stack program, topology ha", () => {
  let ha: Run;
  beforeAll(async () => {
    ha = await runProgram("dev", HA);
  }, 120_000);

  it("runs three etcd members, three Patroni nodes and HAProxy instead of one postgres container", () => {
    expect(ha.error).toBeUndefined();
    const names = containers(ha).map((c) => c.inputs.name).sort();
    expect(names).toEqual(expect.arrayContaining(["kryonix-dev-etcd-1", "kryonix-dev-etcd-2", "kryonix-dev-etcd-3", "kryonix-dev-postgres-1", "kryonix-dev-postgres-2", "kryonix-dev-postgres-3", "kryonix-dev-haproxy"]));
    expect(names).not.toContain("kryonix-dev-postgres");
  });

  it("publishes only HAProxy's write and read ports for PostgreSQL, on 127.0.0.1", () => {
    const haproxy = byName(ha, CONTAINER, "kryonix-dev-haproxy");
    expect(haproxy.inputs.ports).toEqual([
      expect.objectContaining({ internal: 5000, external: 15432, ip: "127.0.0.1" }),
      expect.objectContaining({ internal: 5001, external: 15433, ip: "127.0.0.1" }),
    ]);
    for (const n of [1, 2, 3]) expect(byName(ha, CONTAINER, `kryonix-dev-postgres-${n}`).inputs.ports ?? []).toEqual([]);
  });

  it("keeps the nodes' and etcd's data volumes on delete", () => {
    for (const name of ["kryonix-dev-postgres-1", "kryonix-dev-postgres-2", "kryonix-dev-postgres-3", "kryonix-dev-etcd-1", "kryonix-dev-etcd-2", "kryonix-dev-etcd-3"]) {
      expect(byName(ha, VOLUME, name).retainOnDelete, name).toBe(true);
    }
  });

  it("starts node 1 first (it initialises the cluster), then 2, then 3: a rolling order for replacements too", () => {
    const node = (n: number) => byName(ha, CONTAINER, `kryonix-dev-postgres-${n}`);
    expect(node(1).dependencies).not.toContain(node(2).urn);
    expect(node(2).dependencies).toContain(node(1).urn);
    expect(node(3).dependencies).toContain(node(2).urn);
  });

  it("keeps the DCS's share of the settings with a PatroniConfig after HAProxy", () => {
    const dcs = ha.resources.find((r) => r.type === "pulumi-nodejs:dynamic/kryonix:PatroniConfig")!;
    expect(dcs.inputs.containers).toEqual(["kryonix-dev-postgres-1", "kryonix-dev-postgres-2", "kryonix-dev-postgres-3"]);
    expect(dcs.inputs.config).toMatchObject({ synchronous_mode: true, maximum_lag_on_failover: 1024 * 1024, postgresql: { parameters: expect.objectContaining({ max_connections: "100", wal_level: "replica" }) } });
    expect(dcs.dependencies).toContain(byName(ha, CONTAINER, "kryonix-dev-haproxy").urn);
  });

  it("uploads patroni.yml root-only, as a secret, with the stack's tuning and TLS", async () => {
    const node = byName(ha, CONTAINER, "kryonix-dev-postgres-2");
    const upload = (node.inputs.uploads as { file: string; content: string; permissions: string }[]).find((u) => u.file === "/etc/kryonix/patroni.yml")!;
    expect(upload.permissions).toBe("0400");
    expect(node.secretInputs).toContain("uploads");
    const yml = load(await resolved<string>(upload.content)) as any;
    expect(yml.name).toBe("node-2");
    expect(yml.postgresql.parameters.ssl).toBe("on");
    expect(yml.postgresql.use_unix_socket).toBe(true);
    expect(yml.bootstrap.dcs.synchronous_mode).toBe(true);
    expect(yml.bootstrap.dcs.postgresql.parameters.max_connections).toBeDefined();
  });

  it("sends PgBouncer to HAProxy's write port over TLS, not the shared socket", () => {
    const pgbouncer = byName(ha, CONTAINER, "kryonix-dev-pgbouncer");
    const ini = (pgbouncer.inputs.uploads as { file: string; content: string }[]).find((u) => u.file.endsWith("pgbouncer.ini"))!.content;
    expect(ini).toMatch(/^kryonix_saas = host=kryonix-dev-haproxy port=5000 /m);
    expect(ini).toMatch(/^server_tls_sslmode = verify-full$/m);
    expect(ini).toMatch(/^server_login_retry = 1$/m);
    expect(ini).toMatch(/^server_connect_timeout = 3$/m);
    expect((pgbouncer.inputs.mounts ?? []).map((m: { target: string }) => m.target)).not.toContain("/run/kryonix-pgsocket");
  });

  it("exports the cluster's members for cluster:status", () => {
    const cluster = ha.exports?.cluster as any;
    expect(cluster.topology).toBe("ha");
    expect(cluster.nodes.map((n: { container: string }) => n.container)).toEqual(["kryonix-dev-postgres-1", "kryonix-dev-postgres-2", "kryonix-dev-postgres-3"]);
    expect(cluster.haproxy).toMatchObject({ container: "kryonix-dev-haproxy", writePort: 15432, readPort: 15433 });
  });

  it("has Prometheus scrape every node's Patroni and every etcd member, with the cluster's alerts at the stack's lag bound", async () => {
    const run = await runProgram("dev", { ...HA, "kryonix:replicaLagBound": "4MiB" });
    const prometheus = byName(run, CONTAINER, "kryonix-dev-prometheus");
    const files = Object.fromEntries((prometheus.inputs.uploads as { file: string; content: string }[]).map((u) => [u.file, u.content]));
    const jobs = (load(files["/etc/kryonix/prometheus.yml"]) as any).scrape_configs.map((s: any) => [s.job_name, s.static_configs.flatMap((c: any) => c.targets)]);
    expect(jobs.slice(2)).toEqual([
      ["patroni", ["kryonix-dev-postgres-1:8008", "kryonix-dev-postgres-2:8008", "kryonix-dev-postgres-3:8008"]],
      ["etcd", ["kryonix-dev-etcd-1:2379", "kryonix-dev-etcd-2:2379", "kryonix-dev-etcd-3:2379"]],
    ]);
    expect(files["/etc/kryonix/rules.yml"]).toContain(`kryonix:pg_replica_lag:bytes > ${4 * 1048576}`);
    expect(files["/etc/kryonix/rules.yml"]).toContain("alert: KryonixClusterNoLeader");
    // Nothing new published: Prometheus reaches the members by name on the stack network.
    expect(prometheus.inputs.ports).toHaveLength(1);
  });

  it("refuses ha over a single server's kept data before declaring anything", async () => {
    const refused = await runProgram("dev", HA, [], { apiVersion: "1.41", volumes: ["kryonix-dev-postgres"] });
    expect(String(refused.error)).toMatch(/kryonix:topology ha: the Docker engine holds kryonix-dev-postgres,/);
    expect(ofType(refused, "docker:")).toEqual([]);
  });
});
