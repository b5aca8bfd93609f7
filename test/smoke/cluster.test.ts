/**
 * The high-availability cluster's building blocks, for real: three etcd members, three PostgreSQL
 * nodes under Patroni and HAProxy, started with plain docker from the cluster images
 * (images/etcd, images/patroni, images/haproxy) and the files render/etcd.ts, render/patroni.ts and
 * render/haproxy.ts write for the members model/cluster.ts names. Each file is copied into a
 * created-not-started container (Patroni's, which holds the passwords, root-only 0600); no secret
 * is in an environment variable or on a command line. No pgBackRest repository: replicas fall back
 * from pgbackrest to basebackup, which this test also proves.
 *
 * Asserted: one leader and two streaming replicas (Patroni's `GET /cluster`), one of them the
 * synchronous standby; a write through HAProxy's write port is read through the read port on a
 * replica; `docker stop` of the leader elects another node and the write port takes a write again
 * within a deadline, with every acknowledged row still there; the old leader rejoins as a replica.
 * The operator commands' operations (ops/cluster.ts) run on these members as a stack's `cluster`
 * output would name them: the status's JSON before and after the stop, and a switchover to the
 * synchronous standby while the fault tests' writer (test/support/ha-writer.ts) writes, as it does
 * through the stop too: the time to the first write acknowledged by the new leader, and 0 lost.
 * Every name is prefixed kryonix-ctest-<random>, on a network of its own; the host connects only
 * through ports published on 127.0.0.1.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLUSTER_IMAGES, DEFAULT_REPLICA_LAG_BOUND, HAPROXY_READ_PORT, HAPROXY_WRITE_PORT, PATRONI_REST_PORT, clusterMembers, type ClusterNode } from "../../model/cluster";
import { ETCD_CONFIG_FILE, renderEtcdYml } from "../../render/etcd";
import { HAPROXY_CONFIG_FILE, renderHaproxyCfg } from "../../render/haproxy";
import { PATRONI_CONFIG_FILE, renderPatroniYml, type PatroniPasswords } from "../../render/patroni";
import { buildImages } from "../../scripts/images";
import { dockerLeftovers, freePort, removeDockerObjects, sh, shAsync, waitFor } from "../support/process";
import { dockerOk, uploadFiles, waitHealthy } from "../support/docker";
import { lostAcked, startWriter, type Writer, type WriterResult } from "../support/ha-writer";
import { statusJson, type ClusterOutput } from "../../model/cluster-status";
import { readClusterStatus, switchover } from "../../ops/cluster";
import { ScriptError } from "../../ops/cli";

const STACK = `ctest-${randomBytes(3).toString("hex")}`;
const PREFIX = `kryonix-${STACK}`;
const NETWORK = `${PREFIX}-net`;
const members = clusterMembers(STACK);
const passwords: PatroniPasswords = {
  superuser: randomBytes(18).toString("hex"),
  replication: randomBytes(18).toString("hex"),
  rewind: randomBytes(18).toString("hex"),
  restApi: randomBytes(18).toString("hex"),
};
/** A small node: three of them share this machine with whatever else runs. */
const PARAMETERS = { max_connections: "50", shared_buffers: "64MB", shared_preload_libraries: "pg_stat_statements,pgaudit", log_connections: "on" };
const PG_HBA = ["host all all samenet scram-sha-256"];

/** The members as the stack's `cluster` output names them, all on this machine's engine. */
const DOCKER_ENDPOINT = process.env.DOCKER_HOST || "unix:///var/run/docker.sock";
const cluster: ClusterOutput = {
  topology: "ha",
  scope: members.scope,
  nodes: members.nodes.map((n) => ({ name: n.name, container: n.container, host: DOCKER_ENDPOINT })),
  etcd: members.etcd.map((m) => ({ name: m.name, container: m.container, host: DOCKER_ENDPOINT })),
  haproxy: { container: members.haproxy, host: DOCKER_ENDPOINT, writePort: 0, readPort: 0 },
};
/** The fault writer's table, and the next id a writer on it starts with. */
const WRITES = "ha_writes";
let nextWriterId = 1;

let work = "";
let tags: Record<string, string> = {};
let writePort = 0;
let readPort = 0;
const t0 = Date.now();
const say = (s: string) => process.stdout.write(`[cluster ${((Date.now() - t0) / 1000).toFixed(1)} s] ${s}\n`);

interface Member {
  name: string;
  role: string;
  state: string;
  timeline?: number;
  lag?: number | string;
}

