import { existsSync, readFileSync } from "node:fs";
import { CLUSTER_IMAGES, type ClusterImage } from "../model/cluster";
import { SERVICES, type Service } from "../model/config";
import { invalid } from "../model/messages";
import { statusFile } from "./toolchain-state";

/** The local image tag of each service, `kryonix/<service>:<hash>`, as built by scripts/images.ts. */
export type ImageTags = Readonly<Record<Service, string>> & Readonly<Partial<Record<ClusterImage, string>>>;

// A local reference only: no registry host, so Docker never tries to pull it.
const LOCAL_TAG = /^kryonix\/([a-z0-9]+(?:[._-][a-z0-9]+)*):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/;

const RUN_TOOLCHAIN = "run `npm run toolchain` to build them";

/**
 * Checks the `images` field of toolchain-status.json: one local tag
 * `kryonix/<service>:<tag>` for every service. Pure; `file` only names the
 * source in the error.
 */
export function parseImageTags(images: unknown, file: string): ImageTags {
  if (typeof images !== "object" || images === null || Array.isArray(images)) {
    throw new Error(`${file} records no built images (field "images" is missing): ${RUN_TOOLCHAIN}`);
  }
  const record = images as Record<string, unknown>;
  const problems: string[] = [];
  for (const service of SERVICES) {
    const tag = record[service];
    const m = typeof tag === "string" ? LOCAL_TAG.exec(tag) : null;
    if (tag === undefined) {
      problems.push(`images.${service} is missing`);
    } else if (!m || m[1] !== service) {
      problems.push(invalid(`images.${service}`, tag, `a local tag kryonix/${service}:<hash>`));
    }
  }
  if (problems.length) {
    throw new Error(`${file} does not list every image the stack needs (${problems.join("; ")}): ${RUN_TOOLCHAIN}`);
  }
  // The cluster's images when the toolchain built them (a `ha` stack asks for them by name).
  const cluster = CLUSTER_IMAGES.filter((c) => typeof record[c] === "string" && LOCAL_TAG.exec(record[c] as string)?.[1] === c);
  return Object.fromEntries([...SERVICES, ...cluster].map((s) => [s, record[s] as string])) as ImageTags;
}

/**
 * The image tags recorded by the toolchain for this clone (toolchain/toolchain-state.ts statusFile),
 * field `images`.
 * Throws an error telling the operator to run `npm run toolchain` when the
 * file or any service's tag is missing.
 */
export function readImageTags(file: string = statusFile()): ImageTags {
  if (!existsSync(file)) {
    throw new Error(`no images built yet (${file} is missing): ${RUN_TOOLCHAIN}`);
  }
  let status: unknown;
  try {
    status = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}): ${RUN_TOOLCHAIN}`);
  }
  return parseImageTags((status as { images?: unknown } | null)?.images, file);
}

/** The images a `ha` stack runs besides the postgres image; throws when the toolchain did not build them. */
export function clusterImages(tags: ImageTags): { patroni: string; etcd: string; haproxy: string; postgres: string } {
  const missing = CLUSTER_IMAGES.filter((c) => !tags[c]);
  if (missing.length) throw new Error(`kryonix:topology ha needs the cluster images (${missing.join(", ")}), which are not built: ${RUN_TOOLCHAIN}`);
  return { patroni: tags.patroni!, etcd: tags.etcd!, haproxy: tags.haproxy!, postgres: tags.postgres };
}
