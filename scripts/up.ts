/**
 * `npm run up [-- --stack NAME]`: installs the toolchain, then brings the stack (dev by default) up.
 * While provider plugins are blocked (README "Blocked"), it stops after the toolchain and says why.
 */
import { spawnSync } from "node:child_process";
import { projectEnv, stackFromArgs } from "../lib/pulumi-env";
import { readStatus } from "../lib/toolchain-state";
import { loadVersions, repoRoot } from "../lib/versions";

const args = process.argv.slice(2);
const stack = stackFromArgs(args);

const tc = spawnSync("npx", ["tsx", "scripts/toolchain.ts"], { cwd: repoRoot, stdio: "inherit" });
if (tc.status !== 0) process.exit(tc.status ?? 1);

const status = readStatus();
const missing = Object.entries(loadVersions().go)
  .filter(([, b]) => b.kind === "provider" && !(b.plugin! in status.plugins))
  .map(([name]) => name);
if (missing.length) {
  process.stderr.write(
    `[up] the toolchain is ready, but the stack needs provider plugins that could not be built here: ${missing.join(", ")}.\n` +
      `[up] README "Blocked" has the exact command and the registry's answer. Nothing was deployed.\n`,
  );
  process.exit(3);
}

const env = projectEnv(status, stack);
const pulumi = (...a: string[]) => spawnSync(status.pulumi, a, { cwd: repoRoot, stdio: "inherit", env }).status ?? 1;
if (pulumi("stack", "select", "--create", stack) !== 0) process.exit(1);
process.exit(pulumi("up", "--yes", "--stack", stack, ...args.filter((a, i) => a !== "--stack" && args[i - 1] !== "--stack" && !a.startsWith("--stack="))));
