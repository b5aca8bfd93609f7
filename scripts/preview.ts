/**
 * `npm run preview [-- --stack NAME] [pulumi preview flags]`: what `npm run up` would change, for
 * review; creates the stack (empty) first if this backend has never seen it.
 */
import { stackFromArgs } from "../lib/pulumi-env";
import { stackCli } from "../lib/stack-run";

const args = process.argv.slice(2);
const stack = stackFromArgs(args);
let cli;
try {
  cli = stackCli(stack);
} catch (e) {
  process.stderr.write(`[preview] ${(e as Error).message}\n`);
  process.exit(2);
}
if (cli.run(["stack", "select", "--create", stack]) !== 0) process.exit(1);
process.exit(cli.run(["preview", "--non-interactive", ...(args.some((a) => a === "--stack" || a === "-s" || a.startsWith("--stack=")) ? [] : ["--stack", stack]), ...args]));
