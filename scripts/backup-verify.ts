/**
 * `npm run backup:verify [-- --stack NAME] [--json]`: the restore drill, now. Runs kryonix-drill
 * (images/postgres/drill.sh) inside the stack's restore drill container through kryonix-job,
 * exactly as the weekly schedule does: restore the newest backup finished before a fresh restore point, plus WAL to that point,
 * into a scratch server there, compare every table with the live database (row counts and
 * checksums, over TLS as the drill's role), amcheck
 * every B-tree index, `pgbackrest verify`, remove the scratch copy, record the run (backup:status
 * shows it). Its progress is on stderr; the report (text, or the JSON with --json) on stdout.
 * Exit code: 0 when everything matched; 1 on any mismatch or failure; 2 for bad arguments or a
 * stack whose outputs cannot be read.
 */
import { runDocker } from "../io/docker-cli";
import { drillExecArgs, parseDrillOutput, renderDrillReport } from "../model/drill";
import { runMain } from "../ops/cli";
import { readBackupTarget } from "../ops/stack-run";
import { parseStackJsonArgs } from "./args";

function main(): number {
  const options = parseStackJsonArgs("backup:verify", process.argv.slice(2));
  let stack;
  try {
    stack = readBackupTarget(options.stack);
    if (!stack.target.drillContainer) throw new Error(`stack ${options.stack} has no restore drill container: run \`npm run up -- --stack ${options.stack}\` with this version first`);
  } catch (err) {
    process.stderr.write(`backup:verify: ${(err as Error).message}\n`);
    return 2;
  }
  const args = drillExecArgs(stack.target.drillContainer);
  process.stderr.write(`[backup:verify] docker ${args.join(" ")}\n`);
  const r = runDocker(args, { env: stack.env, inherit: "stderr", timeoutMs: 0 });
  const report = parseDrillOutput(r.stdout);
  if (!report) {
    process.stderr.write(`backup:verify: the drill gave no report (exit ${r.code}${r.failure ? `, ${r.failure}` : ""}); output:\n${r.stdout}\n`);
    return 1;
  }
  process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : renderDrillReport(report));
  return report.ok && r.code === 0 ? 0 : 1;
}

runMain("backup:verify", main);