/** Patroni's view of the cluster, asked of a node's REST API from inside its container. */
function clusterView(node: ClusterNode): Member[] | undefined {
  const r = sh("docker", ["exec", node.container, "curl", "-fsS", "--max-time", "3", `http://127.0.0.1:${PATRONI_REST_PORT}/cluster`]);
  if (r.code !== 0) return undefined;
  try {
    return (JSON.parse(r.stdout) as { members: Member[] }).members;
  } catch {
    return undefined;
  }
}

const show = (view: Member[] | undefined) => (view ? view.map((m) => `${m.name}:${m.role}/${m.state}`).join(" ") : "no answer");

/** The first answer of any running node in `nodes`. */
function anyView(nodes: readonly ClusterNode[]): Member[] | undefined {
  for (const n of nodes) {
    const v = clusterView(n);
    if (v) return v;
  }
  return undefined;
}

/** One leader running and `replicas` streaming replicas, one of them sync_standby; returns the view. */
async function waitForShape(nodes: readonly ClusterNode[], replicas: number, deadlineMs: number, notLeader?: string): Promise<Member[]> {
  let last: Member[] | undefined;
  try {
    await waitFor(`one leader and ${replicas} streaming replicas`, deadlineMs, () => {
      last = anyView(nodes);
      if (!last) return false;
      const leaders = last.filter((m) => m.role === "leader" && m.state === "running");
      const streaming = last.filter((m) => (m.role === "replica" || m.role === "sync_standby") && m.state === "streaming");
      const sync = last.filter((m) => m.role === "sync_standby");
      return leaders.length === 1 && leaders[0].name !== notLeader && streaming.length === replicas && sync.length === 1;
    });
  } catch (err) {
    const logs = members.nodes.map((n) => `--- ${n.container}\n${sh("docker", ["logs", "--tail", "30", n.container]).out}`).join("\n");
    throw new Error(`${(err as Error).message}; last seen: ${show(last)}\n${logs}`);
  }
  return last!;
}

async function withClient<T>(port: number, run: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: "127.0.0.1", port, user: "postgres", password: passwords.superuser, database: "postgres", ssl: false, connectionTimeoutMillis: 3000, statement_timeout: 5000, query_timeout: 6000 });
  // HAProxy cuts a dead leader's sessions: an error on an idle client must not crash the run.
  client.on("error", () => {});
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Container `name` created with `args`, `files` uploaded (root-only when `mode` says so), not started. */
function create(name: string, args: string[], files: { file: string; content: string }[], mode?: string): void {
  dockerOk(["create", "--name", name, "--hostname", name, "--network", NETWORK, "--label", "org.kryonix.test=cluster", ...args]);
  uploadFiles(name, files, work, mode);
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "kryonix-ctest-"));
  tags = await buildImages({ log: (s) => say(s), services: CLUSTER_IMAGES });
  say(`images ready: ${JSON.stringify(tags)}`);
  dockerOk(["network", "create", "--label", "org.kryonix.test=cluster", NETWORK]);

  members.etcd.forEach((m, i) => {
    create(m.container, ["-v", `${m.volume}:/var/lib/etcd`, tags.etcd], [{ file: ETCD_CONFIG_FILE, content: renderEtcdYml({ members, member: i + 1 }) }]);
  });
  // Every member resolves the others' names at start: started together, as the stack will.
  for (const m of members.etcd) dockerOk(["start", m.container]);
  await Promise.all(members.etcd.map((m) => waitHealthy(m.container, 60_000)));
  say("etcd: 3 members healthy");

  members.nodes.forEach((n, i) => {
    const yml = renderPatroniYml({ members, node: i + 1, parameters: PARAMETERS, pgHba: PG_HBA, passwords, stanza: "kryonix", synchronousMode: true, replicaLagBoundBytes: DEFAULT_REPLICA_LAG_BOUND });
    create(n.container, ["--stop-timeout", "60", "-v", `${n.volume}:/var/lib/postgresql/data`, tags.patroni], [{ file: PATRONI_CONFIG_FILE, content: yml }], "0600");
  });
  // All three at once: one wins the initialize key and runs initdb, the others clone from it.
  for (const n of members.nodes) dockerOk(["start", n.container]);
  const view = await waitForShape(members.nodes, 2, 120_000);
  say(`patroni: ${show(view)}`);

  writePort = await freePort();
  readPort = await freePort();
  create(
    members.haproxy,
    ["-p", `127.0.0.1:${writePort}:${HAPROXY_WRITE_PORT}`, "-p", `127.0.0.1:${readPort}:${HAPROXY_READ_PORT}`, tags.haproxy],
    [{ file: HAPROXY_CONFIG_FILE, content: renderHaproxyCfg({ members, replicaLagBoundBytes: DEFAULT_REPLICA_LAG_BOUND }) }],
  );
  dockerOk(["start", members.haproxy]);
  await waitHealthy(members.haproxy, 30_000);
  await waitFor("HAProxy's write port reaching the leader", 30_000, () => withClient(writePort, async () => true).catch(() => false));
  say(`haproxy: write port 127.0.0.1:${writePort}, read port 127.0.0.1:${readPort}`);
  cluster.haproxy!.writePort = writePort;
  cluster.haproxy!.readPort = readPort;
});

