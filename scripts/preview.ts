/**
 * `npm run preview [-- --stack NAME] [--markdown] [--json] [pulumi preview flags]`: what `npm run up`
 * would change, for review, with the policy pack (policy/), in one `pulumi preview`
 * (ops/guarded-run.ts guardedPreview). Creates the stack (empty) first if this
 * backend has never seen it. Prints a reviewer's summary: creates, updates, replaces and deletes,
 * stateful replacements and deletions first, and which policies passed (checks/preview-summary.ts);
 * `--markdown` for a pull-request comment, `--json` for the parsed report.
 * Exit code: 0 when the preview (policies included) passed, 1 when it failed, 2 on a setup error.
 */
import { guardedPreview } from "../ops/guarded-run";
import { parsedOrExit } from "../ops/cli";
import { parsePulumiArgs } from "./args";
import { renderSummary } from "../checks/preview-summary";
import { CA_FILE_RESTORED, ensureCaFile, stackCli } from "../ops/stack-run";

const { stack, flags, rest: passThrough } = parsedOrExit("preview", () => parsePulumiArgs("preview", process.argv.slice(2), ["markdown", "json"]));
const format = flags.markdown ? "markdown" : flags.json ? "json" : "text";
const say = (line: string) => process.stderr.write(`[preview] ${line}\n`);

let cli;
try {
  cli = stackCli(stack);
} catch (e) {
  say((e as Error).message);
  process.exit(2);
}
const selected = cli.capture(["stack", "select", "--create", stack]);
if (selected.code !== 0) {
  say(`cannot select or create stack ${stack}: ${selected.stderr.trim()}`);
  process.exit(2);
}
if (ensureCaFile(stack, cli) === "restored") say(CA_FILE_RESTORED);

const r = guardedPreview(stack, passThrough);
if (format === "json") process.stdout.write(JSON.stringify(r.report, null, 2) + "\n");
else process.stdout.write(renderSummary(r.report, format));
if (r.code !== 0 && r.report.result !== "failed") say(r.stderr.trim());
process.exit(r.code === 0 ? 0 : 1);
