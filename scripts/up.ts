/**
 * `npm run up [-- --stack NAME] [pulumi up flags]`: installs the toolchain, then brings the stack
 * (dev by default) up, with no prompt. Each step prints how long it took:
 *  1. `pulumi stack select --create`, and the state (`stack export`);
 *  2. when the state's PostgreSQL container is not running: a refresh of the stack's Docker
 *     resources alone, so that a container, network or volume removed by hand is seen as gone and
 *     created again (ops/stack-run.ts dockerUrns); when it runs, steps 3 and 4 refresh everything
 *     (Docker resources and database objects), so that drift inside the database is repaired too
 *     (README, "Drift detection");
 *  3. the plan: one preview with the policy pack, its own steps checked for stateful-resources-kept
 *     (ops/guarded-run.ts); a policy violation stops here, before any change;
 *  4. when the plan has nothing to apply (every step `same`, no drift read back, the same stack
 *     outputs), nothing more: `pulumi up` would write the same state. Otherwise
 *     `pulumi up --yes --skip-preview --policy-pack policy` with that plan: the plan was the
 *     preview (every rule already passed on these inputs), and the pack stops the update on
 *     stateful-resources-kept when the stack resource registers, before any change.
 */
import { runCli } from "../io/docker-cli";
import { guardedPreview, planningFlags, policyArgs, writePlan } from "../ops/guarded-run";
import { renderSummary } from "../checks/preview-summary";
import { parsedOrExit } from "../ops/cli";
import { parsePulumiArgs } from "./args";
import { dockerUrns, CA_FILE_RESTORED, ensureCaFile, runningPostgres, stackCli } from "../ops/stack-run";
import { repoRoot } from "../toolchain/versions";

const { stack, rest: upArgs } = parsedOrExit("up", () => parsePulumiArgs("up", process.argv.slice(2)), 1);
const say = (line: string) => process.stderr.write(`[up] ${line}\n`);
const started = Date.now();
function timed<T>(step: string, fn: () => T): T {
  const t0 = Date.now();
  try {
    return fn();
  } finally {
    say(`${step} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
}

// The toolchain in this same tsx (its loader flags), not through npx: npx alone costs about a second.
const tc = timed("toolchain", () => runCli(process.execPath, [...process.execArgv, "scripts/toolchain.ts"], { cwd: repoRoot, inherit: "all", timeoutMs: 0 }));
if (tc.code !== 0) process.exit(tc.code);

const cli = stackCli(stack);
const exported = timed("stack select, state", () => {
  if (cli.run(["stack", "select", "--create", stack]) !== 0) process.exit(1);
  if (ensureCaFile(stack, cli) === "restored") say(CA_FILE_RESTORED);
  return cli.capture(["stack", "export", "--stack", stack]);
});
if (exported.code !== 0) {
  say(`cannot read the state of stack ${stack}: ${exported.stderr.trim()}`);
  process.exit(1);
}
const state = JSON.parse(exported.stdout || "{}");
// With the server up, the plan and the update refresh everything, Docker resources included
// (--refresh), so that a revoked grant, a role's changed attribute, ALTER SYSTEM or a dropped index
// of sql/ (providers/database-repair.ts) are seen and repaired. In the same operation, not a
// refresh of its own: a refresh that records a revoked grant and is not followed by the update would
// be undone by the next one (the grant's read then reports its declared privileges again), hiding
// the drift. Without the server the database objects cannot be read: only the Docker resources are
// refreshed, first, so that what was removed is created again; the next up repairs the rest.
const refreshAll = runningPostgres(state, cli.env) && !upArgs.includes("--refresh");
const urns = dockerUrns(state);
if (refreshAll) say(`the server is running: every resource, the database objects included, is refreshed with the plan and the update`);
else if (urns.length) {
  const refresh = timed(`refresh of the ${urns.length} Docker resources (the server is not running)`, () =>
    cli.run(["refresh", "--yes", "--skip-preview", "--non-interactive", "--stack", stack, ...urns.flatMap((u) => ["--target", u])]),
  );
  if (refresh !== 0) process.exit(refresh);
}

const refreshFlag = refreshAll ? ["--refresh"] : [];
const plan = timed("plan: preview with the policy pack", () => guardedPreview(stack, [...planningFlags(upArgs), ...refreshFlag], { showSecrets: true }));
if (plan.code !== 0) {
  process.stderr.write(renderSummary(plan.report, "text"));
  if (plan.report.result !== "failed") say(plan.stderr.trim());
  say(`the plan of stack ${stack} failed (above): nothing was changed`);
  process.exit(1);
}
const passed = plan.report.policies.map((p) => `${p.pack}@${p.version} passed ${p.passed.join(", ") || "none"}`).join("; ");
if (plan.nothingToDo) {
  const same = plan.report.counts.same ?? plan.report.steps.length;
  say(`nothing to apply: ${same} resources unchanged${refreshAll ? ", none drifted" : ""}, the same outputs; ${passed}. pulumi up not run`);
  say(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(0);
}
const planned = writePlan(plan.report);
let code: number;
try {
  code = timed("pulumi up with the policy pack", () =>
    stackCli(stack, { ...process.env, ...planned.env }).run(["up", "--yes", "--non-interactive", "--skip-preview", "--stack", stack, ...refreshFlag, ...policyArgs(stack), ...upArgs.filter((a) => a !== "--skip-preview")]),
  );
} finally {
  planned.dispose();
}
say(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(code);