/** The fault writer through the write port, once it has `warmup` acknowledged writes. */
async function writer(warmup = 20): Promise<Writer> {
  const w = await startWriter({
    connection: { host: "127.0.0.1", port: writePort, user: "postgres", password: passwords.superuser, ssl: false },
    table: WRITES,
    create: nextWriterId === 1,
    firstId: nextWriterId,
  });
  await waitFor(`${warmup} writes acknowledged`, 30_000, () => w.record.acked.length >= warmup);
  return w;
}

/** Stops `w`; the acknowledged ids missing on the node behind the write port now. */
async function stopAndCheck(w: Writer): Promise<{ result: WriterResult; lost: number[] }> {
  const result = await w.stop();
  nextWriterId = result.nextId;
  // Every acknowledgement is in: the snapshot is taken after the writer stopped, before the SELECT.
  const acked = result.acked.map((a) => a.id);
  return { result, lost: lostAcked(acked, await onLeader((c) => c.query<{ id: string }>(`SELECT id FROM ${WRITES} WHERE id = ANY($1::bigint[])`, [acked]).then((r) => r.rows.map((row) => row.id)))) };
}

/**
 * `run` on the leader through the write port, retried until the deadline: for a second or two
 * after a switchover HAProxy still counts the old leader up (two failed checks 500 ms apart) and
 * may hand it a new connection while it shuts down ("the database system is shutting down").
 */
async function onLeader<T>(run: (c: pg.Client) => Promise<T>, deadlineMs = 30_000): Promise<T> {
  let result: { value: T } | undefined;
  let lastError = "";
  await waitFor("the leader through the write port", deadlineMs, () =>
    withClient(writePort, async (c) => {
      if ((await c.query("SELECT pg_is_in_recovery() AS standby")).rows[0].standby) return false;
      result = { value: await run(c) };
      return true;
    }).catch((e: Error) => ((lastError = e.message), false)),
  ).catch((e: Error) => {
    throw new Error(`${e.message}; last error: ${lastError}`);
  });
  return result!.value;
}

afterAll(() => {
  removeDockerObjects(PREFIX);
  if (work) rmSync(work, { recursive: true, force: true });
  const left = dockerLeftovers(PREFIX);
  if (left.length) throw new Error(`left behind: ${left.join(", ")}`);
});

