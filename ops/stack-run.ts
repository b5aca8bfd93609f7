/**
 * Running the stack from this project's scripts: the pinned CLI with the project's environment
 * (toolchain/pulumi-env.ts), what `npm run up` does before `pulumi up`, and reading a stack's outputs.
 */
import { serverContainer } from "./cluster-leader";
import { runCli, runDocker } from "../io/docker-cli";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { ConnectionTarget } from "./connection-checks";
import type { JobSchedules } from "../model/config";
import { projectEnv, pulumiCliEnv } from "../toolchain/pulumi-env";
import { settleStackFile } from "../model/stack-file";
import { caFileUsable, writeCaFile } from "../io/ca-file";
import { readStatus, type ToolchainStatus } from "../toolchain/toolchain-state";
import { repoRoot } from "../toolchain/versions";

export interface StackCli {
  status: ToolchainStatus;
  env: NodeJS.ProcessEnv;
  /** Runs pulumi with the output on this terminal; returns the exit code. */
  run(args: string[]): number;
  /** Runs pulumi and returns what it printed. */
  capture(args: string[]): { code: number; stdout: string; stderr: string };
}

/** Runs `fn`, then puts Pulumi.<stack>.yaml back as committed but for real changes (model/stack-file.ts). */
function keepingStackFile<T>(stack: string, fn: () => T): T {
  const file = path.join(repoRoot, `Pulumi.${stack}.yaml`);
  const read = () => (existsSync(file) ? readFileSync(file, "utf8") : undefined);
  const before = read();
  try {
    return fn();
  } finally {
    const after = read();
    const settled = settleStackFile(before, after);
    if (settled !== undefined && settled !== after) writeFileSync(file, settled);
  }
}

export function stackCli(stack: string, base: NodeJS.ProcessEnv = process.env): StackCli {
  const status = readStatus();
  const env = projectEnv(status, stack, base);
  return {
    status,
    env,
    run: (args) => keepingStackFile(stack, () => runCli(status.pulumi, args, { cwd: repoRoot, env: pulumiCliEnv(env), inherit: "all", timeoutMs: 0 }).code),
    capture: (args) =>
      keepingStackFile(stack, () => {
        const r = runCli(status.pulumi, args, { cwd: repoRoot, env: pulumiCliEnv(env), maxBuffer: 256 * 1024 * 1024, timeoutMs: 0 });
        return { code: r.code, stdout: r.stdout, stderr: `${r.stderr}${r.failure}` };
      }),
  };
}

interface ExportedResource {
  urn: string;
  type: string;
}

/** The resources in `pulumi stack export` output (none for a stack that was never deployed). Pure. */
export function exportedResources(exported: unknown): ExportedResource[] {
  const resources = (exported as { deployment?: { resources?: unknown } } | null)?.deployment?.resources;
  return Array.isArray(resources) ? (resources as ExportedResource[]).filter((r) => typeof r?.urn === "string") : [];
}

/**
 * The Docker resources of a stack (containers, networks, volumes, images), which a person can
 * remove by hand: `npm run up` refreshes these first, so that what is gone is created again.
 * The database objects are left out: reading them needs the server, which may be what is gone. Pure.
 */
export function dockerUrns(exported: unknown): string[] {
  return exportedResources(exported)
    .filter((r) => r.type.startsWith("docker:index/"))
    .map((r) => r.urn);
}

/**
 * Whether the state's PostgreSQL is running on the engine: the container under kryonix:db:Postgres,
 * or for `ha` HAProxy under kryonix:db:PostgresCluster (the door every SQL resource goes through).
 */
export function runningPostgres(exported: unknown, env: NodeJS.ProcessEnv): boolean {
  const isServer = (urn: string) => urn.includes("kryonix:db:Postgres$") || (urn.includes("kryonix:db:PostgresCluster$") && urn.endsWith("-haproxy"));
  const pg = exportedResources(exported).find((r) => r.type === "docker:index/container:Container" && isServer(r.urn)) as
    | { outputs?: { name?: string } }
    | undefined;
  const name = pg?.outputs?.name;
  if (!name) return false;
  const r = runDocker(["inspect", "--type", "container", "--format", "{{.State.Running}}", name], { env, timeoutMs: 60_000 });
  return r.code === 0 && r.stdout.trim() === "true";
}

/** The stack's outputs with secrets shown, or an error that says what to run. */
export function readOutputs(stack: string): Record<string, unknown> {
  const cli = stackCli(stack);
  const r = cli.capture(["stack", "output", "--json", "--show-secrets", "--stack", stack]);
  if (r.code !== 0) throw new Error(`cannot read the outputs of stack ${stack} (${r.stderr.trim()}): run \`npm run up -- --stack ${stack}\` first`);
  const outputs = JSON.parse(r.stdout || "{}") as Record<string, unknown>;
  if (!outputs.endpoints || !outputs.credentials) throw new Error(`stack ${stack} has no endpoints or credentials outputs: run \`npm run up -- --stack ${stack}\` first`);
  return outputs;
}

