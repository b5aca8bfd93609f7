/**
 * `npm run destroy [-- --stack NAME] [--including-data] [pulumi destroy flags]`: destroys the stack
 * (dev by default) with the pinned CLI, without asking (no terminal is needed).
 *
 * The data volumes (ops/destroy-plan.ts dataVolumes) are retained on delete in every stack: they
 * leave the state and stay on the Docker engine, and this script says how to remove them. The
 * database objects inside them are deleted with the volume, so no schema is dropped; the secrets
 * and the CA stay in the state (keptWithDataUrns), so a later up opens the same data. With
 * `--including-data` everything goes, and the volumes are removed once the destroy succeeded. A stack whose volumes are
 * protected (prod) fails the destroy; the script prints the `pulumi state unprotect` commands and
 * exits 4. It never unprotects anything.
 *
 * The scratch copies `npm run restore` made (on the stack network, outside the state) come first
 * (ops/destroy-plan.ts copiesStep): `--including-data` removes them, naming each; without it the
 * destroy names them and stops before touching anything, exit 3.
 *
 * Exit codes: 0 done, 1 failed (or pulumi's own code), 2 bad arguments, 3 restore copies in the
 * way (nothing touched), 4 protected volumes.
 */
import { runDocker } from "../io/docker-cli";
import { COPIES_IN_THE_WAY_EXIT, copiesStep, keptVolumesMessage, keptWithDataUrns, managedDataVolumes, planDestroy, presentDataVolumes, protectedMessage, protectedUrns, type DestroyPlan } from "../ops/destroy-plan";
import { listRestoreCopies, removeRestoreCopies } from "../ops/restore-copies";
import { stackCli, type StackCli } from "../ops/stack-run";
import { repoRoot } from "../toolchain/versions";

const say = (line: string) => process.stderr.write(`[destroy] ${line}\n`);

let plan: DestroyPlan;
let cli: StackCli;
try {
  plan = planDestroy(process.argv.slice(2));
  cli = stackCli(plan.stack);
} catch (e) {
  say((e as Error).message);
  process.exit(2);
}
const { stack } = plan;
const env = cli.env;

/** `pulumi stack export`, parsed; undefined when the stack cannot be read (e.g. it does not exist). */
function exportState(): unknown {
  const r = cli.capture(["stack", "export", "--stack", stack]);
  if (r.code !== 0) return undefined;
  try {
    return JSON.parse(r.stdout);
  } catch {
    return undefined;
  }
}

let copies;
try {
  copies = listRestoreCopies(stack, env);
} catch (e) {
  say(`cannot list the restore copies of stack ${stack}, so nothing was destroyed: ${(e as Error).message}`);
  process.exit(1);
}
const step = copiesStep(plan, copies);
if (step.kind === "stop") {
  process.stderr.write(step.message);
  process.exit(COPIES_IN_THE_WAY_EXIT);
}
if (step.kind === "remove") {
  say(`removing the restore copies of stack ${stack} first (outside the state, made from its backups): ${step.copies.map((c) => c.name).join(", ")}`);
  const errors = removeRestoreCopies(step.copies, env, say);
  if (errors.length) {
    for (const e of errors) say(`could not remove ${e}`);
    say(`the stack itself was not destroyed (the copies removed are named above).`);
    process.exit(1);
  }
}

// Keeping the data keeps its keys: the generated secrets and the CA stay in the state.
const excludes = plan.includingData ? [] : keptWithDataUrns(exportState()).flatMap((urn) => ["--exclude", urn]);
const destroyed = cli.run([...plan.pulumiArgs, ...excludes]);
if (destroyed !== 0) {
  const urns = protectedUrns(exportState());
  if (urns.length) {
    process.stderr.write(protectedMessage(plan, urns));
    process.exit(4);
  }
  say(`pulumi destroy failed (exit code ${destroyed}); no volume was removed.`);
  process.exit(destroyed);
}

const ls = runDocker(["volume", "ls", "--format", "{{.Name}}"], { cwd: repoRoot, env });
if (ls.code !== 0) {
  say(`the stack is destroyed, but \`docker volume ls\` failed, so which data volumes remain is unknown: ${(ls.stderr || ls.failure).trim()}`);
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
  return runDocker(["volume", "rm", volume], { cwd: repoRoot, inherit: "all", env }).code !== 0;
});
if (failed.length) {
  const removed = present.filter((v) => !failed.includes(v));
  say(`could not remove ${failed.join(", ")} (see docker's error above)${removed.length ? `; removed ${removed.join(", ")}` : ""}.`);
  process.exit(1);
}
say(`removed the data volumes of stack ${stack}: ${present.join(", ")}`);
