/**
 * `npm run test:db:connection [-- --stack NAME] [--json]`: logs in to the running stack (dev by
 * default) as every login role and checks what each may do and is refused
 * (ops/connection-checks.ts). Prints a table and `N passed, M failed`, or with --json
 * `{ stack, results, passed, failed }`.
 *
 * Exit code: 0 all passed, 1 any failed, 2 the stack's connection details could not be read
 * (or bad arguments). No password is printed: the stack's passwords are scrubbed from the output.
 */
import { renderTable, runConnectionChecks, scrubSecrets, summarize, targetSecrets, unreadableTargetMessage } from "../ops/connection-checks";
import { runMain } from "../ops/cli";
import { readConnectionTarget } from "../ops/stack-run";
import { parseStackJsonArgs } from "./args";

async function main(): Promise<number> {
  const { stack, json } = parseStackJsonArgs("test:db:connection", process.argv.slice(2));

  let target;
  try {
    target = await readConnectionTarget(stack);
  } catch (err) {
    process.stderr.write(`${unreadableTargetMessage(stack, err)}\n`);
    return 2;
  }

  const results = await runConnectionChecks(target);
  const { passed, failed, line } = summarize(results);
  const output = json ? `${JSON.stringify({ stack, results, passed, failed }, null, 2)}\n` : `${renderTable(results)}\n\n${line}\n`;
  // The details are scrubbed already; this also covers anything the table adds around them.
  process.stdout.write(scrubSecrets(output, targetSecrets(target)));
  return failed === 0 ? 0 : 1;
}

runMain("test:db:connection", main);
