import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { repoRoot } from "./repo-root";

/**
 * The stack CA as a file on this machine, for clients that take a path and not the PEM (the
 * postgresql provider's sslrootcert, psql's sslrootcert). Not a secret. One file per stack in the
 * gitignored .pulumi-state/tls/, rewritten by every run of the program before the provider
 * connects, so a renewed CA reaches it with no manual step.
 */
export function caFilePath(stack: string, root: string = repoRoot): string {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(stack)) throw new Error(`CA file: bad stack name ${JSON.stringify(stack)}`);
  // KRYONIX_TLS_DIR: the unit tests run the program on mocks for dev and prod, whose fake CA must
  // not replace the real stacks' files (vitest.config.mts points it at a temporary directory).
  const dir = process.env.KRYONIX_TLS_DIR || path.join(root, ".pulumi-state", "tls");
  return path.join(dir, `${stack}-ca.pem`);
}

/** True when caFilePath(stack) holds a certificate that parses. */
export function caFileUsable(stack: string, root: string = repoRoot): boolean {
  try {
    new X509Certificate(readFileSync(caFilePath(stack, root)));
    return true;
  } catch {
    return false;
  }
}

/** Writes `pem` to caFilePath(stack) (atomically, only when it changed) and returns the path. */
export function writeCaFile(stack: string, pem: string, root: string = repoRoot): string {
  const file = caFilePath(stack, root);
  let current: string | undefined;
  try {
    current = readFileSync(file, "utf8");
  } catch {
    current = undefined;
  }
  if (current !== pem) {
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, pem, { mode: 0o644 });
    renameSync(tmp, file);
  }
  return file;
}
