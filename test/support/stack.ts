/**
 * A stack of a test's own for the real stack tests (test/stack/): named `<name>` (containers
 * kryonix-<name>-*), every port picked free on 127.0.0.1, its own file backend and passphrase in a
 * temporary folder, and Pulumi.<name>.yaml written for it (gitignored) and removed by dispose().
 */
import { LocalWorkspace, PulumiCommand, type Stack } from "@pulumi/pulumi/automation";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import pg from "pg";
import * as os from "node:os";
import * as path from "node:path";
import { pgSsl } from "../../model/tls";
import { projectEnv, pulumiCliEnv } from "../../toolchain/pulumi-env";
import { readStatus } from "../../toolchain/toolchain-state";
import { repoRoot } from "../../toolchain/versions";
import { removeDockerObjects, sh, stablePort, type Result } from "./process";

export const PORT_KEYS = ["postgresPort", "postgresReadPort", "pgbouncerPort", "pgadminPort", "minioPort", "minioConsolePort", "proxyHttpPort", "proxyHttpsPort", "prometheusPort"] as const;
export type PortKey = (typeof PORT_KEYS)[number];

/** The services of a stack, one container each (`kryonix-<stack>-<service>`), sorted as their names sort. */
export const STACK_SERVICES = ["minio", "pgadmin", "pgbouncer", "pgbouncer-exporter", "postgres", "postgres-exporter", "prometheus", "proxy", "restore-drill"] as const;

export interface TestStack {
  name: string;
  /** `kryonix-<name>-`: every Docker object of the stack starts with it. */
  prefix: string;
  ports: Record<PortKey, number>;
  /** The project environment for this stack (backend, passphrase, PATH, DOCKER_HOST). */
  env: NodeJS.ProcessEnv;
  /** The same stack through the Automation API, for previews, refreshes, config and outputs. */
  stack: Stack;
  /** An npm script of scripts/, run as a user runs it, against this stack. */
  npm(script: string, ...args: string[]): Result;
  /** Runs one step, prints and records how long it took. */
  timed<T>(step: string, fn: () => Promise<T> | T): Promise<T>;
  /** The stack's outputs, secrets shown. */
  outputs(): Promise<Record<string, any>>;
  /** The stack's containers, by name, sorted. */
  containerNames(): string[];
  /** Removes what a failed test left, the stack file and the backend, and prints the timings. */
  dispose(): void;
}

/**
 * A test stack's name: `base`, plus KRYONIX_TEST_SUFFIX when it is set, so that two clones can run
 * the same stack test on one Docker engine without removing each other's containers.
 */
export function testStackName(base: string): string {
  const suffix = process.env.KRYONIX_TEST_SUFFIX ?? "";
  if (!/^[a-z0-9-]*$/.test(suffix)) throw new Error(`KRYONIX_TEST_SUFFIX must match [a-z0-9-]* (got "${suffix}")`);
  return `${base}${suffix}`;
}

async function freePorts(): Promise<Record<PortKey, number>> {
  const ports: number[] = [];
  while (ports.length < PORT_KEYS.length) {
    const port = await stablePort();
    if (!ports.includes(port)) ports.push(port);
  }
  return Object.fromEntries(PORT_KEYS.map((k, i) => [k, ports[i]])) as Record<PortKey, number>;
}

/** `label` prefixes the printed timings, e.g. "stack test". */
export async function openTestStack(name: string, label: string, config: Record<string, string> = {}): Promise<TestStack> {
  const prefix = `kryonix-${name}-`;
  const stackFile = path.join(repoRoot, `Pulumi.${name}.yaml`);
  removeDockerObjects(prefix);
  const dir = mkdtempSync(path.join(os.tmpdir(), `${prefix}`));
  const ports = await freePorts();
  writeFileSync(
    stackFile,
    [`# Written by a test in test/stack/ (${label}), removed after it.`, "config:", ...PORT_KEYS.map((k) => `  kryonix:${k}: "${ports[k]}"`), ...Object.entries(config).map(([k, v]) => `  kryonix:${k}: "${v}"`), ""].join("\n"),
  );
  const base = { ...process.env, PULUMI_BACKEND_URL: `file://${dir}`, PULUMI_CONFIG_PASSPHRASE_FILE: path.join(dir, "passphrase") };
  writeFileSync(base.PULUMI_CONFIG_PASSPHRASE_FILE, `${prefix}passphrase\n`, { mode: 0o600 });
  const status = readStatus();
  const env = projectEnv(status, name, base);
  const pulumiCommand = await PulumiCommand.get({ root: path.dirname(path.dirname(status.pulumi)), skipVersionCheck: true });
  const envVars = Object.fromEntries(Object.entries(pulumiCliEnv(env)).filter((e): e is [string, string] => typeof e[1] === "string"));
  const stack = await LocalWorkspace.createOrSelectStack({ stackName: name, workDir: repoRoot }, { pulumiCommand, envVars });
  const timings: [string, number][] = [];

  return {
    name,
    prefix,
    ports,
    env,
    stack,
    npm: (script, ...args) => sh("npx", ["tsx", `scripts/${script}.ts`, "--stack", name, ...args], { env, cwd: repoRoot }),
    async timed(step, fn) {
      const t0 = Date.now();
      try {
        return await fn();
      } finally {
        const s = (Date.now() - t0) / 1000;
        timings.push([step, s]);
        process.stdout.write(`[${label}] ${step}: ${s.toFixed(1)} s\n`);
      }
    },
    outputs: async () => Object.fromEntries(Object.entries(await stack.outputs()).map(([k, v]) => [k, v.value])),
    containerNames: () => sh("docker", ["ps", "-a", "--format", "{{.Names}}", "--filter", `name=${prefix}`]).stdout.split("\n").filter(Boolean).sort(),
    dispose() {
      removeDockerObjects(prefix);
      rmSync(stackFile, { force: true });
      rmSync(dir, { recursive: true, force: true });
      process.stdout.write(`[${label}] timings:\n${timings.map(([s, t]) => `  ${s.padEnd(48)} ${t.toFixed(1).padStart(7)} s`).join("\n")}\n`);
    },
  };
}

/**
 * `run` in a session of the stack's superuser through its admin path (127.0.0.1, TLS verified
 * against the stack CA), from its outputs (TestStack.outputs()); the session ends after it.
 */
export async function asSuperuser<T>(outputs: Record<string, any>, run: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    host: "127.0.0.1",
    port: outputs.endpoints.postgres.port,
    database: outputs.endpoints.postgres.database,
    user: outputs.credentials.postgres.user,
    password: outputs.credentials.postgres.password,
    ssl: pgSsl(outputs.caCertificate, "127.0.0.1"),
    connectionTimeoutMillis: 5000,
  });
  // A server going away (a failover) emits 'error' on an idle client; the query in flight reports it.
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
