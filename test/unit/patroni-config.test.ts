import { describe, expect, it } from "vitest";
import type { CliOutcome } from "../../io/docker-cli";
import { makePatroniConfigProvider, patroniConfigInputProblems, type PatroniConfigInputs } from "../../providers/patroni-config";

const inputs = (over: Partial<PatroniConfigInputs["config"]> = {}): PatroniConfigInputs => ({
  containers: ["kryonix-dev-postgres-1", "kryonix-dev-postgres-2"],
  scope: "dev",
  config: { synchronous_mode: true, maximum_lag_on_failover: 1048576, postgresql: { parameters: { max_connections: "120", work_mem: "8MB" } }, ...over },
});

/** A cluster behind `docker exec`: node 1 is down; the DCS and the members' pending flags are state. */
function fakeCluster(dcs: Record<string, unknown>, postmaster: string[] = ["max_connections"]) {
  const calls: string[] = [];
  const patches: unknown[] = [];
  let pending = 0;
  let restarts = 0;
  const ok = (out: string): CliOutcome => ({ code: 0, out });
  const docker = (args: string[], input?: string): CliOutcome => {
    const container = args.find((a) => a.startsWith("kryonix-"))!;
    calls.push(`${container} ${args.slice(args.indexOf(container) + 1).join(" ")}`);
    if (container.endsWith("-1")) return { code: 1, out: "", stderr: "Error response from daemon: container is not running" };
    const line = args.join(" ");
    if (line.includes("/config")) return ok(JSON.stringify(dcs));
    if (line.includes("edit-config")) {
      const patch = JSON.parse(input!) as { postgresql?: { parameters?: Record<string, unknown> } };
      patches.push(patch);
      Object.assign((dcs.postgresql as { parameters: Record<string, unknown> }).parameters, patch.postgresql?.parameters ?? {});
      if (Object.keys(patch.postgresql?.parameters ?? {}).some((k) => postmaster.includes(k))) pending = 2;
      return ok("");
    }
    if (line.includes("pg_settings")) return ok(postmaster.filter((p) => line.includes(`'${p}'`)).join("\n"));
    if (line.includes(" list ")) {
      return ok(JSON.stringify([0, 1].map((i) => ({ Member: `node-${i + 2}`, State: i ? "streaming" : "running", ...(i < pending ? { "Pending restart": "*" } : {}) }))));
    }
    if (line.includes(" restart ")) {
      restarts++;
      pending = 0;
      return ok("");
    }
    return { code: 2, out: "", stderr: `unexpected ${line}` };
  };
  return { docker, calls, patches, restarts: () => restarts };
}

const waits = { pendingMs: 10, pollMs: 1, settleMs: 1, pause: async () => undefined };

describe("PatroniConfig", () => {
  it("patches only what differs, in the first node that answers, and restarts the nodes once for max_connections", async () => {
    const c = fakeCluster({ synchronous_mode: true, maximum_lag_on_failover: 1048576, postgresql: { parameters: { max_connections: 100, work_mem: "8MB" } } });
    const out = await makePatroniConfigProvider(c.docker, waits).create!(inputs());
    expect(c.patches).toEqual([{ postgresql: { parameters: { max_connections: "120" } } }]);
    expect(out.outs.restartedFor).toEqual(["max_connections"]);
    expect(c.restarts()).toBe(1);
    expect(c.calls[0]).toMatch(/^kryonix-dev-postgres-1 /);
    expect(c.calls.some((l) => /^kryonix-dev-postgres-2 patronictl -c \/run\/postgresql\/kryonix\/patroni.yml edit-config --force --quiet --apply - dev$/.test(l))).toBe(true);
  });

  it("changes nothing and restarts nothing when the DCS already agrees", async () => {
    const c = fakeCluster({ synchronous_mode: true, maximum_lag_on_failover: "1048576", postgresql: { parameters: { max_connections: "120", work_mem: "8MB" } } });
    await makePatroniConfigProvider(c.docker, waits).create!(inputs());
    expect(c.patches).toEqual([]);
    expect(c.restarts()).toBe(0);
  });

  it("reads the DCS back on refresh, so a change by hand is drift", async () => {
    const c = fakeCluster({ synchronous_mode: false, maximum_lag_on_failover: 1048576, postgresql: { parameters: { max_connections: "120", work_mem: "16MB" } } });
    const read = await makePatroniConfigProvider(c.docker, waits).read!("patroni/dev", { ...inputs(), restartedFor: [] });
    expect(read.props.config).toEqual({ synchronous_mode: false, maximum_lag_on_failover: 1048576, postgresql: { parameters: { max_connections: "120", work_mem: "16MB" } } });
  });

  it("refuses inputs that cannot work, naming them", () => {
    expect(patroniConfigInputProblems({ containers: [], scope: "dev", config: inputs().config }).map((f) => f.property)).toEqual(["containers"]);
    expect(patroniConfigInputProblems({ ...inputs(), config: { synchronous_mode: "yes" } as never }).map((f) => f.property)).toEqual(["config"]);
  });
});
