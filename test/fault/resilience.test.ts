/**
 * Resilience, full form (`npm run test:resilience`; not part of `npm test`), on a stack of its own
 * ("restest", free ports on 127.0.0.1, its own backend and passphrase):
 *
 *   1. `npm run up` from empty;
 *   2. PostgreSQL SIGKILLed 10 times in a row (KRYONIX_KILLS to change) while writers and pgbench
 *      write through PgBouncer: every acknowledged commit is found, Docker's restart policy brings
 *      the server back each time, and the time to healthy is reported;
 *   3. PgBouncer restarted under load: the writers reconnect, nothing acknowledged is lost;
 *   4. a `pulumi up` that replaces the PostgreSQL container (a changed postgresql.conf): a new
 *      container on the same volume, every row still there;
 *   5. `npm run destroy -- --including-data`.
 *
 * The figures go to the terminal and to .artifacts/resilience.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../toolchain/versions";
import { dockerLeftovers, sh } from "../support/process";
import { countPresent, killLoop, prepare, restartPgbouncer, targetFromOutputs, Writers, type Target } from "../support/resilience";
import { openTestStack, testStackName, type TestStack } from "../support/stack";

const STACK = testStackName("restest");
const PREFIX = `kryonix-${STACK}-`;
const KILLS = Number(process.env.KRYONIX_KILLS ?? 10);

let t: TestStack;
let target: Target;
const figures: Record<string, unknown> = {};
const say = (line: string) => process.stdout.write(`[resilience] ${line}\n`);

beforeAll(async () => {
  t = await openTestStack(STACK, "resilience");
});

afterAll(() => {
  mkdirSync(path.join(repoRoot, ".artifacts"), { recursive: true });
  writeFileSync(path.join(repoRoot, ".artifacts", "resilience.json"), `${JSON.stringify({ at: new Date().toISOString(), ...figures }, null, 2)}\n`);
  t?.dispose();
});

describe.sequential("resilience, full form", () => {
  it("1. comes up", async () => {
    const up = await t.timed("npm run up (from empty)", () => t.npm("up"));
    expect(up.code, up.out).toBe(0);
    const o = await t.outputs();
    target = targetFromOutputs(STACK, o);
  });

  it(`2. ${KILLS} SIGKILLs of PostgreSQL under load: every acknowledged commit is there`, async () => {
    const report = await t.timed(`${KILLS} x SIGKILL under load`, () => killLoop(target, KILLS, say));
    const sorted = [...report.healthySeconds].sort((a, b) => a - b);
    figures.kills = { ...report, healthyMedianSeconds: sorted[Math.floor(sorted.length / 2)], healthyMaxSeconds: sorted[sorted.length - 1] };
    say(`kills: ${report.kills}, acknowledged ${report.acknowledged}, found ${report.found}; pgbench processed ${report.pgbenchProcessed}, rows ${report.pgbenchRows}; time to healthy median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)} s, max ${sorted[sorted.length - 1]?.toFixed(1)} s`);
    expect(report.found).toBe(report.acknowledged);
    expect(report.pgbenchRows).toBeGreaterThanOrEqual(report.pgbenchProcessed);
    expect(report.healthySeconds).toHaveLength(KILLS);
  });

  it("3. PgBouncer restarted under load: clients reconnect, nothing acknowledged is lost", async () => {
    const r = await t.timed("PgBouncer restart under load", () => restartPgbouncer(target));
    figures.pgbouncerRestart = r;
    say(`pgbouncer restart: ${JSON.stringify(r)}`);
    expect(r.found).toBe(r.acknowledged);
  });

  it("4. the data volume survives a `pulumi up` that replaces the PostgreSQL container", async () => {
    await prepare(target);
    const writers = new Writers(target, 2);
    writers.start();
    await writers.progress(100, 120_000);
    await writers.stop();
    const before = sh("docker", ["inspect", "-f", "{{.Id}}", target.postgresContainer]).stdout.trim();
    await t.stack.setConfig("kryonix:postgresOverrides", { value: JSON.stringify({ work_mem: "8MB" }) });
    const up = await t.timed("npm run up (replaces postgres)", () => t.npm("up"));
    expect(up.code, up.out).toBe(0);
    const after = sh("docker", ["inspect", "-f", "{{.Id}}", target.postgresContainer]).stdout.trim();
    expect(after).not.toBe(before);
    const found = await countPresent(target, writers.acked);
    figures.replacement = { acknowledged: writers.acked.length, found };
    say(`container replaced (${before.slice(0, 12)} -> ${after.slice(0, 12)}): ${found} of ${writers.acked.length} rows`);
    expect(found).toBe(writers.acked.length);
  });

  it("5. `npm run destroy -- --including-data` leaves nothing", async () => {
    const down = await t.timed("npm run destroy --including-data", () => t.npm("destroy", "--including-data"));
    expect(down.code, down.out).toBe(0);
    expect(dockerLeftovers(PREFIX)).toEqual([]);
  });
});
