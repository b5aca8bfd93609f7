/**
 * `npm run cluster:status [-- --stack NAME] [--json]`: every node of the stack's cluster with its
 * container, host, role, state, timeline and lag, as Patroni's `GET /cluster` says inside a running
 * node (ops/cluster.ts). --json prints the stable contract `{"members": [...]}` (docs/cluster.md).
 * Exit code: 0 when exactly one leader runs and every node runs or streams; 1 otherwise (why on one
 * line); 2 when the stack cannot be read or has no cluster.
 */
import { renderStatusTable, statusJson, statusVerdict } from "../model/cluster-status";
import { runMain } from "../ops/cli";
import { readClusterStatus, readStackCluster } from "../ops/cluster";
import { parseStackJsonArgs } from "./args";

async function main(): Promise<number> {
  const options = parseStackJsonArgs("cluster:status", process.argv.slice(2));
  const status = await readClusterStatus(readStackCluster(options.stack));
  if (options.json) {
    process.stdout.write(statusJson(status));
    if (status.problems.length) process.stderr.write(`${statusVerdict(options.stack, status)}\n`);
  } else {
    process.stdout.write(renderStatusTable(options.stack, status));
  }
  return status.problems.length ? 1 : 0;
}

runMain("cluster:status", main);
