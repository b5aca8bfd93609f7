/**
 * The container images of images/<service>/, built on the local Docker engine from our Debian 13 base.
 *
 * Each image is tagged kryonix/<service>:<hash12>, where the hash covers every file of its directory,
 * the base image's id, for minio the server binary built by the toolchain, and for an image built FROM
 * another of ours (patroni FROM postgres) that image's tag. `docker build` runs only
 * when that tag is missing, so an image is rebuilt exactly when one of its inputs changed.
 *
 * `npx tsx scripts/images.ts` builds them all and prints a table (name, tag, seconds, size).
 */
import { spawn } from "node:child_process";
import { runDocker } from "../io/docker-cli";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { cacheRoot, readStatus } from "../toolchain/toolchain-state";
import { repoRoot } from "../toolchain/versions";

export { SERVICES, type Service } from "../model/config";
import { SERVICES, type Service } from "../model/config";
import { CLUSTER_IMAGES, type ClusterImage } from "../model/cluster";

/** An image of images/<name>/: a service of the single stack or a member of the cluster. */
export type ImageName = Service | ClusterImage;
/** What `npm run images` and `npm run toolchain` build: the stack's services and the cluster's images. */
export const ALL_IMAGES: readonly ImageName[] = [...SERVICES, ...CLUSTER_IMAGES];

export const BASE_IMAGE = "kryonix/debian:trixie";

/**
 * Images built FROM another of ours rather than the Debian base: the other image's tag is passed as
 * the build argument FROM_IMAGE and hashed as an input, so a rebuilt postgres image rebuilds patroni.
 */
const BUILT_FROM: Partial<Record<ImageName, ImageName>> = { patroni: "postgres" };

/** `services`, each preceded by the image it is built from when that one is not listed before it. */
export function buildOrder(services: readonly ImageName[]): ImageName[] {
  const order: ImageName[] = [];
  const add = (s: ImageName) => {
    if (order.includes(s)) return;
    const from = BUILT_FROM[s];
    if (from) add(from);
    order.push(s);
  };
  services.forEach(add);
  return order;
}

/** Files of an image directory that are build-time extras, never inputs we hash or commit. */
const EXTRAS: Record<string, string[]> = {
  minio: ["minio"],
  pgadmin: ["build-ca.crt"],
};

export interface BuildImagesOptions {
  log: (s: string) => void;
  /** Default: all of SERVICES. */
  services?: readonly ImageName[];
  /** Default: <repo>/images. */
  imagesDir?: string;
  /** Default: the `minio` in the toolchain's binDirs (the toolchain's status file for this clone). */
  minioBinary?: string;
}

export interface ImageResult {
  service: ImageName;
  tag: string;
  /** false when the tag already existed. */
  built: boolean;
  seconds: number;
}

function docker(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = runDocker(args);
  if (r.failure) throw new Error(`cannot run docker ${args[0]}: ${r.failure}`);
  return r;
}

function imageExists(ref: string): boolean {
  return docker(["image", "inspect", "--format", "{{.Id}}", ref]).code === 0;
}

export function imageSize(ref: string): number {
  const r = docker(["image", "inspect", "--format", "{{.Size}}", ref]);
  return r.code === 0 ? Number(r.stdout.trim()) : NaN;
}

/** Every regular file under dir, as sorted paths relative to it (POSIX separators). */
function listFiles(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(dir, p));
    else if (entry.isFile()) out.push(p);
  }
  return out.sort();
}

