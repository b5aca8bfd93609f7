import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { repoRoot } from "./versions";

/** Builds live outside the repo so every clone and CI run on this machine reuses them. */
export function cacheRoot(): string {
  return process.env.KRYONIX_CACHE ?? path.join(os.homedir(), ".cache", "kryonix");
}

/**
 * What `npm run toolchain` installed for THIS clone (image tags follow the clone's images/ and
 * versions.json): one file per clone, so two clones or worktrees on one machine never switch each
 * other's image tags. The builds themselves stay shared, keyed by their inputs.
 */
export const statusFile = (root: string = repoRoot) =>
  path.join(cacheRoot(), "status", `${path.basename(root)}-${createHash("sha256").update(path.resolve(root)).digest("hex").slice(0, 12)}.json`);
export const pulumiHome = () => path.join(cacheRoot(), "pulumi-home");

/** Written by `npm run toolchain`, read by the pulumi wrapper and the tests. */
export interface ToolchainStatus {
  versionsSha: string;
  pulumi: string;
  binDirs: string[];
  pulumiHome: string;
  plugins: Record<string, string>;
  baseImage: string;
  /** Service -> local tag `kryonix/<service>:<inputs hash>` (scripts/images.ts). */
  images: Record<string, string>;
}

export function versionsSha(file = path.join(repoRoot, "versions.json")): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/** The toolchain as last installed, or an error that says what to run. */
export function readStatus(): ToolchainStatus {
  const file = statusFile();
  if (!existsSync(file)) throw new Error(`no toolchain installed (${file} is missing): run \`npm run toolchain\` first`);
  const status = JSON.parse(readFileSync(file, "utf8")) as ToolchainStatus;
  if (status.versionsSha !== versionsSha()) {
    throw new Error(`versions.json changed since the toolchain was installed: run \`npm run toolchain\` again`);
  }
  return status;
}