describe("cluster", () => {
  /** Ids whose INSERT's COMMIT returned through the write port. */
  const acked: number[] = [];
  let nextId = 1;
  // A fresh id per attempt: an INSERT whose COMMIT was lost in flight may have committed anyway.
  const insert = (c: pg.Client) => {
    const id = nextId++;
    return c.query("INSERT INTO ctest (id) VALUES ($1)", [id]).then(() => {
      acked.push(id);
    });
  };

  it("runs one leader and two streaming replicas, one of them the synchronous standby", async () => {
    const view = anyView(members.nodes);
    expect(view?.filter((m) => m.role === "leader").length, show(view)).toBe(1);
    expect(view?.filter((m) => m.role === "sync_standby" && m.state === "streaming").length, show(view)).toBe(1);
    expect(view?.filter((m) => m.role === "replica" && m.state === "streaming").length, show(view)).toBe(1);
    const leader = view!.find((m) => m.role === "leader")!;
    const sync = await withClient(writePort, (c) => c.query("SELECT application_name, sync_state FROM pg_stat_replication ORDER BY application_name"));
    expect(sync.rows.filter((r) => r.sync_state === "sync").map((r) => r.application_name), JSON.stringify(sync.rows)).toEqual([view!.find((m) => m.role === "sync_standby")!.name]);
    // The write port leads to the leader Patroni names.
    const where = await withClient(writePort, (c) => c.query("SELECT pg_is_in_recovery() AS standby, current_setting('cluster_name') AS scope"));
    expect(where.rows[0].standby).toBe(false);
    expect(where.rows[0].scope).toBe(members.scope);
    expect(leader.name).toMatch(/^node-[123]$/);
  });

  it("cluster:status's operation names every node with its role, state, timeline and lag (the JSON contract)", async () => {
    const status = await readClusterStatus(cluster);
    expect(status.problems).toEqual([]);
    const json = JSON.parse(statusJson(status)) as { members: Record<string, unknown>[] };
    expect(Object.keys(json)).toEqual(["members"]);
    expect(json.members.map((m) => Object.keys(m))).toEqual(members.nodes.map(() => ["name", "container", "host", "role", "state", "timeline", "lagBytes"]));
    expect(json.members.map((m) => [m.name, m.container, m.host])).toEqual(members.nodes.map((n) => [n.name, n.container, DOCKER_ENDPOINT]));
    const view = anyView(members.nodes)!;
    for (const m of json.members) {
      const p = view.find((v) => v.name === m.name)!;
      expect(m.role, m.name as string).toBe(p.role);
      expect(m.state, m.name as string).toBe(p.state);
      expect(m.timeline).toBe(1);
      expect(m.lagBytes, m.name as string).toEqual(m.role === "leader" ? 0 : expect.any(Number));
    }
    expect(json.members.filter((m) => m.role === "leader").map((m) => m.state)).toEqual(["running"]);
    expect(json.members.filter((m) => m.role === "sync_standby").map((m) => m.state)).toEqual(["streaming"]);
  });

  it("serves on the read port, from a replica, what was written through the write port", async () => {
    await withClient(writePort, async (c) => {
      await c.query("CREATE TABLE ctest (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())");
      for (let i = 0; i < 50; i++) await insert(c);
    });
    let seen = "";
    await waitFor("the rows on a replica through the read port", 30_000, () =>
      withClient(readPort, async (c) => {
        const r = await c.query("SELECT pg_is_in_recovery() AS standby, count(*)::int AS n FROM ctest");
        seen = JSON.stringify(r.rows[0]);
        return r.rows[0].standby === true && r.rows[0].n === acked.length;
      }).catch((e) => ((seen = String(e)), false)),
    ).catch((e) => {
      throw new Error(`${(e as Error).message}; last seen: ${seen}`);
    });
  });

  it("elects a new leader after docker stop of the leader, and loses no acknowledged write", async () => {
    const before = anyView(members.nodes)!;
    const oldLeaderName = before.find((m) => m.role === "leader")!.name;
    const oldLeader = members.nodes.find((n) => n.name === oldLeaderName)!;
    const others = members.nodes.filter((n) => n !== oldLeader);
    const oldAddress = dockerOk(["inspect", "-f", `{{(index .NetworkSettings.Networks "${NETWORK}").IPAddress}}`, oldLeader.container]);
    const w = await writer();
    // Writes go on while the leader shuts down: the ones it acknowledges must survive too.
    const stopAt = Date.now();
    const stopping = shAsync("docker", ["stop", oldLeader.container], { timeoutMs: 90_000 }).then((r) => ({ ...r, ms: Date.now() - stopAt }));
    const first = await w.waitForAckAfter(stopAt, 60_000, oldAddress).catch((e: Error) => {
      throw new Error(`${e.message}; cluster: ${show(anyView(others))}`);
    });
    const stopped = await stopping;
    expect(stopped.code, stopped.out).toBe(0);
    const { result, lost } = await stopAndCheck(w);
    const firstError = result.errors.find((e) => e.at > stopAt);
    say(
      `docker stop ${oldLeader.container} (${oldAddress}) took ${(stopped.ms / 1000).toFixed(1)} s; first write acknowledged by ${first.server} ` +
        `${((first.at - stopAt) / 1000).toFixed(1)} s after the stop began (longest gap between acks ${(w.longestGap(stopAt, first.at) / 1000).toFixed(1)} s, ` +
        `first error ${firstError ? `${((firstError.at - stopAt) / 1000).toFixed(1)} s` : "none"}, ${result.errors.length} errors); ${result.acked.length} acknowledged, ${lost.length} lost`,
    );

    const view = anyView(others);
    const newLeader = view?.find((m) => m.role === "leader");
    expect(newLeader?.name, show(view)).toBeDefined();
    expect(newLeader!.name).not.toBe(oldLeaderName);
    expect(lost, `acknowledged ids missing on ${newLeader!.name}`).toEqual([]);
    expect(result.acked.filter((a) => a.at > stopAt && a.server !== oldAddress).length).toBeGreaterThan(0);
  });

  it("cluster:status's operation shows the stopped node, and why the cluster is degraded", async () => {
    const stopped = members.nodes.find((n) => sh("docker", ["inspect", "-f", "{{.State.Running}}", n.container]).stdout.trim() === "false")!;
    // The remaining replica follows the new leader within seconds: the one problem left is the stopped node.
    let status = await readClusterStatus(cluster);
    await waitFor("the stopped node as the only problem", 30_000, async () => {
      status = await readClusterStatus(cluster);
      return status.problems.length === 1;
    }).catch(() => {});
    const member = status.members.find((m) => m.name === stopped.name)!;
    expect(member.state).toBe("stopped");
    expect(member.lagBytes).toBeNull();
    expect(status.members.filter((m) => m.role === "leader" && m.state === "running").length, JSON.stringify(status.members)).toBe(1);
    expect(status.problems).toEqual([`${stopped.name} is stopped`]);
  });

  it("keeps every password out of docker inspect and the logs, and its file root-only", () => {
    for (const name of [...members.nodes.map((n) => n.container), ...members.etcd.map((m) => m.container), members.haproxy]) {
      const seen = `${sh("docker", ["inspect", name]).out}\n${sh("docker", ["logs", name]).out}`;
      for (const [which, secret] of Object.entries(passwords)) expect(seen.includes(secret), `${which} password in ${name}'s inspect or logs`).toBe(false);
    }
    const node = members.nodes.find((n) => sh("docker", ["inspect", "-f", "{{.State.Running}}", n.container]).stdout.trim() === "true")!;
    expect(dockerOk(["exec", node.container, "stat", "-c", "%U %a", PATRONI_CONFIG_FILE, "/run/postgresql/kryonix/patroni.yml"]).split("\n")).toEqual(["root 600", "postgres 600"]);
  });

  it("takes the old leader back as a streaming replica when it starts again", async () => {
    const view = anyView(members.nodes)!;
    const leader = view.find((m) => m.role === "leader")!.name;
    const stopped = members.nodes.find((n) => sh("docker", ["inspect", "-f", "{{.State.Running}}", n.container]).stdout.trim() === "false")!;
    expect(stopped, "a stopped node").toBeDefined();
    const startAt = Date.now();
    dockerOk(["start", stopped.container]);
    await waitForShape(members.nodes, 2, 60_000, stopped.name);
    say(`${stopped.container} streaming again ${((Date.now() - startAt) / 1000).toFixed(1)} s after docker start (leader ${leader})`);
    const after = anyView(members.nodes)!;
    expect(after.find((m) => m.role === "leader")!.name).toBe(leader);
  });

  it("refuses a switchover to a node that is not a streaming replica, naming --to and the nodes allowed", async () => {
    const status = await readClusterStatus(cluster);
    const leader = status.members.find((m) => m.role === "leader")!;
    for (const to of ["node-9", leader.name, leader.container]) {
      const err = await switchover(cluster, { to }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, to).toBeInstanceOf(ScriptError);
      expect((err as ScriptError).exitCode).toBe(2);
      expect((err as Error).message).toMatch(/^cluster:switchover --to: .* is invalid: .*streaming replica/);
    }
  });

  it("switches over to the synchronous standby with cluster:switchover's operation, losing no acknowledged write", async () => {
    const before = await readClusterStatus(cluster);
    expect(before.problems).toEqual([]);
    const sync = before.members.find((m) => m.role === "sync_standby")!;
    const w = await writer();
    const oldServer = w.record.acked.at(-1)!.server;
    const startAt = Date.now();
    const done = await switchover(cluster, { log: say });
    const first = await w.waitForAckAfter(startAt, 30_000, oldServer);
    const { result, lost } = await stopAndCheck(w);
    say(
      `switchover ${done.from} -> ${done.to}: new leader running after ${done.seconds.toFixed(1)} s; first write acknowledged by ${first.server} ` +
        `${((first.at - startAt) / 1000).toFixed(1)} s after the switchover began (longest gap between acks ${(w.longestGap(startAt, first.at) / 1000).toFixed(1)} s, ` +
        `${result.errors.length} errors); ${result.acked.length} acknowledged, ${lost.length} lost`,
    );
    expect(done.to).toBe(sync.name);
    expect(done.seconds).toBeLessThan(30);
    expect(done.status.members.find((m) => m.name === sync.name)).toMatchObject({ role: "leader", state: "running", lagBytes: 0 });
    expect(lost).toEqual([]);
    const leaderAddress = await onLeader((c) => c.query("SELECT host(inet_server_addr()) AS addr").then((r) => r.rows[0].addr as string));
    expect(leaderAddress).toBe(first.server);
  });
});