function sha256File(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/** The toolchain's MinIO server binary. */
export function findMinioBinary(): string {
  const status = readStatus();
  for (const dir of status.binDirs) {
    const candidate = path.join(dir, "minio");
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`no minio binary in the toolchain's binDirs (${status.binDirs.join(", ")}): run \`npm run toolchain\``);
}

/**
 * The content hash of an image's inputs: each file's path and content (build-time extras excluded),
 * the base image's id, and the hashes of the extra inputs (the minio binary).
 */
export function inputsHash(serviceDir: string, service: string, baseImageId: string, extraInputs: Record<string, string> = {}): string {
  const h = createHash("sha256");
  h.update(`kryonix-image v1\nservice ${service}\nbase ${baseImageId}\n`);
  const skip = new Set(EXTRAS[service] ?? []);
  for (const rel of listFiles(serviceDir)) {
    if (skip.has(rel)) continue;
    h.update(`file ${rel} ${sha256File(path.join(serviceDir, rel))}\n`);
  }
  for (const [name, digest] of Object.entries(extraInputs).sort(([a], [b]) => a.localeCompare(b))) {
    h.update(`extra ${name} ${digest}\n`);
  }
  return h.digest("hex");
}

/** The CA bundle the host trusts, for pip inside the pgadmin build (TLS-inspecting proxies). */
function hostCaBundle(): string | undefined {
  const candidates = [process.env.PIP_CERT, process.env.REQUESTS_CA_BUNDLE, process.env.SSL_CERT_FILE, "/etc/ssl/certs/ca-certificates.crt"];
  return candidates.find((f): f is string => !!f && existsSync(f) && statSync(f).isFile());
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Runs `docker build`, output to a log file, with a heartbeat; rejects with the log's tail. */
function dockerBuild(context: string, tag: string, labels: Record<string, string>, buildArgs: Record<string, string>, log: string, say: (s: string) => void): Promise<void> {
  const args = ["build", "--network", "default", "--tag", tag];
  for (const [k, v] of Object.entries(labels)) args.push("--label", `${k}=${v}`);
  for (const [k, v] of Object.entries(buildArgs)) args.push("--build-arg", `${k}=${v}`);
  args.push(context);
  return new Promise((resolve, reject) => {
    const out = createWriteStream(log, { flags: "w" });
    out.write(`$ docker ${args.join(" ")}\n`);
    const child = spawn("docker", args, { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    const t0 = Date.now();
    const heartbeat = setInterval(() => say(`  still building ${tag} (${formatSeconds(Date.now() - t0)}; log: ${log})`), 30_000);
    child.on("error", (e) => {
      clearInterval(heartbeat);
      out.end();
      reject(new Error(`cannot run docker build: ${e.message}`));
    });
    child.on("close", (code) => {
      clearInterval(heartbeat);
      out.end(() => {
        if (code === 0) return resolve();
        const tail = readFileSync(log, "utf8").split("\n").slice(-25).join("\n");
        reject(new Error(`docker build of ${tag} failed (exit ${code}); log: ${log}\n${tail}`));
      });
    });
  });
}

/** Builds what is missing and returns, per service, its tag, whether it was built and how long that took. */
export async function buildImagesDetailed(opts: BuildImagesOptions): Promise<ImageResult[]> {
  const say = opts.log;
  const imagesDir = opts.imagesDir ?? path.join(repoRoot, "images");
  const services = buildOrder(opts.services ?? SERVICES);
  const logDir = path.join(cacheRoot(), "logs");
  mkdirSync(logDir, { recursive: true });

  const base = docker(["image", "inspect", "--format", "{{.Id}}", BASE_IMAGE]);
  if (base.code !== 0) {
    throw new Error(`the base image ${BASE_IMAGE} is missing (${base.stderr.trim()}): run \`npm run toolchain\``);
  }
  const baseId = base.stdout.trim();

  const results: ImageResult[] = [];
  for (const service of services) {
    const t0 = Date.now();
    const dir = path.join(imagesDir, service);
    if (!existsSync(path.join(dir, "Dockerfile"))) throw new Error(`no Dockerfile in ${dir}`);

    const extras: Record<string, string> = {};
    const extraInputs: Record<string, string> = {};
    if (service === "minio") {
      const bin = opts.minioBinary ?? findMinioBinary();
      extras.minio = bin;
      extraInputs["minio binary"] = sha256File(bin);
    }
    if (service === "pgadmin") {
      const ca = hostCaBundle();
      if (ca) extras["build-ca.crt"] = ca;
    }

    const buildArgs: Record<string, string> = {};
    const from = BUILT_FROM[service];
    if (from) {
      const parent = results.find((r) => r.service === from);
      if (!parent) throw new Error(`${service} is built FROM ${from}, which was not built first`);
      buildArgs.FROM_IMAGE = parent.tag;
      extraInputs["from image"] = parent.tag;
    }

    const hash = inputsHash(dir, service, baseId, extraInputs);
    const tag = `kryonix/${service}:${hash.slice(0, 12)}`;
    if (imageExists(tag)) {
      const ms = Date.now() - t0;
      say(`${service}: ${tag} is up to date, not rebuilt (${formatSeconds(ms)})`);
      results.push({ service, tag, built: false, seconds: ms / 1000 });
      continue;
    }

    // The build context: the directory's files plus the build-time extras, in a temporary copy so
    // nothing is written into the work tree.
    const context = mkdtempSync(path.join(os.tmpdir(), `kryonix-image-${service}-`));
    const log = path.join(logDir, `image-${service}-${hash.slice(0, 12)}.log`);
    try {
      const skip = new Set(EXTRAS[service] ?? []);
      for (const rel of listFiles(dir)) {
        if (skip.has(rel)) continue;
        mkdirSync(path.dirname(path.join(context, rel)), { recursive: true });
        copyFileSync(path.join(dir, rel), path.join(context, rel));
      }
      for (const [name, src] of Object.entries(extras)) copyFileSync(src, path.join(context, name));
      if (extras.minio) chmodSync(path.join(context, "minio"), 0o755);
      say(`${service}: building ${tag} (inputs changed or never built; log: ${log})`);
      await dockerBuild(context, tag, { "org.kryonix.service": service, "org.kryonix.inputs": hash }, buildArgs, log, say);
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
    const ms = Date.now() - t0;
    say(`${service}: built ${tag} in ${formatSeconds(ms)}`);
    results.push({ service, tag, built: true, seconds: ms / 1000 });
  }
  return results;
}

/** Builds the images whose inputs changed; returns service -> tag. */
export async function buildImages(opts: BuildImagesOptions): Promise<Record<string, string>> {
  const results = await buildImagesDetailed(opts);
  return Object.fromEntries(results.map((r) => [r.service, r.tag]));
}

async function main() {
  const t0 = Date.now();
  const results = await buildImagesDetailed({ log: (s) => process.stdout.write(`[images] ${s}\n`), services: ALL_IMAGES });
  const rows = results.map((r) => {
    const size = imageSize(r.tag);
    return [r.service, r.tag, `${r.seconds.toFixed(1)}${r.built ? "" : " (cached)"}`, Number.isNaN(size) ? "?" : `${(size / 1e6).toFixed(0)} MB`];
  });
  const header = ["name", "tag", "seconds", "size"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  process.stdout.write(`${line(header)}\n${line(widths.map((w) => "-".repeat(w)))}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
  process.stdout.write(`total ${formatSeconds(Date.now() - t0)}\n`);
}

if (typeof require !== "undefined" && typeof module !== "undefined" && require.main === module) {
  main().catch((e) => {
    process.stderr.write(`[images] FAILED: ${(e as Error).message ?? e}\n`);
    process.exit(1);
  });
}
