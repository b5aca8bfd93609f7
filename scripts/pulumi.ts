/** `npm run pulumi -- <args>`: the pinned CLI with the project's backend, secrets and plugin settings. */
import { parsedOrExit } from "../ops/cli";
import { stackCli } from "../ops/stack-run";
import { parsePulumiArgs } from "./args";

// The whole command line goes to pulumi, --stack included: only the environment needs the stack.
const args = process.argv.slice(2);
const { stack } = parsedOrExit("pulumi", () => parsePulumiArgs("pulumi", args));
let cli;
try {
  cli = stackCli(stack);
} catch (e) {
  process.stderr.write(`[pulumi] ${(e as Error).message}\n`);
  process.exit(2);
}
process.exit(cli.run(args));
