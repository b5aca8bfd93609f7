/**
 * `npm run test:drift`: drift detection and repair, and the policy pack, for real, on a protected
 * stack of its own ("drifttest": containers kryonix-drifttest-*, ports picked free on 127.0.0.1, its
 * own file backend and passphrase, kryonix:protectData true like prod). Each step prints how long it
 * took:
 *  1. `npm run up` from empty, with the policy pack (it passes);
 *  2. `npm run drift` is clean; one setting changed with ALTER SYSTEM alone is drift (exit 1, the
 *     setting and DatabaseRepair's change named); undone by hand, drift is clean again;
 *  3. a state in which the run would delete a data volume: `npm run preview` fails on
 *     stateful-resources-kept; KRYONIX_POLICY_ALLOW lets it pass; the state put back;
 *  4. drift applied by hand, all at once (one up cycle for all): a revoked grant on
 *     metabase_readonly, CREATEDB and SUPERUSER given to roles, an index of sql/ dropped, ALTER
 *     SYSTEM, a container stopped, an unmanaged table, an applied migration file edited; `npm run
 *     drift` reports each one, exit 1;
 *  5. `npm run up` refuses while the migration file is edited and says so; the file restored, `npm
 *     run up` repairs everything it can; `npm run drift` reports only the unmanaged table, as not
 *     repaired by up; dropped by hand, drift is clean;
 *  6. unprotected and destroyed with its data: nothing named kryonix-drifttest-* is left.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../toolchain/versions";
import { dockerLeftovers, sh } from "../support/process";
import { asSuperuser, openTestStack, testStackName, type TestStack } from "../support/stack";

const STACK = testStackName("drifttest");
const PREFIX = `kryonix-${STACK}-`;
// The migration is edited in a copy of sql/ that only this file's stack reads (KRYONIX_SQL_DIR, set
// before the stack's environment is made): the stack test files beside this one run `npm run up`
// in the same clone, and must never see the edit.
const SQL_COPY = mkdtempSync(path.join(os.tmpdir(), "kryonix-drift-sql-"));
cpSync(path.join(repoRoot, "sql"), SQL_COPY, { recursive: true });
process.env.KRYONIX_SQL_DIR = SQL_COPY;
const EDITED = path.join(SQL_COPY, "003_indexes.sql");
const original = readFileSync(EDITED, "utf8");

let t: TestStack;
const timed = <T>(step: string, fn: () => Promise<T> | T) => t.timed(step, fn);

async function psql(...statements: string[]): Promise<void> {
  // One at a time, outside a transaction: ALTER SYSTEM refuses to run in one.
  await asSuperuser(await t.outputs(), async (c) => {
    for (const s of statements) await c.query(s);
  });
}

interface DriftJson {
  exitCode: number;
  findings: { kind: string; subject: string; detail: string; repair: string; action: string; changes?: { property: string; old: unknown; new: unknown }[] }[];
  errors: string[];
  durationSeconds: number;
}
function drift(step: string): Promise<{ code: number; report: DriftJson; out: string }> {
  return timed(step, () => {
    const r = t.npm("drift", "--json");
    let report: DriftJson;
    try {
      report = JSON.parse(r.stdout);
    } catch {
      throw new Error(`npm run drift printed no JSON (exit ${r.code}):\n${r.out}`);
    }
    return { code: r.code, report, out: r.out };
  });
}
const find = (report: DriftJson, kind: string, subject: string | RegExp) =>
  report.findings.filter((f) => f.kind === kind && (typeof subject === "string" ? f.subject === subject : subject.test(f.subject)));

beforeAll(async () => {
  t = await openTestStack(STACK, "drift test");
  await t.stack.setConfig("kryonix:protectData", { value: "true" });
});

afterAll(() => {
  rmSync(SQL_COPY, { recursive: true, force: true });
  // A protected stack's state stays behind a failed test; its Docker objects and backend do not.
  t?.dispose();
});

describe.sequential("drift detection and repair, and the policy pack, for real", () => {
  it("1. `npm run up` from empty, the policy pack passing", async () => {
    const up = await timed("npm run up (from empty, protected)", () => t.npm("up"));
    expect(up.code, up.out).toBe(0);
    expect(up.out).toMatch(/✅ kryonix@v\d/);
  });

  it("2. a clean stack: `npm run drift` reports no drift; one setting changed with ALTER SYSTEM alone is drift (exit 1), not a failed check; undone by hand, clean again", async () => {
    const first = await drift("npm run drift (clean, 1)");
    expect(first.report.findings, first.out).toEqual([]);
    expect(first.report.errors, first.out).toEqual([]);
    expect(first.code).toBe(0);
    // Only kryonix:DatabaseRepair's read sees it, with no detailed diff: the refresh still proposes an update.
    await psql("ALTER SYSTEM SET work_mem = '333MB'", "SELECT pg_reload_conf()");
    const altered = await drift("npm run drift (ALTER SYSTEM only)");
    expect(altered.report.errors, altered.out).toEqual([]);
    expect(altered.code, altered.out).toBe(1);
    expect(altered.report.exitCode).toBe(1);
    expect(find(altered.report, "setting", "work_mem")).toEqual([expect.objectContaining({ repair: "up", detail: expect.stringContaining("ALTER SYSTEM to 333MB") })]);
    expect(find(altered.report, "resource", /^database-repair \(/)).toEqual([
      expect.objectContaining({ detail: "changed outside Pulumi: alteredSettings", changes: [{ property: "alteredSettings", old: [], new: ["work_mem"] }], repair: "up" }),
    ]);
    expect(altered.report.findings).toHaveLength(2);
    // Undone by hand (step 5 proves `npm run up` repairs it): clean again, so no perpetual diff either.
    await psql("ALTER SYSTEM RESET ALL", "SELECT pg_reload_conf()");
    const second = await drift("npm run drift (clean, 2)");
    expect(second.report.findings, second.out).toEqual([]);
    expect(second.report.errors, second.out).toEqual([]);
    expect(second.code).toBe(0);
  });

  it("3. the policy pack fails a preview that would delete a data volume, unless allowed for the run", async () => {
    const exported = await t.stack.exportStack();
    const deployment = JSON.parse(JSON.stringify(exported.deployment));
    const volume = deployment.resources.find((r: any) => r.type === "docker:index/volume:Volume" && r.urn.endsWith("::postgres-data"));
    expect(volume.protect).toBe(true);
    // A data volume the program no longer declares (as after a rename without an alias): the next run deletes it.
    const legacy = { ...JSON.parse(JSON.stringify(volume)), urn: volume.urn.replace(/::postgres-data$/, "::postgres-data-legacy"), protect: false, retainOnDelete: true };
    deployment.resources.push(legacy);
    await t.stack.importStack({ version: exported.version, deployment });
    try {
      const failed = await timed("npm run preview (would delete a volume)", () => t.npm("preview"));
      expect(failed.code, failed.out).toBe(1);
      expect(failed.stdout).toMatch(/DELETE postgres-data-legacy \(docker:index\/volume:Volume\)/);
      // Reported on the stack resource, which the rule checks first, before any other resource registers.
      expect(failed.stdout).toMatch(/FAILED stateful-resources-kept \[mandatory\] on \S+: this run would delete postgres-data-legacy \(docker:index\/volume:Volume\) in the protected stack/);
      expect(failed.stdout).toContain("KRYONIX_POLICY_ALLOW=stateful-resources-kept=postgres-data-legacy");
      const env = { ...t.env, KRYONIX_POLICY_ALLOW: "stateful-resources-kept=postgres-data-legacy" };
      const ok = await timed("npm run preview (KRYONIX_POLICY_ALLOW)", () => sh("npx", ["tsx", "scripts/preview.ts", "--stack", STACK], { env, cwd: repoRoot }));
      expect(ok.code, ok.out).toBe(0);
      expect(ok.stdout).toMatch(/passed .*stateful-resources-kept/);
    } finally {
      await t.stack.importStack(exported);
    }
  });

  it("4. drift applied by hand: `npm run drift` reports each kind, exit 1", async () => {
    await timed("apply the drift by hand", async () => {
      await psql(
        "REVOKE SELECT ON core.projects FROM metabase_readonly",
        "ALTER ROLE kryonix_app CREATEDB",
        "ALTER ROLE kryonix_monitor SUPERUSER",
        "DROP INDEX core.idx_projects_company_id",
        "ALTER SYSTEM SET work_mem = '77MB'",
        "SELECT pg_reload_conf()",
        "CREATE TABLE core.unmanaged_notes (id int)",
      );
      const stop = sh("docker", ["stop", `${PREFIX}pgadmin`], { env: t.env });
      expect(stop.code, stop.out).toBe(0);
      writeFileSync(EDITED, `${original}\n-- edited after it was applied\n`);
    });
    const { code, report, out } = await drift("npm run drift (8 drifts)");
    expect(code, out).toBe(1);
    expect(report.exitCode).toBe(1);
    expect(report.errors, out).toEqual([]);
    expect(find(report, "grant", "metabase_readonly on core.projects")).toEqual([expect.objectContaining({ detail: "revoked: SELECT", repair: "up" })]);
    expect(find(report, "resource", /^database-metabase_readonly-core-tables /)[0]?.changes).toEqual([{ property: "privileges", old: ["SELECT"], new: [] }]);
    expect(find(report, "role", "kryonix_app")).toEqual([expect.objectContaining({ detail: "attributes changed: createdb true", repair: "up" })]);
    expect(find(report, "role", "kryonix_monitor")).toEqual([expect.objectContaining({ detail: "attributes changed: superuser true", repair: "up" })]);
    expect(find(report, "index", "core.idx_projects_company_id")).toEqual([expect.objectContaining({ repair: "up", detail: expect.stringContaining("CREATE INDEX idx_projects_company_id") })]);
    expect(find(report, "setting", "work_mem")).toEqual([expect.objectContaining({ repair: "up", detail: expect.stringContaining("ALTER SYSTEM to 77MB") })]);
    expect(find(report, "container", `${PREFIX}pgadmin`)).toEqual([expect.objectContaining({ detail: "stopped", repair: "up" })]);
    expect(find(report, "resource", /^pgadmin \(docker/)).toEqual([expect.objectContaining({ detail: "container stopped" })]);
    expect(find(report, "relation", "core.unmanaged_notes")).toEqual([expect.objectContaining({ repair: "manual", action: expect.stringContaining("does not drop data") })]);
    expect(find(report, "migration", "sql/003_indexes.sql")).toEqual([expect.objectContaining({ repair: "manual", action: expect.stringContaining("git checkout -- sql/003_indexes.sql") })]);
    // Secrets masked: no password of the stack in the report.
    const o = await t.outputs();
    for (const secret of [o.credentials.postgres.password, ...Object.values(o.credentials.roles as Record<string, string>)]) expect(out).not.toContain(secret);
  });

  it("5. `npm run up` repairs what it can; the unmanaged table is reported, not removed", async () => {
    const refused = await timed("npm run up (migration file edited)", () => t.npm("up"));
    expect(refused.code).not.toBe(0);
    expect(refused.out).toMatch(/003_indexes\.sql/);
    writeFileSync(EDITED, original);
    const up = await timed("npm run up (repair)", () => t.npm("up"));
    expect(up.code, up.out).toBe(0);
    const after = await drift("npm run drift (after up)");
    expect(after.code, after.out).toBe(1);
    expect(after.report.findings.map((f) => [f.kind, f.subject, f.repair])).toEqual([["relation", "core.unmanaged_notes", "manual"]]);
    // Still there: up drops no data.
    await psql("SELECT count(*) FROM core.unmanaged_notes", "DROP TABLE core.unmanaged_notes");
    const clean = await drift("npm run drift (table dropped by hand)");
    expect(clean.report.findings, clean.out).toEqual([]);
    expect(clean.code).toBe(0);
  });

  it("6. unprotected and destroyed with its data, nothing is left", async () => {
    const unprotect = await timed("pulumi state unprotect --all", () => sh("npx", ["tsx", "scripts/pulumi.ts", "state", "unprotect", "--all", "--yes", "--stack", STACK], { env: t.env, cwd: repoRoot }));
    expect(unprotect.code, unprotect.out).toBe(0);
    const d = await timed("npm run destroy --including-data", () => t.npm("destroy", "--including-data"));
    expect(d.code, d.out).toBe(0);
    expect(dockerLeftovers(PREFIX)).toEqual([]);
  });
});