/** Outputs as the stack (index.ts) exports them, down to what the connection checks need. */
interface StackOutputs {
  endpoints: { postgres: { host: string; port: number; database: string }; pgbouncer: { host: string; port: number; database: string } };
  credentials: { postgres: { user: string; password: string }; roles: Record<string, string> };
  caCertificate: string;
  cluster?: { topology: "single" | "ha"; nodes?: { name: string; container: string; host: string }[] };
}

/** The ConnectionTarget of `npm run test:db:connection`, from the stack's outputs. Pure. */
export function connectionTargetFrom(stack: string, outputs: unknown): ConnectionTarget {
  const o = outputs as StackOutputs;
  return {
    stack,
    postgres: o.endpoints.postgres,
    pgbouncer: o.endpoints.pgbouncer,
    superuser: o.credentials.postgres,
    roles: o.credentials.roles,
    caCertificate: o.caCertificate,
    pgbouncerLeg: o.cluster?.topology === "ha" ? "tls" : "socket",
  };
}

export async function readConnectionTarget(stack: string): Promise<ConnectionTarget> {
  return connectionTargetFrom(stack, readOutputs(stack));
}

/** What the backup commands need from a stack's outputs; the password only to log in to a restored copy. */
export interface BackupTarget {
  stack: string;
  /** The postgres container, where pgbackrest.conf and its secrets are. */
  container: string;
  /** The restore drill's container (null from a stack brought up before it existed). */
  drillContainer: string | null;
  network: string;
  retentionFullDays: number;
  archiveTimeoutSeconds: number;
  /** The job schedules (null from a stack brought up before they existed). */
  schedules: JobSchedules | null;
  database: string;
  /** Where the host reaches the live server: 127.0.0.1 and this port, over TLS verified against this CA. */
  port: number;
  caCertificate: string;
  superuser: { user: string; password: string };
  /** A `ha` stack: `container` is the node leading when the target was read. */
  cluster?: boolean;
}

/** The BackupTarget from the stack's outputs (index.ts's `backup`, `dockerNetwork`, ...). Pure. */
export function backupTargetFrom(stack: string, outputs: unknown): BackupTarget {
  const o = outputs as StackOutputs & {
    dockerNetwork?: string;
    backup?: { container: string; drillContainer?: string; retentionFullDays: number; archiveTimeoutSeconds: number; schedules?: JobSchedules };
  };
  if (!o.backup || !o.dockerNetwork) throw new Error(`stack ${stack} has no backup output: run \`npm run up -- --stack ${stack}\` with this version first`);
  return {
    stack,
    container: o.backup.container,
    drillContainer: o.backup.drillContainer ?? null,
    network: o.dockerNetwork,
    retentionFullDays: o.backup.retentionFullDays,
    archiveTimeoutSeconds: o.backup.archiveTimeoutSeconds,
    schedules: o.backup.schedules ?? null,
    database: o.endpoints.postgres.database,
    port: o.endpoints.postgres.port,
    caCertificate: o.caCertificate,
    superuser: o.credentials.postgres,
  };
}

/** The stack's BackupTarget, and the environment its docker commands run with (DOCKER_HOST pinned). */
export function readBackupTarget(stack: string): { target: BackupTarget; env: NodeJS.ProcessEnv } {
  const outputs = readOutputs(stack);
  const target = backupTargetFrom(stack, outputs);
  const env = stackCli(stack).env;
  // ha: whichever node leads now (the output names node 1, which leads only until a failover).
  const cluster = (outputs as unknown as StackOutputs).cluster;
  return { target: { ...target, container: serverContainer(target.container, cluster, env), cluster: cluster?.topology === "ha" }, env };
}

/** What a script prints when ensureCaFile wrote the file again. */
export const CA_FILE_RESTORED = "the stack CA file was missing or unreadable: written again from the stack's caCertificate output";

/**
 * Puts the stack CA back at caFilePath(stack) when it is missing or unreadable (a fresh clone
 * against a shared backend; a file clobbered by hand), from the stack's `caCertificate` output.
 * The postgresql provider's sslrootcert is that path, and a refresh reads it before the program
 * runs and rewrites it, so without this a lost file would fail every refreshing run for good.
 * Returns what it did, for the caller to say; "none" when the stack has no CA yet (never deployed).
 */
export function ensureCaFile(stack: string, cli: StackCli): "present" | "restored" | "none" {
  if (caFileUsable(stack)) return "present";
  const r = cli.capture(["stack", "output", "caCertificate", "--stack", stack]);
  const pem = r.code === 0 ? r.stdout.trim() : "";
  if (!pem.startsWith("-----BEGIN CERTIFICATE-----")) return "none";
  writeCaFile(stack, `${pem}\n`);
  return "restored";
}
