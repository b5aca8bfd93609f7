/** `npm run pulumi -- <args>`: the pinned CLI with the project's backend, secrets and plugin settings. */
import { stackFromArgs } from "../toolchain/pulumi-env";
import { stackCli } from "../ops/stack-run";

const args = process.argv.slice(2);
let cli;
try {
  cli = stackCli(stackFromArgs(args));
} catch (e) {
  process.stderr.write(`[pulumi] ${(e as Error).message}\n`);
  process.exit(2);
}
process.exit(cli.run(args));
