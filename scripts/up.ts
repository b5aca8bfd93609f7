/**
 * `npm run up [-- --stack NAME] [pulumi up flags]`: installs the toolchain, then brings the stack
 * (dev by default) up, with no prompt:
 *  1. `pulumi stack select --create`;
 *  2. a refresh of the stack's Docker resources, so that a container, network or volume removed
 *     by hand is seen as gone and created again (lib/stack-run.ts dockerUrns); when the
 *     PostgreSQL container runs, steps 3 and 4 refresh the rest (database objects) too, so that
 *     drift inside the database is repaired (README, "Drift detection");
 *  3. a preview without the policy pack, whose steps are the plan the pack checks (lib/guarded-run.ts);
 *  4. `pulumi up --yes --policy-pack policy` with that plan: a policy violation stops it before any change.
 */
import { spawnSync } from "node:child_process";
import { planForPolicy, planningFlags, policyArgs } from "../lib/guarded-run";
import { stackFromArgs } from "../lib/pulumi-env";
import { dockerUrns, ensureCaFile, runningPostgres, stackCli } from "../lib/stack-run";
import { repoRoot } from "../lib/versions";

const args = process.argv.slice(2);
const stack = stackFromArgs(args);
const upArgs = args.filter((a, i) => a !== "--stack" && a !== "-s" && args[i - 1] !== "--stack" && args[i - 1] !== "-s" && !a.startsWith("--stack="));
const say = (line: string) => process.stderr.write(`[up] ${line}\n`);

const tc = spawnSync("npx", ["tsx", "scripts/toolchain.ts"], { cwd: repoRoot, stdio: "inherit" });
if (tc.status !== 0) process.exit(tc.status ?? 1);

const cli = stackCli(stack);
if (cli.run(["stack", "select", "--create", stack]) !== 0) process.exit(1);
if (ensureCaFile(stack, cli) === "restored") say(`the stack CA file was missing or unreadable: written again from the stack's caCertificate output`);

const exported = cli.capture(["stack", "export", "--stack", stack]);
if (exported.code !== 0) {
  say(`cannot read the state of stack ${stack}: ${exported.stderr.trim()}`);
  process.exit(1);
}
const state = JSON.parse(exported.stdout || "{}");
const urns = dockerUrns(state);
if (urns.length) {
  say(`refreshing the ${urns.length} Docker resources of stack ${stack} first`);
  const refresh = cli.run(["refresh", "--yes", "--skip-preview", "--non-interactive", "--stack", stack, ...urns.flatMap((u) => ["--target", u])]);
  if (refresh !== 0) process.exit(refresh);
}
// With the server up, the plan and the update refresh everything else too (--refresh), so that a
// revoked grant, a role's changed attribute, ALTER SYSTEM or a dropped index of sql/
// (components/database-repair.ts) are seen and repaired. In the same operation, not a refresh of
// its own: a refresh that records a revoked grant and is not followed by the update would be undone
// by the next one (the grant's read then reports its declared privileges again), hiding the drift.
// Without the server they cannot be read; the next up repairs them.
const refreshAll = runningPostgres(state, cli.env) && !upArgs.includes("--refresh");
if (refreshAll) say(`the server is running: the database objects are refreshed with the update`);
let plan;
try {
  plan = planForPolicy(stack, [...planningFlags(upArgs), ...(refreshAll ? ["--refresh"] : [])]);
} catch (e) {
  say((e as Error).message);
  process.exit(1);
}
let code: number;
try {
  code = stackCli(stack, { ...process.env, ...plan.env }).run(["up", "--yes", "--non-interactive", "--stack", stack, ...(refreshAll ? ["--refresh"] : []), ...policyArgs(stack), ...upArgs]);
} finally {
  plan.dispose();
}
process.exit(code);
