/**
 * `npm run audit [-- --stack NAME] [--json]`: the CIS PostgreSQL 17 controls of checks/cis.ts,
 * checked on the running server and its files inside the postgres container (psql as postgres
 * over the local socket, stat, find, pgbackrest info), with the stack's waivers
 * (kryonix:cisWaivers, stack output `audit`). Prints PASS, FAIL or WAIVED for each control with
 * its number and title, or with --json `{ stack, container, results, pass, fail, waived }`.
 *
 * Exit code: 0 when nothing FAILs, 1 when a control FAILs, 2 when the stack or the container
 * cannot be read. Reads no secret.
 */
import { serverContainer } from "../ops/cluster-leader";
import { runDocker } from "../io/docker-cli";
import { FACTS_SCRIPT, evaluateControls, parseFacts, renderAudit } from "../checks/cis";
import { runMain } from "../ops/cli";
import { stackCli } from "../ops/stack-run";
import { parseStackJsonArgs } from "./args";

function main(): number {
  const options = parseStackJsonArgs("audit", process.argv.slice(2));
  const cli = stackCli(options.stack);
  const out = cli.capture(["stack", "output", "audit", "--json", "--stack", options.stack]);
  if (out.code !== 0) {
    process.stderr.write(`audit: cannot read the audit output of stack ${options.stack} (${out.stderr.trim()}): run \`npm run up -- --stack ${options.stack}\` first\n`);
    return 2;
  }
  const target = JSON.parse(out.stdout) as { container: string; stanza: string; waivers: Record<string, string> };
  // ha: the leader's container, wherever it is now.
  const cluster = cli.capture(["stack", "output", "cluster", "--json", "--stack", options.stack]);
  try {
    target.container = serverContainer(target.container, cluster.code === 0 ? JSON.parse(cluster.stdout) : undefined, cli.env);
  } catch (err) {
    process.stderr.write(`audit: ${(err as Error).message}\n`);
    return 2;
  }
  const r = runDocker(["exec", "-i", "-u", "postgres", target.container, "bash", "-s", "--", target.stanza], { input: FACTS_SCRIPT, env: cli.env, timeoutMs: 120_000 });
  if (r.code !== 0 && !r.stdout.includes("@@pgbackrest")) {
    process.stderr.write(`audit: the checks could not run in ${target.container} (exit ${r.code}): ${(r.stderr || r.stdout || r.failure).trim()}\n`);
    return 2;
  }
  let results;
  try {
    results = evaluateControls(parseFacts(r.stdout), target.waivers ?? {});
  } catch (err) {
    process.stderr.write(`audit: ${(err as Error).message}\n${r.stderr}`);
    return 2;
  }
  const count = (s: string) => results.filter((x) => x.status === s).length;
  process.stdout.write(
    options.json
      ? `${JSON.stringify({ stack: options.stack, container: target.container, results, pass: count("PASS"), fail: count("FAIL"), waived: count("WAIVED") }, null, 2)}\n`
      : `CIS PostgreSQL 17 controls, stack ${options.stack} (${target.container}):\n\n${renderAudit(results)}`,
  );
  return count("FAIL") === 0 ? 0 : 1;
}

runMain("audit", main);
