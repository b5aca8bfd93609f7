import type { ContainerArgs } from "@pulumi/docker";
import type { Input } from "@pulumi/pulumi";
import { resourceName, type StackContainer } from "./config";
import { invalid } from "./messages";
import { MiB } from "./size";

/**
 * Settings every kryonix container shares, and the checks the components run
 * on their arguments. Pure.
 */

/** Published ports bind here only: nothing the stack runs is reachable from another machine. */
export const LOOPBACK = "127.0.0.1";

/** Where secret files go in a container (a tmpfs in the images is up to them; the path is the contract). */
export const SECRETS_DIR = "/run/kryonix";
/** Where generated configuration goes in a container. */
export const CONFIG_DIR = "/etc/kryonix";

/**
 * Mode of uploaded files. Docker's copy API creates them owned by root, and
 * the service may run as its own user after the entrypoint, so they are
 * readable inside the container (and only there: uploads never appear in
 * `docker inspect`, unlike environment variables).
 */
export const UPLOAD_MODE = "0444";

export const RESTART_POLICY = "unless-stopped";
export const LOG_DRIVER = "json-file";
/** json-file rotation: at most 5 files of 10 MiB per container. */
export const LOG_OPTS: Readonly<Record<string, string>> = { "max-size": "10m", "max-file": "5" };

export function labels(stack: string, service: StackContainer): { label: string; value: string }[] {
  return [
    { label: "com.kryonix.stack", value: stack },
    { label: "com.kryonix.service", value: service },
    { label: "com.kryonix.managed-by", value: "pulumi" },
  ];
}

/** Docker's memory limit is in MiB; limits are floored to whole MiB (tuning floors to MiB too). */
export function memoryMiB(bytes: number): number {
  return Math.floor(bytes / MiB);
}

/** What the Docker engine supports, where the stack's settings depend on it. */
export interface EngineFeatures {
  /** Healthcheck start_interval needs API 1.44 (Docker 25); Debian 12's 20.10 speaks 1.41. */
  healthcheckStartInterval: boolean;
}

/** The features of an engine speaking API `apiVersion` ("1.41"). Pure. */
export function engineFeatures(apiVersion: string): EngineFeatures {
  const [major, minor] = apiVersion.split(".").map(Number);
  return { healthcheckStartInterval: major > 1 || (major === 1 && minor >= 44) };
}

/** A duration as Go prints it (time.Duration.String): the engine reports healthchecks this way, so "120s" would differ from "2m0s" on every refresh. Pure. */
export function goDuration(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 0) throw new Error(invalid("duration", seconds, "a whole number of seconds, 0 or more"));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h) return `${h}h${m}m${s}s`;
  if (m) return `${m}m${s}s`;
  return `${s}s`;
}

/** Docker --cpus as the engine reports it back (NanoCPUs as a decimal: 2 -> "2.0", 1.5 -> "1.5"). Pure. */
export function cpusString(cpus: number): string {
  return Number.isInteger(cpus) ? cpus.toFixed(1) : String(cpus);
}

/**
 * A Docker healthcheck running `command` (exec form) every 10 s; `pulumi up`
 * waits for it (Container `wait`). startPeriod covers first-start work such
 * as initdb. Inside it, an engine that can probes every second
 * (start_interval), so a ready service is seen at once; an older engine
 * probes every 5 s throughout instead.
 * Durations are written as the engine reports them back, so a refresh
 * finds no difference.
 */
export function healthcheck(command: string[], startPeriodSeconds: number, engine: EngineFeatures) {
  return {
    tests: ["CMD", ...command],
    interval: goDuration(engine.healthcheckStartInterval ? 10 : 5),
    timeout: goDuration(5),
    retries: engine.healthcheckStartInterval ? 6 : 12,
    startPeriod: goDuration(startPeriodSeconds),
    // "0s" (not left out) on an old engine: the engine reports 0s, and an absent value would differ from it.
    startInterval: goDuration(engine.healthcheckStartInterval ? 1 : 0),
  };
}

/** The problems with a host port argument, or none. */
export function portProblems(setting: string, port: unknown): string[] {
  return Number.isInteger(port) && (port as number) >= 1024 && (port as number) <= 65535
    ? []
    : [invalid(setting, port, "an integer from 1024 to 65535")];
}

/** The problems with a memory limit argument (bytes), or none. */
export function memoryProblems(setting: string, bytes: unknown, minBytes: number): string[] {
  return Number.isSafeInteger(bytes) && (bytes as number) >= minBytes
    ? []
    : [invalid(setting, bytes, `a byte count of at least ${minBytes} (${minBytes / MiB} MiB)`)];
}

/** Throws one Error listing every problem, prefixed with the component that found them. */
export function throwProblems(component: string, problems: string[]): void {
  if (problems.length) throw new Error(`${component}: ${problems.join("; ")}`);
}

/** What every service component takes: its stack (for names), its image, its network and its memory limit. */
export interface ServiceContainerArgs {
  /** The Pulumi stack name: the container is `kryonix-<stack>-<service>`. */
  stack: string;
  /** Local image tag, `kryonix/<service>:<hash>`. */
  image: Input<string>;
  /** The stack's Docker network. */
  network: Input<string>;
  /** Container memory limit in bytes. */
  memoryBytes: number;
  /** What the Docker engine supports (engineFeatures). */
  engine: EngineFeatures;
}

/**
 * The problems with what every service component takes: a stack name that makes valid Docker names,
 * and a memory limit of at least `minMemoryBytes`. `label` prefixes the argument names ("Minio"). Pure.
 */
export function serviceArgsProblems(args: ServiceContainerArgs, service: StackContainer, label: string, minMemoryBytes: number): string[] {
  const problems: string[] = [];
  try {
    resourceName(args.stack, service);
  } catch (err) {
    problems.push((err as Error).message);
  }
  problems.push(...memoryProblems(`${label} memoryBytes`, args.memoryBytes, minMemoryBytes));
  if (typeof args.engine?.healthcheckStartInterval !== "boolean") {
    problems.push(invalid(`${label} engine`, args.engine, "the engine's features, engineFeatures(<API version>)"));
  }
  return problems;
}

/**
 * The container settings every service shares: its name and hostname, the image, the restart policy,
 * the memory limit, its alias on the stack's network, ports on 127.0.0.1 only, waiting for healthy,
 * rotated logs and the stack's labels. Each component adds what is its own. Pure.
 */
export function serviceContainerArgs(
  args: ServiceContainerArgs,
  service: StackContainer,
  image: Input<string>,
  ports: ReadonlyArray<{ internal: number; external: number }>,
): ContainerArgs {
  const dockerName = resourceName(args.stack, service);
  return {
    name: dockerName,
    hostname: dockerName,
    image,
    restart: RESTART_POLICY,
    memory: memoryMiB(args.memoryBytes),
    // No swap: a database that swaps is slower than one that is told it has less memory. Set
    // explicitly, because the engine otherwise reports twice the memory and every refresh differs.
    memorySwap: memoryMiB(args.memoryBytes),
    networksAdvanced: [{ name: args.network, aliases: [service] }],
    ports: ports.map((p) => ({ internal: p.internal, external: p.external, ip: LOOPBACK, protocol: "tcp" })),
    wait: true,
    logDriver: LOG_DRIVER,
    logOpts: { ...LOG_OPTS },
    labels: labels(args.stack, service),
  };
}
