/**
 * `npm run cluster:switchover [-- --stack NAME] [--to NODE]`: a planned switchover to NODE (node-2,
 * or its container's name) or, without --to, to the synchronous standby (else the streaming replica
 * least behind). patronictl runs inside the current leader's container with its own configuration
 * (ops/cluster.ts); then the command waits, at most 60 s, until the new leader runs, and prints how
 * long that took. Exit code: 0 done; 1 patronictl failed or the deadline passed; 2 the stack cannot
 * be read or --to is refused (not a node, the leader, or not streaming).
 */
import { STACK_FLAG, parseCli, runMain } from "../ops/cli";
import { readStackCluster, switchover } from "../ops/cluster";

async function main(): Promise<number> {
  const { values } = parseCli("cluster:switchover", process.argv.slice(2), {
    stack: STACK_FLAG,
    to: { type: "string", value: "NODE", describe: "a node's name or container", example: "node-2" },
  });
  const cluster = readStackCluster(values.stack);
  const log = (line: string) => process.stdout.write(`cluster:switchover: ${line}\n`);
  const done = await switchover(cluster, { to: values.to, log });
  log(`done: ${done.from} -> ${done.to} in ${done.seconds.toFixed(1)} s`);
  return 0;
}

runMain("cluster:switchover", main);
