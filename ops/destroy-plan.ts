/**
 * What `npm run destroy` does, decided before anything runs, and what it tells the user. Pure.
 *
 * Every data volume is created with retainOnDelete (components/postgres.ts, components/minio.ts),
 * so `pulumi destroy` removes containers and the network, drops the volumes from the state and
 * leaves them on the Docker engine. `--including-data` removes them afterwards with
 * `docker volume rm`. Volumes protected in the state (prod, kryonix:protectData) make
 * `pulumi destroy` fail; unprotecting them is left to the user.
 */
import { clusterMembers } from "../model/cluster";
import { resourceName } from "../model/config";
import { invalid } from "../model/messages";
import { copiesInTheWay, type RestoreCopy } from "../render/restore-copies";
import { parseCli, STACK_FLAG } from "./cli";

export const INCLUDING_DATA = "--including-data";
export const VOLUME_TYPE = "docker:index/volume:Volume";

export interface DestroyPlan {
  stack: string;
  /** Remove the stack's data volumes from the Docker engine after a successful destroy. */
  includingData: boolean;
  /** The pulumi command line: `destroy --stack <stack>`, then the caller's other arguments. */
  pulumiArgs: string[];
}

// A destroy that leaves part of the stack behind: the volumes may still be mounted or managed.
const PARTIAL_DESTROY_FLAGS = [
  "--target",
  "-t",
  "--target-dependents",
  "--exclude",
  "--exclude-dependents",
  "--exclude-protected",
  "--preview-only",
];

const isFlag = (arg: string, flag: string) => arg === flag || arg.startsWith(`${flag}=`);

/**
 * Reads `npm run destroy` arguments: `--stack NAME` / `--stack=NAME` / `-s NAME` (default dev),
 * `--including-data`, and anything else for `pulumi destroy` (e.g. `--yes`). Throws on a stack
 * flag without a value or given twice, an invalid stack name, and `--including-data` together
 * with a flag that destroys only part of the stack.
 */
export function planDestroy(args: string[]): DestroyPlan {
  const { values, rest } = parseCli("npm run destroy", args, { stack: STACK_FLAG, "including-data": { type: "boolean" } }, { passThrough: true });
  const { stack, "including-data": includingData } = values;
  if (includingData) {
    const partial = rest.filter((a) => PARTIAL_DESTROY_FLAGS.some((f) => isFlag(a, f)));
    if (partial.length) {
      throw new Error(
        invalid(`npm run destroy ${INCLUDING_DATA}`, partial.join(" "), "only with a whole-stack destroy (no --target, --exclude, --exclude-protected or --preview-only)"),
      );
    }
  }
  // No terminal to confirm at (CI, cron): `npm run destroy` is the confirmation.
  const unattended = [...(rest.some((a) => isFlag(a, "--yes") || a === "-y") ? [] : ["--yes"]), ...(rest.includes("--non-interactive") ? [] : ["--non-interactive"])];
  return { stack, includingData, pulumiArgs: ["destroy", "--stack", stack, ...unattended, ...rest] };
}

// Destroys that leave the stack network where it is, so restore copies on it are no obstacle.
const NETWORK_KEPT_FLAGS = ["--preview-only", "--target", "-t", "--target-dependents"];

/** What the destroy does about the restore copies found on the engine, before anything else. */
export type CopiesStep = { kind: "none" } | { kind: "remove"; copies: readonly RestoreCopy[] } | { kind: "stop"; message: string };

/**
 * The scratch copies `npm run restore` made sit on the stack network, outside the state: a whole-stack
 * destroy could not delete the network while one is there. With --including-data the user asked for
 * all of the stack's data to go, and the copies are made from its backups: they are removed first.
 * Without it the destroy keeps data, and a copy may hold rows a DBA still needs: it stops before
 * touching anything (exit 3), naming them and the ways on.
 */
export function copiesStep(plan: DestroyPlan, copies: readonly RestoreCopy[]): CopiesStep {
  if (!copies.length || plan.pulumiArgs.some((a) => NETWORK_KEPT_FLAGS.some((f) => isFlag(a, f)))) return { kind: "none" };
  return plan.includingData ? { kind: "remove", copies } : { kind: "stop", message: copiesInTheWay(plan.stack, copies) };
}

/** `npm run destroy` stopped before touching anything because restore copies are in the way. */
export const COPIES_IN_THE_WAY_EXIT = 3;

/** Components whose resources a destroy that keeps the data keeps too: the keys to that data (components/secrets.ts, components/pki.ts). */
export const KEPT_WITH_DATA_TYPES = ["kryonix:db:Secrets", "kryonix:db:Pki"];

