/**
 * The one way this project runs `docker` and `mc` (and the other CLIs the scripts call): a
 * synchronous child with stdin, an environment, a timeout and an output limit, its result as
 * data, and one error message (the command, how it ended, the tail of what it said, no secret).
 *
 * The dynamic providers use it too, and Pulumi serializes a provider with every function it
 * reaches: so everything here is self-contained and node's modules are required when first used.
 */

export interface CliOptions {
  /** Written to the child's stdin (a secret goes here, never in `args`). */
  input?: string | Buffer;
  /** The child's whole environment; process.env when not given. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Killed after this long; default 2 minutes, 0 for never (a `pulumi up`). */
  timeoutMs?: number;
  /** Most bytes read from stdout or stderr; default 64 MiB. */
  maxBuffer?: number;
  /** Passes the child's output to ours instead of capturing it: all of it, or its stderr only. */
  inherit?: "all" | "stderr";
  /** Strings replaced by [secret] in the result's output and in the error. */
  secrets?: readonly string[];
}

export interface CliResult {
  /** The exit code; 1 when the child did not exit by itself (not started, killed, timed out). */
  code: number;
  stdout: string;
  /** stdout as bytes (`docker cp ... -` writes a tar archive). */
  stdoutBytes: Buffer;
  stderr: string;
  /** stdout, stderr and why the child did not run or finish, as one text (what the providers parse). */
  out: string;
  /** Why the child did not run or finish ("timed out after 120 s", "spawn docker ENOENT"); "" when it exited. */
  failure: string;
}

/**
 * What a provider needs of a run: its exit code and what it said. A provider takes a function
 * returning it (tests inject a fake); the real one is runCli's.
 */
export type CliOutcome = Pick<CliResult, "code" | "out"> & Partial<Pick<CliResult, "stderr" | "failure">>;

export const CLI_DEFAULT_TIMEOUT_MS = 120_000;

/** Runs `command args` to its end. Never throws: see cliError and runCliOrThrow. */
export function runCli(command: string, args: readonly string[], options: CliOptions = {}): CliResult {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawnSync }: typeof import("node:child_process") = require("node:child_process");
  const timeoutMs = options.timeoutMs ?? CLI_DEFAULT_TIMEOUT_MS;
  const stdin = options.input !== undefined ? "pipe" : options.inherit === "all" ? "inherit" : options.inherit === "stderr" ? "ignore" : "pipe";
  const stdio = options.inherit === "all" ? [stdin, "inherit", "inherit"] : options.inherit === "stderr" ? [stdin, "pipe", "inherit"] : [stdin, "pipe", "pipe"];
  const r = spawnSync(command, args, {
    // Bytes both ways: a string is sent as UTF-8, stdout may be a tar archive.
    input: typeof options.input === "string" ? Buffer.from(options.input, "utf8") : options.input,
    env: options.env ?? process.env,
    cwd: options.cwd,
    timeout: timeoutMs > 0 ? timeoutMs : undefined,
    maxBuffer: options.maxBuffer ?? 64 * 1024 * 1024,
    stdio: stdio as import("node:child_process").StdioOptions,
  });
  const hide = (text: string) => {
    for (const s of options.secrets ?? []) if (typeof s === "string" && s.length > 0) text = text.split(s).join("[secret]");
    return text;
  };
  const err = r.error as NodeJS.ErrnoException | undefined;
  const failure =
    err?.code === "ETIMEDOUT" ? `timed out after ${timeoutMs / 1000} s` : err ? hide(err.message) : r.status === null ? `killed by ${r.signal ?? "a signal"}` : "";
  const stdoutBytes = r.stdout ?? Buffer.alloc(0);
  const stdout = hide(stdoutBytes.toString("utf8"));
  const stderr = hide((r.stderr ?? Buffer.alloc(0)).toString("utf8"));
  return { code: r.status ?? 1, stdout, stdoutBytes, stderr, out: `${stdout}${stderr}${failure ? `${stdout || stderr ? "\n" : ""}${failure}` : ""}`, failure };
}

/**
 * The message for a command that failed: the command line (`secrets` hidden), its exit code or
 * why it did not finish, and the last lines it said (stderr, else stdout). Pure.
 */
export function cliError(command: string, args: readonly string[], r: CliOutcome, secrets: readonly string[] = []): string {
  let line = [command, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(" ");
  for (const s of secrets) if (typeof s === "string" && s.length > 0) line = line.split(s).join("[secret]");
  // A script passed with `-c` can be long: the command is recognisable by its start.
  if (line.length > 300) line = `${line.slice(0, 300)}…`;
  const said = (r.stderr?.trim() || r.out.trim()).split("\n").slice(-20).join("\n");
  const how = r.failure || `exited ${r.code}`;
  return `${line} ${how}${said ? `:\n${said}` : " (no output)"}`;
}

/** A command that did not exit 0: its message is cliError's, enough to act on without a stack trace. */
export class CommandError extends Error {}

/** Runs `command args`; throws a CommandError when it does not exit 0. */
export function runCliOrThrow(command: string, args: readonly string[], options: CliOptions = {}): CliResult {
  const r = runCli(command, args, options);
  if (r.code !== 0 || r.failure) throw new CommandError(cliError(command, args, options.inherit === "all" ? { ...r, stderr: "(its output is above)" } : r, options.secrets));
  return r;
}

/** `docker args` (DOCKER_HOST from `options.env`, see io/docker-engine.ts pinnedDockerEnv). */
export function runDocker(args: readonly string[], options: CliOptions = {}): CliResult {
  return runCli("docker", args, options);
}

/** `docker args`; throws a CommandError when it fails. */
export function dockerOrThrow(args: readonly string[], options: CliOptions = {}): CliResult {
  return runCliOrThrow("docker", args, options);
}

/** `mc args` from the PATH (the toolchain builds it). */
export function runMc(args: readonly string[], options: CliOptions = {}): CliResult {
  return runCli("mc", args, options);
}
