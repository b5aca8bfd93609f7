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
    expect((pgbouncer.inputs.mounts ?? []).map((m: { target: string }) => m.target)).not.toContain("/run/kryonix-pgsocket");
  });

  it("exports the cluster's members for cluster:status", () => {
    const cluster = ha.exports?.cluster as any;
    expect(cluster.topology).toBe("ha");
    expect(cluster.nodes.map((n: { container: string }) => n.container)).toEqual(["kryonix-dev-postgres-1", "kryonix-dev-postgres-2", "kryonix-dev-postgres-3"]);
    expect(cluster.haproxy).toMatchObject({ container: "kryonix-dev-haproxy", writePort: 15432, readPort: 15433 });
  });

  it("refuses ha over a single server's kept data before declaring anything", async () => {
    const refused = await runProgram("dev", HA, [], { apiVersion: "1.41", volumes: ["kryonix-dev-postgres"] });
    expect(String(refused.error)).toMatch(/kryonix:topology ha: the Docker engine holds kryonix-dev-postgres,/);
    expect(ofType(refused, "docker:")).toEqual([]);
  });
});