/**
 * URNs to pass as `--exclude` to a destroy that keeps the data: the components of
 * KEPT_WITH_DATA_TYPES and everything below them, from `pulumi stack export` output. Pure.
 */
export function keptWithDataUrns(exported: unknown): string[] {
  const resources = exportedResources(exported) as (ExportedResource & { parent?: unknown })[];
  const kept = new Set(resources.filter((r) => KEPT_WITH_DATA_TYPES.includes(String(r.type))).map((r) => String(r.urn)));
  // Parents come before their children in an export, so one pass finds every descendant.
  for (const r of resources) if (typeof r.parent === "string" && kept.has(r.parent)) kept.add(String(r.urn));
  return [...kept];
}

/**
 * The Docker volumes holding the stack's data: PostgreSQL's, MinIO's and Prometheus' samples.
 * pgAdmin has none (its configuration is uploaded on every start), PgBouncer neither.
 */
export function dataVolumes(stack: string, topology: "single" | "ha" | "any" = "any"): string[] {
  // Both topologies' by default (each ha node's data, each etcd member's): a destroy leaves no volume of either unnamed.
  const cluster = clusterMembers(stack);
  return [
    ...(topology === "ha" ? [] : [resourceName(stack, "postgres")]),
    ...(topology === "single" ? [] : [...cluster.nodes.map((n) => n.volume), ...cluster.etcd.map((m) => m.volume)]),
    resourceName(stack, "minio"),
    resourceName(stack, "prometheus"),
  ];
}

interface ExportedResource {
  urn?: unknown;
  type?: unknown;
  protect?: unknown;
  inputs?: { name?: unknown };
  outputs?: { name?: unknown };
}

function exportedResources(exported: unknown): ExportedResource[] {
  const resources = (exported as { deployment?: { resources?: unknown } } | null)?.deployment?.resources;
  return Array.isArray(resources) ? (resources as ExportedResource[]) : [];
}

/** URNs of the protected resources in `pulumi stack export` output. */
export function protectedUrns(exported: unknown): string[] {
  return exportedResources(exported)
    .filter((r) => r.protect === true && typeof r.urn === "string")
    .map((r) => r.urn as string);
}

/** Which of the stack's data volumes `pulumi stack export` output still holds (none after a full destroy). */
export function managedDataVolumes(exported: unknown, stack: string): string[] {
  const names = new Set(
    exportedResources(exported)
      .filter((r) => r.type === VOLUME_TYPE)
      .map((r) => r.outputs?.name ?? r.inputs?.name),
  );
  return dataVolumes(stack).filter((v) => names.has(v));
}

/** The stack's data volumes among `docker volume ls --format '{{.Name}}'` output. */
export function presentDataVolumes(stack: string, volumeLs: string): string[] {
  const names = new Set(volumeLs.split("\n").map((l) => l.trim()));
  return dataVolumes(stack).filter((v) => names.has(v));
}

/** Quotes an argument for a POSIX shell when it needs it. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

const prefixed = (lines: string[]) => lines.map((l) => `[destroy] ${l}\n`).join("");

/** After a plain destroy: which volumes stayed on the engine, and the exact command that removes them. */
export function keptVolumesMessage(stack: string, kept: string[]): string {
  if (!kept.length) return prefixed([`stack ${stack} has no data volume on the Docker engine; nothing was kept.`]);
  return prefixed([
    `kept the data volumes of stack ${stack} on the Docker engine (no longer in the Pulumi state): ${kept.join(", ")}`,
    `and kept the stack's generated secrets and CA in its state, so that the data opens with the same keys.`,
    `a later \`npm run up -- --stack ${stack}\` mounts them again and adopts the database in them. To delete them, and the data with them:`,
    `  docker volume rm ${kept.map(shellQuote).join(" ")}`,
    `(or \`npm run destroy -- --stack ${stack} ${INCLUDING_DATA}\`)`,
  ]);
}

/** After `pulumi destroy` failed on a stack with protected resources: how to unprotect them, never done here. */
export function protectedMessage(plan: DestroyPlan, urns: string[]): string {
  return prefixed([
    `pulumi destroy failed, and stack ${plan.stack} holds protected resources, which it refuses to delete (kryonix:protectData):`,
    ...urns.map((u) => `  ${u}`),
    `this script never unprotects anything${plan.includingData ? ", and removed no volume" : ""}. If you really mean to destroy ${plan.stack}, unprotect them yourself, then run it again:`,
    ...urns.map((u) => `  npm run pulumi -- state unprotect --stack ${plan.stack} ${shellQuote(u)}`),
    `  npm run destroy -- --stack ${plan.stack}${plan.includingData ? ` ${INCLUDING_DATA}` : ""}`,
  ]);
}
