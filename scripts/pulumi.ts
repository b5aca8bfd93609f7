/** `npm run pulumi -- <args>`: the pinned CLI with the project's backend, secrets and plugin settings. */
import { spawnSync } from "node:child_process";
import { projectEnv, stackFromArgs } from "../lib/pulumi-env";
import { readStatus } from "../lib/toolchain-state";
import { repoRoot } from "../lib/versions";

const args = process.argv.slice(2);
let status;
try {
  status = readStatus();
} catch (e) {
  process.stderr.write(`[pulumi] ${(e as Error).message}\n`);
  process.exit(2);
}
const r = spawnSync(status.pulumi, args, { cwd: repoRoot, stdio: "inherit", env: projectEnv(status, stackFromArgs(args)) });
process.exit(r.status ?? 1);
