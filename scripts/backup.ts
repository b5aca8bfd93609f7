/**
 * `npm run backup [-- --stack NAME] [--type full|diff|incr]` (dev, full by default): a pgBackRest
 * backup now, in the stack's postgres container, with its progress on this terminal. pgBackRest
 * expires what the retention no longer keeps after the backup. Exit code: pgbackrest's; 2 for bad
 * arguments or a stack whose outputs cannot be read.
 */
import { runDocker } from "../io/docker-cli";
import { backupCommand } from "../render/backup-cli";
import { runMain } from "../ops/cli";
import { readBackupTarget } from "../ops/stack-run";
import { parseBackupArgs } from "./args";

function main(): number {
  const options = parseBackupArgs(process.argv.slice(2));
  let stack;
  try {
    stack = readBackupTarget(options.stack);
  } catch (err) {
    process.stderr.write(`backup: ${(err as Error).message}\n`);
    return 2;
  }
  const args = ["exec", "-u", "postgres", stack.target.container, ...backupCommand(options.type)];
  process.stderr.write(`[backup] docker ${args.join(" ")}\n`);
  const t0 = Date.now();
  const { code } = runDocker(args, { inherit: "all", env: stack.env, timeoutMs: 0 });
  process.stderr.write(`[backup] ${options.type} backup of stack ${options.stack}: ${code === 0 ? "done" : `failed (exit ${code})`} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return code;
}

runMain("backup", main);
