/** Docker helpers shared by the real tests: fail-fast commands, uploads as the docker provider does them, health waits. */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { UPLOAD_MODE, engineFeatures, type EngineFeatures } from "../../model/containers";
import { sh, waitFor } from "./process";

/** `docker <args>`, throwing with its output when it fails; returns trimmed stdout. */
export function dockerOk(args: string[]): string {
  const r = sh("docker", args);
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")} failed: ${r.out}`);
  return r.stdout.trim();
}

/** What the real Docker engine supports, from its API version (as io/docker-engine.ts asks it). */
export function engineOfDocker(): EngineFeatures {
  return engineFeatures(dockerOk(["version", "--format", "{{.Server.APIVersion}}"]));
}

/**
 * Copies files into a (created, not started) container the way the docker provider's `uploads`
 * do: one tar of file entries only, owned by root, mode UPLOAD_MODE, extracted at / through
 * Docker's copy API (missing parent directories are created 0755 by the engine). `mode` (octal
 * string) instead of UPLOAD_MODE for a file only root may read.
 */
export function uploadFiles(container: string, files: { file: string; content: string }[], stagingParent: string, mode = UPLOAD_MODE): void {
  const stage = mkdtempSync(path.join(stagingParent, "upload-"));
  const rels = files.map(({ file, content }) => {
    const rel = file.replace(/^\/+/, "");
    const abs = path.join(stage, rel);
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, content);
    chmodSync(abs, parseInt(mode, 8));
    return rel;
  });
  const r = sh("bash", [
    "-c",
    'set -euo pipefail; tar --create --file=- --no-recursion --owner=0 --group=0 --numeric-owner -C "$1" "${@:3}" | docker cp - "$2":/',
    "upload",
    stage,
    container,
    ...rels,
  ]);
  rmSync(stage, { recursive: true, force: true });
  if (r.code !== 0) throw new Error(`upload into ${container} failed: ${r.out}`);
}

/** Polls Docker's health status with a deadline; fails early when the container stops or turns unhealthy. Returns the ms it took. */
export async function waitHealthy(container: string, deadlineMs: number): Promise<number> {
  const t0 = Date.now();
  let last = "";
  try {
    await waitFor(`${container} healthy`, deadlineMs, () => {
      last = sh("docker", ["inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", container]).out.trim();
      const [state, health] = last.split(" ");
      if (health === "healthy") return true;
      if (state !== "running" || health === "unhealthy") throw new Error(`${container} is ${last}`);
      return false;
    });
  } catch (err) {
    const logs = sh("docker", ["logs", "--tail", "80", container]).out;
    const health = sh("docker", ["inspect", "-f", "{{json .State.Health}}", container]).out;
    throw new Error(`${(err as Error).message} (last: ${last})\nhealth: ${health}\nlogs:\n${logs}`);
  }
  return Date.now() - t0;
}

/**
 * Everything a postgres container's server logged: what Docker's log driver holds (the entrypoint,
 * the server's start before the logging collector, or all of it with kryonix:serverLog = docker)
 * and the collector's files in /var/log/postgresql (kryonix:serverLog = file), oldest first.
 */
export function postgresLog(container: string): string {
  const driver = sh("docker", ["logs", container]).out;
  const files = sh("docker", ["exec", "-u", "postgres", container, "bash", "-c", "cat /var/log/postgresql/postgresql-*.log 2>/dev/null || true"]).out;
  return `${driver}\n${files}`;
}
