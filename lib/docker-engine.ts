import { spawnSync } from "node:child_process";
import { resourceName } from "./config";
import { engineFeatures, type EngineFeatures } from "./containers";

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
}

/**
 * A cluster is adopted when its volume outlived its container: the roles and database inside
 * are imported into the state instead of created. A container that still exists means the
 * state has been tracking them (or never got as far as creating them). Pure.
 */
export function adoptExistingCluster(view: Pick<EngineView, "postgresVolume" | "postgresContainer">): boolean {
  return view.postgresVolume && !view.postgresContainer;
}

function docker(args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync("docker", args, { encoding: "utf8", timeout: 30_000 });
  return { ok: r.status === 0, out: (r.stdout ?? "").trim(), err: (r.stderr ?? r.error?.message ?? "").trim() };
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
  };
}
