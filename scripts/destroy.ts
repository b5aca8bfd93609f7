/**
 * `npm run destroy [-- --stack NAME] [--including-data] [pulumi destroy flags]`: destroys the stack
 * (dev by default) with the pinned CLI. pulumi asks for confirmation unless you pass `--yes`.
 *
 * The data volumes (lib/destroy-plan.ts dataVolumes) are retained on delete in every stack: they
 * leave the state and stay on the Docker engine, and this script says how to remove them. With
 * `--including-data` it removes them itself once the destroy succeeded. A stack whose volumes are
 * protected (prod) fails the destroy; the script prints the `pulumi state unprotect` commands and
 * exits 4. It never unprotects anything.
 */
import { spawnSync } from "node:child_process";
import { keptVolumesMessage, managedDataVolumes, planDestroy, presentDataVolumes, protectedMessage, protectedUrns, type DestroyPlan } from "../lib/destroy-plan";
import { projectEnv } from "../lib/pulumi-env";
import { readStatus, type ToolchainStatus } from "../lib/toolchain-state";
import { repoRoot } from "../lib/versions";

const say = (line: string) => process.stderr.write(`[destroy] ${line}\n`);

let plan: DestroyPlan;
let status: ToolchainStatus;
try {
  plan = planDestroy(process.argv.slice(2));
  status = readStatus();
} catch (e) {
  say((e as Error).message);
  process.exit(2);
}
const { stack } = plan;
const env = projectEnv(status, stack);

/** `pulumi stack export`, parsed; undefined when the stack cannot be read (e.g. it does not exist). */
function exportState(): unknown {
  const r = spawnSync(status.pulumi, ["stack", "export", "--stack", stack], {
    cwd: repoRoot,
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status !== 0) return undefined;
  try {
    return JSON.parse(r.stdout);
  } catch {
    return undefined;
  }
}

const destroyed = spawnSync(status.pulumi, plan.pulumiArgs, { cwd: repoRoot, stdio: "inherit", env });
if (destroyed.status !== 0) {
  const urns = protectedUrns(exportState());
  if (urns.length) {
    process.stderr.write(protectedMessage(plan, urns));
    process.exit(4);
  }
  say(`pulumi destroy failed (${destroyed.error?.message ?? `exit code ${destroyed.status ?? destroyed.signal}`}); no volume was removed.`);
  process.exit(destroyed.status || 1);
}

const ls = spawnSync("docker", ["volume", "ls", "--format", "{{.Name}}"], { cwd: repoRoot, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
if (ls.status !== 0) {
  say(`the stack is destroyed, but \`docker volume ls\` failed, so which data volumes remain is unknown: ${(ls.stderr || ls.error?.message || "").trim()}`);
  process.exit(1);
}
const present = presentDataVolumes(stack, ls.stdout);

if (!plan.includingData) {
  process.stderr.write(keptVolumesMessage(stack, present));
  process.exit(0);
}

// The destroy succeeded; make sure no volume is still managed (or protected) before deleting data.
const state = exportState();
// `pulumi destroy --remove` deletes the stack itself: nothing is left to manage the volumes.
if (state === undefined && !plan.pulumiArgs.includes("--remove")) {
  say(`the stack is destroyed, but its state cannot be read back (\`npm run pulumi -- stack export --stack ${stack}\`); no volume was removed.`);
  process.exit(1);
}
const stillManaged = managedDataVolumes(state, stack);
if (stillManaged.length) {
  const urns = protectedUrns(state);
  if (urns.length) process.stderr.write(protectedMessage(plan, urns));
  say(`still in the state of stack ${stack}, so not removed: ${stillManaged.join(", ")}`);
  process.exit(4);
}

if (!present.length) {
  say(`stack ${stack} has no data volume on the Docker engine; nothing to remove.`);
  process.exit(0);
}
const failed = present.filter((volume) => {
  say(`docker volume rm ${volume}`);
  return spawnSync("docker", ["volume", "rm", volume], { cwd: repoRoot, stdio: "inherit", env }).status !== 0;
});
if (failed.length) {
  const removed = present.filter((v) => !failed.includes(v));
  say(`could not remove ${failed.join(", ")} (see docker's error above)${removed.length ? `; removed ${removed.join(", ")}` : ""}.`);
  process.exit(1);
}
say(`removed the data volumes of stack ${stack}: ${present.join(", ")}`);
