import type { TlsVolumeFile } from "../model/tls";

/**
 * Writing a server's TLS volume from the host (providers/tls-files.ts), and deciding whether the
 * running server must reload. The files travel as a tar archive on the stdin of a short-lived
 * container of the service's own image (so the key's owner is that image's user, by name): never
 * in an argument list, an environment variable, a log or `docker inspect`. Pure.
 */

/** Where the writer container mounts the volume. */
export const WRITER_MOUNT = "/tls";
/** The staging directory inside the volume: files land there first, then are renamed into place. */
const STAGE = ".incoming";
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,98}$/;
const OWNER = /^[a-z_][a-z0-9_-]{0,31}$/;

/** A POSIX ustar archive of `files` (regular files, owners by name, numeric ids 0). Pure. */
export function tarArchive(files: readonly TlsVolumeFile[]): Buffer {
  const blocks: Buffer[] = [];
  for (const f of files) {
    if (!NAME.test(f.name)) throw new Error(`TLS volume: bad file name ${JSON.stringify(f.name)}`);
    if (!OWNER.test(f.owner)) throw new Error(`TLS volume: bad owner ${JSON.stringify(f.owner)}`);
    const body = Buffer.from(f.content, "utf8");
    const header = Buffer.alloc(512);
    const field = (value: string, offset: number, length: number) => header.write(value, offset, length, "ascii");
    const octal = (n: number, length: number) => `${n.toString(8).padStart(length - 1, "0")}\0`;
    field(f.name, 0, 100);
    field(octal(f.mode & 0o7777, 8), 100, 8);
    field(octal(0, 8), 108, 8);
    field(octal(0, 8), 116, 8);
    field(octal(body.length, 12), 124, 12);
    field(octal(0, 12), 136, 12);
    field(" ".repeat(8), 148, 8);
    field("0", 156, 1);
    field("ustar\u000000", 257, 8);
    field(f.owner, 265, 32);
    field(f.owner, 297, 32);
    let sum = 0;
    for (const byte of header) sum += byte;
    field(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/**
 * The writer's shell script: unpack stdin into a staging directory of the volume (GNU tar as root
 * keeps the archive's modes and owners, by name), then rename each file into place, so a server
 * reading the directory never sees a half-written file. Pure.
 */
export function writerScript(names: readonly string[]): string {
  for (const n of names) if (!NAME.test(n)) throw new Error(`TLS volume: bad file name ${JSON.stringify(n)}`);
  const stage = `${WRITER_MOUNT}/${STAGE}`;
  return [
    "set -eu",
    `rm -rf ${stage}`,
    `mkdir -m 0700 ${stage}`,
    `tar -x -p --same-owner -f - -C ${stage}`,
    ...names.map((n) => `mv -f ${stage}/${n} ${WRITER_MOUNT}/${n}`),
    `rmdir ${stage}`,
    `chmod 0755 ${WRITER_MOUNT}`,
  ].join("\n");
}

/** `docker run` arguments of the writer: no network, removed when done, the archive on stdin. Pure. */
export function writerDockerArgs(volume: string, image: string, names: readonly string[]): string[] {
  return [
    "run", "--rm", "-i", "--network", "none", "--log-driver", "none", "--user", "0",
    "--entrypoint", "sh", "-v", `${volume}:${WRITER_MOUNT}`, image, "-c", writerScript(names),
  ];
}

/** How a server is told to read its TLS files again: the server's name (its image). */
export type ReloadMethod = "postgres" | "pgbouncer" | "nginx" | "minio";
export const RELOAD_METHODS: readonly ReloadMethod[] = ["postgres", "pgbouncer", "nginx", "minio"];

/**
 * The `docker` arguments that reload the server in `container`: PostgreSQL's pg_reload_conf()
 * (ssl_* are reloadable since PostgreSQL 10) through the local socket as postgres; SIGHUP to the
 * others, each PID 1 of its container. PgBouncer builds a new TLS context on SIGHUP (since 1.16;
 * connections keep theirs). nginx's master re-reads its configuration and files, starts new
 * workers on the same listening sockets and lets the old ones finish their requests; it keeps the
 * old configuration when the new files do not load. MinIO reloads its certificates on SIGHUP
 * (minio/pkg certs.Manager.ReloadOnSignal); its file watcher would only fire on a write in place
 * (IN_CLOSE_WRITE), never on the rename the writer does. Pure.
 */
export function reloadDockerArgs(method: ReloadMethod, container: string): string[] {
  if (method === "postgres") return ["exec", "-u", "postgres", container, "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", "SELECT pg_reload_conf()"];
  return ["kill", "--signal", "HUP", container];
}

/**
 * How a client reaches the server's TLS handshake: PostgreSQL's protocol first asks for TLS
 * (SSLRequest), on PostgreSQL and PgBouncer; nginx and MinIO speak TLS from the first byte. Pure.
 */
export function handshakeProtocol(method: ReloadMethod): "postgres" | "tls" {
  return method === "postgres" || method === "pgbouncer" ? "postgres" : "tls";
}

/** What the files were, as the state records them: digests only, never the key. */
export interface TlsDigests {
  certificate: string;
  key: string;
  ca: string;
}

/**
 * Whether a write must be followed by a reload: only when the files changed and the container
 * runs. A container that is missing or stopped reads the files when it starts. Pure.
 */
export function reloadNeeded(olds: TlsDigests | undefined, news: TlsDigests, containerRunning: boolean): boolean {
  if (!containerRunning || !olds) return false;
  return olds.certificate !== news.certificate || olds.key !== news.key || olds.ca !== news.ca;
}

/**
 * `docker` arguments that print the SHA-256 of each file of the volume: in the running container
 * (`docker exec`, cheap), or else in a short-lived one of the image with the volume read-only. Pure.
 */
export function digestDockerArgs(target: { container: string; running: boolean; volume: string; image: string; dir: string }, names: readonly string[]): string[] {
  for (const n of names) if (!NAME.test(n)) throw new Error(`TLS volume: bad file name ${JSON.stringify(n)}`);
  if (target.running) return ["exec", target.container, "sha256sum", ...names.map((n) => `${target.dir}/${n}`)];
  return [
    "run", "--rm", "--network", "none", "--log-driver", "none", "--user", "0", "--entrypoint", "sha256sum",
    "-v", `${target.volume}:${WRITER_MOUNT}:ro`, target.image, ...names.map((n) => `${WRITER_MOUNT}/${n}`),
  ];
}

/** `sha256sum` output, by file name ("" for a file it did not print: missing or unreadable). Pure. */
export function parseSha256sum(out: string, names: readonly string[]): Record<string, string> {
  const found: Record<string, string> = Object.fromEntries(names.map((n) => [n, ""]));
  for (const line of out.split("\n")) {
    const m = /^([0-9a-f]{64}) [ *](.*\/)?([^/]+)$/.exec(line.trim());
    if (m && m[3] in found) found[m[3]] = m[1];
  }
  return found;
}
