/**
 * The scratch copies `npm run restore` makes (a container and a volume of the same name): the
 * labels that mark them as a stack's, what `docker inspect` says of them as one row per copy, and
 * how `npm run restore -- --list` and `npm run destroy` show them. They are outside the stack's
 * state and sit on the stack network until removed, so the network cannot be deleted while one is
 * there. Pure: ops/restore-copies.ts runs docker.
 */
import type { RestoreTarget } from "./backup-cli";

export const STACK_LABEL = "org.kryonix.stack";
export const ROLE_LABEL = "org.kryonix.role";
export const RESTORE_ROLE = "restore";
/** The restore's target as given, or `latest`: what --list shows as TARGET. */
export const TARGET_LABEL = "org.kryonix.restore-target";

/** `--label` arguments for a copy's container and volume (and the one-off restore step). */
export function restoreLabels(stack: string, target: RestoreTarget): string[] {
  const value = target.kind === "time" ? target.time : "latest";
  return ["--label", `${STACK_LABEL}=${stack}`, "--label", `${ROLE_LABEL}=${RESTORE_ROLE}`, "--label", `${TARGET_LABEL}=${value}`];
}

/** `--filter` arguments for `docker ps -a` and `docker volume ls`: the stack's copies, whether or not the stack is up. */
export function restoreFilters(stack: string): string[] {
  return ["--filter", `label=${STACK_LABEL}=${stack}`, "--filter", `label=${ROLE_LABEL}=${RESTORE_ROLE}`];
}

/** What a user types to remove a copy (printed by a restore, --list and a stopped destroy). */
export function removeCommand(stack: string, what: string): string {
  return `npm run restore -- --stack ${stack} --remove ${what}`;
}

export interface RestoreCopy {
  name: string;
  /** The container's state (running, exited, ...); "no container" when a failed restore left only the volume. */
  state: string;
  /** When Docker created the container (or else the volume), UTC to the second. */
  created: string;
  /** The restore's target, `latest`, or `unknown` for a copy made without the label. */
  target: string;
  /** The port on 127.0.0.1, or undefined (no container, or none published). */
  port: number | undefined;
  hasContainer: boolean;
  hasVolume: boolean;
}

/** `docker inspect` of a container, as far as it is read here. */
export interface InspectedContainer {
  Name: string;
  Created: string;
  State?: { Status?: string };
  Config?: { Labels?: Record<string, string> | null };
  HostConfig?: { PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null };
}
/** `docker volume inspect` of a volume, as far as it is read here. */
export interface InspectedVolume {
  Name: string;
  CreatedAt?: string;
  Labels?: Record<string, string> | null;
}

const utcSecond = (t: string | undefined) => {
  const d = t ? new Date(t) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d.toISOString().replace(/\.\d+Z$/, "Z") : (t ?? "unknown");
};

/** One copy per name from the labelled containers and volumes, oldest first. */
export function restoreCopies(containers: readonly InspectedContainer[], volumes: readonly InspectedVolume[]): RestoreCopy[] {
  const byName = new Map<string, RestoreCopy>();
  for (const v of volumes) {
    byName.set(v.Name, { name: v.Name, state: "no container", created: utcSecond(v.CreatedAt), target: v.Labels?.[TARGET_LABEL] ?? "unknown", port: undefined, hasContainer: false, hasVolume: true });
  }
  for (const c of containers) {
    const name = c.Name.replace(/^\//, "");
    const binding = Object.values(c.HostConfig?.PortBindings ?? {}).flatMap((b) => b ?? [])[0];
    const volume = byName.get(name);
    byName.set(name, {
      name,
      state: c.State?.Status ?? "unknown",
      created: utcSecond(c.Created),
      target: c.Config?.Labels?.[TARGET_LABEL] ?? volume?.target ?? "unknown",
      port: binding?.HostPort ? Number(binding.HostPort) : undefined,
      hasContainer: true,
      hasVolume: volume !== undefined,
    });
  }
  return [...byName.values()].sort((a, b) => a.created.localeCompare(b.created) || a.name.localeCompare(b.name));
}

const port = (c: RestoreCopy) => (c.port === undefined ? "-" : `127.0.0.1:${c.port}`);

/** `npm run restore -- --list`: a table and how to remove, or a line saying there is none. */
export function renderCopies(stack: string, copies: readonly RestoreCopy[]): string {
  if (!copies.length) return `no restore copies of stack ${stack}\n`;
  const rows = [["NAME", "CREATED (UTC)", "TARGET", "PORT", "STATE"], ...copies.map((c) => [c.name, c.created, c.target, port(c), c.state])];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join("  "));
  return `${lines.join("\n")}\nremove: ${removeCommand(stack, "NAME")} (repeatable), or ${removeCommand(stack, "--all")}\n`;
}

/** Names given to --remove that are not copies of the stack: refused before anything is removed. */
export function unknownCopies(names: readonly string[], copies: readonly RestoreCopy[]): string[] {
  return names.filter((n) => !copies.some((c) => c.name === n));
}

/** What a destroy that keeps the data says when copies are in the way; it stops before touching anything. */
export function copiesInTheWay(stack: string, copies: readonly RestoreCopy[]): string {
  const one = copies.length === 1;
  return [
    `stopped before touching anything: ${copies.length} restore cop${one ? "y" : "ies"} of stack ${stack} ${one ? "is" : "are"} on its network, which cannot be deleted while ${one ? "it is" : "they are"}:`,
    ...copies.map((c) => `  ${c.name} (${c.state}${c.port === undefined ? "" : `, ${port(c)}`}, target ${c.target}, created ${c.created})`),
    "they are outside the stack's state, and a destroy that keeps the data does not remove them for you. Take what you need from them, then either:",
    `  ${removeCommand(stack, "--all")}   (or --remove NAME), then npm run destroy -- --stack ${stack} again; or`,
    `  npm run destroy -- --stack ${stack} --including-data   (removes them with the data volumes)`,
  ]
    .map((l) => `[destroy] ${l}\n`)
    .join("");
}
