import { clusterMembers } from "../model/cluster";
import { runDocker } from "./docker-cli";
import { resourceName } from "../model/config";
import { engineFeatures, type EngineFeatures } from "../model/containers";
import { KEPT_MOUNT, parseProbeOutput, renderProbeScript, type KeptCluster } from "../checks/kept-cluster";

/**
 * What the stack program asks the Docker engine before it declares anything: which engine it is
 * (some container settings need a newer API) and whether the PostgreSQL data volume is already
 * there without its container (a destroy that kept the data: the cluster is adopted).
 */
export interface EngineView {
  apiVersion: string;
  features: EngineFeatures;
  /** kryonix-<stack>-postgres exists as a volume. */
  postgresVolume: boolean;
  /** kryonix-<stack>-postgres exists as a container (running or not). */
  postgresContainer: boolean;
  /** The `ha` topology's first node's volume, kryonix-<stack>-postgres-1, exists. */
  clusterVolume: boolean;
}

/**
 * A cluster is adopted when its volume outlived its container: the roles and database inside
 * are imported into the state instead of created. A container that still exists means the
 * state has been tracking them (or never got as far as creating them). Pure.
 */
export function adoptExistingCluster(view: Pick<EngineView, "postgresVolume" | "postgresContainer">): boolean {
  return view.postgresVolume && !view.postgresContainer;
}

/** Where the docker provider goes when neither DOCKER_HOST nor a context is given to it. */
export const PROVIDER_DEFAULT_HOST = "unix:///var/run/docker.sock";

/**
 * The environment every docker call of the project runs with, so that the docker CLI (this
 * program's engine view, the npm scripts, the tests) and the docker provider reach the same
 * engine. They resolve it differently: the CLI prefers DOCKER_HOST to DOCKER_CONTEXT and follows
 * `docker context use` (config.json's currentContext, under DOCKER_CONFIG); the provider prefers
 * DOCKER_CONTEXT to DOCKER_HOST, reads contexts from ~/.docker only and never the current context.
 * So the CLI's own endpoint (`cliEndpoint`, from `docker context inspect`) is written into
 * DOCKER_HOST and DOCKER_CONTEXT is dropped. Pure.
 */
export function pinnedDockerEnv(base: NodeJS.ProcessEnv, cliEndpoint: string | undefined): NodeJS.ProcessEnv {
  const { DOCKER_CONTEXT: _context, ...env } = base;
  return { ...env, DOCKER_HOST: cliEndpoint || base.DOCKER_HOST || PROVIDER_DEFAULT_HOST };
}

/** The endpoint the docker CLI uses with `base` (DOCKER_HOST, DOCKER_CONTEXT or the current context); undefined when it cannot tell. */
export function cliEndpoint(base: NodeJS.ProcessEnv = process.env): string | undefined {
  const r = runDocker(["context", "inspect", "--format", "{{.Endpoints.docker.Host}}"], { env: base, timeoutMs: 30_000 });
  const out = r.stdout.trim();
  return r.code === 0 && /^[a-z]+:\/\//.test(out) ? out : undefined;
}

/**
 * The problems with the stack's docker:* provider settings: docker:context, and a docker:host
 * other than DOCKER_HOST, would send the provider to another engine than the one this program
 * inspects (API version, data volume) and `npm run destroy` removes volumes from. Pure.
 */
export function dockerConfigProblems(config: { host?: string; context?: string }, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  const engine = env.DOCKER_HOST || PROVIDER_DEFAULT_HOST;
  if (config.context) problems.push(`docker:context: ${JSON.stringify(config.context)} is not supported: set DOCKER_HOST (or \`docker context use\`) instead, so the docker CLI and the provider reach the same engine`);
  if (config.host && config.host !== engine) {
    problems.push(`docker:host: ${JSON.stringify(config.host)} differs from the engine the docker CLI uses (${engine}): remove docker:host from the stack file and set DOCKER_HOST=${config.host} instead`);
  }
  return problems;
}

function docker(args: string[], timeout = 30_000): { ok: boolean; out: string; err: string } {
  const r = runDocker(args, { timeoutMs: timeout });
  return { ok: r.code === 0 && !r.failure, out: r.stdout.trim(), err: `${r.stderr}${r.failure ? `\n${r.failure}` : ""}`.trim() };
}

/** Asks the engine that DOCKER_HOST (or the default socket) points at, as the docker provider does. */
export function viewEngine(stack: string): EngineView {
  const version = docker(["version", "--format", "{{.Server.APIVersion}}"]);
  if (!version.ok || !/^\d+\.\d+$/.test(version.out)) {
    throw new Error(`the Docker engine does not answer (\`docker version\`: ${version.err || version.out}); start it (npm run toolchain starts dockerd)`);
  }
  const name = resourceName(stack, "postgres");
  return {
    apiVersion: version.out,
    features: engineFeatures(version.out),
    postgresVolume: docker(["volume", "inspect", name]).ok,
    postgresContainer: docker(["container", "inspect", name]).ok,
    clusterVolume: docker(["volume", "inspect", clusterMembers(stack).nodes[0].volume]).ok,
  };
}

/** How long the probe may take: a cluster not shut down cleanly is copied whole first. */
const PROBE_TIMEOUT_MS = 15 * 60_000;

/**
 * `docker run` of the kept-cluster probe (checks/kept-cluster.ts): the stack's postgres image, never
 * pulled; the volume read-only; no network; only the capabilities a root that copies files it does
 * not own and then drops to the postgres user needs. Removed when it exits. Pure.
 */
export function probeRunArgs(volume: string, image: string, name: string): string[] {
  const caps = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "SETUID", "SETGID"];
  return [
    "run", "--rm", "--pull", "never", "--name", name, "--network", "none",
    "--mount", `type=volume,source=${volume},target=${KEPT_MOUNT},readonly`,
    "--cap-drop", "ALL", ...caps.flatMap((c) => ["--cap-add", c]), "--security-opt", "no-new-privileges",
    "--memory", "512m", "--label", "com.kryonix.service=kept-cluster-probe",
    "--entrypoint", "bash", image, "-c", renderProbeScript(),
  ];
}

/**
 * The role and database names of the cluster in the stack's kept postgres volume (a volume without
 * its container: adoptExistingCluster), read by a short-lived container that never writes to the
 * volume. Throws, naming the volume and what the probe said, when it cannot tell: the program must
 * not guess which roles to import.
 */
export function probeKeptCluster(stack: string, image: string): KeptCluster {
  const volume = resourceName(stack, "postgres");
  const name = `${volume}-probe-${process.pid}`;
  const r = docker(probeRunArgs(volume, image, name), PROBE_TIMEOUT_MS);
  // A timeout kills the CLI, not the container.
  if (!r.ok) docker(["rm", "-f", name]);
  try {
    if (!r.ok) {
      const said = r.err.split("\n").slice(-25).join("\n") || "no output";
      throw new Error(/No such image|Unable to find image/.test(said) ? `${said}\n(the image is not built here: npm run toolchain builds it)` : said);
    }
    return parseProbeOutput(r.out);
  } catch (err) {
    throw new Error(
      `cannot tell which roles the cluster in the kept volume ${volume} holds, so which to import and which to create (a container of ${image} on the volume, read-only): ${(err as Error).message}`,
    );
  }
}
