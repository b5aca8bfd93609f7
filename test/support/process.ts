/** Helpers shared by the real (smoke and providers) tests: run a command, find a free loopback port, wait with a deadline. */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
  out: string;
}

export function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Result {
  // A large maxBuffer: Node's 1 MiB default would silently cut a container's log short.
  const r = spawnSync(cmd, args, { encoding: "utf8", env: opts.env ?? process.env, input: opts.input, cwd: opts.cwd, timeout: 600_000, maxBuffer: 1024 * 1024 * 1024 });
  const stdout = r.stdout ?? "";
  const stderr = r.stderr ?? (r.error ? String(r.error) : "");
  return { code: r.status ?? 1, stdout, stderr, out: `${stdout}${stderr}` };
}

/** A port nobody listens on right now, on 127.0.0.1 (the only address our tests publish on). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/** Where stablePort's reservations live: one file per port, holding the reserving process's PID. */
const PORT_RESERVATIONS = "/tmp/kryonix-test-ports";

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Reserves `port` for this process across every test process of the machine. Two test files that
 * start together both find the same port free (nothing listens on it until their containers start,
 * minutes later) and one stack's container then fails with "port is already allocated" (a CI run,
 * 2026-12-07). The reservation is a file created exclusively; one whose process has ended is stale.
 */
export function reservePort(port: number, dir = PORT_RESERVATIONS): boolean {
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/${port}`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: "wx" });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let holder: number;
    try {
      holder = Number(readFileSync(file, "utf8").trim());
    } catch {
      continue; // removed meanwhile: try to take it
    }
    if (holder === process.pid) return false;
    if (Number.isInteger(holder) && holder > 0 && processAlive(holder)) return false;
    // Stale: removed, then taken exclusively again (whoever removes it second finds it gone or taken).
    try {
      unlinkSync(file);
    } catch {
      // another process removed it first
    }
  }
  return false;
}

/**
 * A free port on 127.0.0.1 below the kernel's ephemeral range, for a port a container publishes
 * minutes later: a port from the ephemeral range (what freePort returns) can be taken in between by
 * any outgoing connection or by a Pulumi plugin listening on port 0, and the container then fails
 * with "address already in use".
 */
export async function stablePort(): Promise<number> {
  const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
  const top = Math.min(low || 32768, 32768) - 1;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * (top - 20000));
    if (!reservePort(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("no free port found on 127.0.0.1 below the ephemeral range");
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it is true; throws naming `what` when the deadline passes. */
export async function waitFor(what: string, deadlineMs: number, probe: () => Promise<boolean> | boolean): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (await probe()) return;
    await sleep(250);
  }
  throw new Error(`${what} not ready within ${deadlineMs} ms`);
}

const ids = (r: Result) => r.stdout.split(/\s+/).filter(Boolean);

/** Removes every container (with its anonymous volumes), network and volume whose name contains `prefix`. */
export function removeDockerObjects(prefix: string): void {
  const containers = ids(sh("docker", ["ps", "-aq", "--filter", `name=${prefix}`]));
  if (containers.length) sh("docker", ["rm", "-f", "-v", ...containers]);
  const networks = ids(sh("docker", ["network", "ls", "-q", "--filter", `name=${prefix}`]));
  if (networks.length) sh("docker", ["network", "rm", ...networks]);
  const volumes = ids(sh("docker", ["volume", "ls", "-q", "--filter", `name=${prefix}`]));
  if (volumes.length) sh("docker", ["volume", "rm", "-f", ...volumes]);
}

/** What is left of a test's Docker objects, one "kind name" line each. */
export function dockerLeftovers(prefix: string): string[] {
  return [
    ...sh("docker", ["ps", "-a", "--format", "container {{.Names}}", "--filter", `name=${prefix}`]).stdout.split("\n"),
    ...sh("docker", ["network", "ls", "--format", "network {{.Name}}", "--filter", `name=${prefix}`]).stdout.split("\n"),
    ...sh("docker", ["volume", "ls", "--format", "volume {{.Name}}", "--filter", `name=${prefix}`]).stdout.split("\n"),
  ].filter((l) => l.trim());
}

/** Like sh, without blocking the event loop (so a test's own writers keep running meanwhile). */
export function shAsync(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, timeout: opts.timeoutMs ?? 600_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", (err) => (stderr += String(err)));
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr, out: `${stdout}${stderr}` }));
  });
}

/** The error a promise rejects with; fails when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error("expected an error, but it succeeded");
}
