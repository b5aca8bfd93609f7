/**
 * A digest of what makes the program: its sources and the stack's settings. index.ts exports it
 * (`programDigest`), so that any change to the code or the settings shows in a preview as a changed
 * stack output, even one that changes nothing but the value of a secret output (which the preview's
 * events mask): `npm run up` skips `pulumi up` only when the plan is empty, and an empty plan then
 * also means the same code and settings as the last update (checks/preview-summary.ts nothingToDo).
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { canonicalJson } from "../model/canonical-json";
import { stackSettings } from "../model/stack-file";

/** What the program runs and reads, relative to the repository: files, and folders taken whole. */
export const PROGRAM_SOURCES = ["index.ts", "Pulumi.yaml", "package-lock.json", "versions.json", "components", "providers", "model", "render", "checks", "io", "toolchain", "sql"];

function filesUnder(root: string, rel: string): string[] {
  const full = path.join(root, rel);
  if (!existsSync(full)) return [];
  if (!statSync(full).isDirectory()) return [rel];
  return readdirSync(full)
    .sort()
    .flatMap((name) => filesUnder(root, path.join(rel, name)));
}

/**
 * The digest of PROGRAM_SOURCES under `root` and of Pulumi.<stack>.yaml's settings (secrets as
 * their ciphertext, without the encryptionsalt the CLI writes and takes out again: model/stack-file.ts).
 */
export function programDigest(root: string, stack: string): string {
  const h = createHash("sha256");
  for (const rel of PROGRAM_SOURCES.flatMap((s) => filesUnder(root, s))) h.update(`${rel}\0`).update(readFileSync(path.join(root, rel))).update("\0");
  const stackFile = path.join(root, `Pulumi.${stack}.yaml`);
  h.update(existsSync(stackFile) ? canonicalJson(stackSettings(readFileSync(stackFile, "utf8"))) : "no stack file");
  return h.digest("hex").slice(0, 16);
}
