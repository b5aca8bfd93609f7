/**
 * Which node of a `ha` stack leads now, for the scripts that act on "the" server (backup,
 * backup:status, backup:verify, restore, audit): Patroni's `GET /cluster`, asked inside each
 * running node's container in turn (docker exec against that node's host), never a container address.
 */
import { runDocker } from "../io/docker-cli";
import { PATRONI_REST_PORT } from "../model/cluster";
import { parsePatroniCluster } from "../model/cluster-status";

interface NodeRef {
  name: string;
  container: string;
  host: string;
}

/** The leader's container, from the first node that answers; throws, naming what each said, when none leads. */
export function leaderContainer(nodes: readonly NodeRef[], env: NodeJS.ProcessEnv = process.env): string {
  const seen: string[] = [];
  for (const n of nodes) {
    const r = runDocker(["exec", n.container, "curl", "-fsS", "--max-time", "3", `http://127.0.0.1:${PATRONI_REST_PORT}/cluster`], { env: { ...env, DOCKER_HOST: n.host }, timeoutMs: 15_000 });
    if (r.code !== 0) {
      seen.push(`${n.container}: ${(r.stderr || r.out).trim().split("\n")[0] || `exit ${r.code}`}`);
      continue;
    }
    let members;
    try {
      members = parsePatroniCluster(r.stdout);
    } catch (err) {
      seen.push(`${n.container}: ${(err as Error).message}`);
      continue;
    }
    const leader = members.find((m) => m.role === "leader" && m.state === "running");
    const node = leader && nodes.find((x) => x.name === leader.name);
    if (node) return node.container;
    seen.push(`${n.container}: no running leader (${members.map((m) => `${m.name} ${m.role}/${m.state}`).join(", ")})`);
  }
  throw new Error(`no node of the cluster leads now (${seen.join("; ")}): see \`npm run cluster:status\``);
}

/** The container a script acts on: the leader's for a `ha` stack (its `cluster` output), else `container`. */
export function serverContainer(container: string, cluster: { topology?: string; nodes?: NodeRef[] } | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return cluster?.topology === "ha" && cluster.nodes?.length ? leaderContainer(cluster.nodes, env) : container;
}
