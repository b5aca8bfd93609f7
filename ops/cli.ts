/**
 * What every npm script (scripts/, bench/) shares on the command line: one argument parser, built
 * on node:util parseArgs, that says which argument is wrong and which are allowed; and one `main`
 * wrapper that prints an expected failure as one line (no stack trace) and sets the exit code.
 */
import { parseArgs } from "node:util";
import { CommandError } from "../io/docker-cli";
import { stackNameProblem } from "../model/config";
import { invalid } from "../model/messages";

/** A failure the user can act on (a bad argument, a stack that is not up): its message alone is printed, and the script exits with `exitCode`. */
export class ScriptError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

export interface BooleanFlag {
  type: "boolean";
  short?: string;
}

export interface StringFlag {
  type: "string";
  short?: string;
  /** The value's name in the usage: `--stack NAME`. */
  value: string;
  /** What the value is, for an error: "a stack name". */
  describe: string;
  /** A value for the error's example: `--stack dev`. */
  example: string;
  default?: string;
  /** The only values accepted. */
  choices?: readonly string[];
  /** May be given more than once (the values in order); otherwise once per run. */
  multiple?: boolean;
  /** What is wrong with a value, or undefined. */
  problem?: (value: string) => string | undefined;
}

export type Flag = BooleanFlag | StringFlag;
export type Flags = Record<string, Flag>;

export type FlagValues<F extends Flags> = {
  [K in keyof F]: F[K] extends BooleanFlag ? boolean : F[K] extends { multiple: true } ? string[] : F[K] extends { default: string } ? string : string | undefined;
};

/** `--stack NAME` (`-s NAME`, `--stack=NAME`), dev by default: every script that acts on a stack takes it. */
export const STACK_FLAG = { type: "string", short: "s", value: "NAME", describe: "a stack name", example: "dev", default: "dev", problem: stackNameProblem } as const satisfies StringFlag;
/** `--json`: the report as JSON on stdout. */
export const JSON_FLAG = { type: "boolean" } as const satisfies BooleanFlag;

/** The flags as a user reads them: "--stack NAME or --json", "--stack NAME, --json, --transactions N". Pure. */
export function allowedFlags(flags: Flags): string {
  const names = Object.entries(flags).map(([name, f]) => (f.type === "boolean" ? `--${name}` : `--${name} ${f.choices ? f.choices.join("|") : f.value}`));
  return names.length <= 2 ? names.join(" or ") : names.join(", ");
}

export interface ParseOptions {
  /** Arguments that are not ours go to `rest` instead of failing (a pulumi command line). */
  passThrough?: boolean;
  /** How the allowed arguments are named in an error; allowedFlags(flags) by default. */
  allowed?: string;
  /** Appended to every error (a usage text). */
  usage?: string;
}

/**
 * `argv` against `flags`, for `command` (as errors name it: "audit", "npm run destroy"). Throws a
 * ScriptError naming the argument and what is allowed for an unknown argument, a value missing (or
 * that is another flag: falling back to a default would act on the wrong stack), a value not among
 * the choices, or a flag given twice. Pure.
 */
export function parseCli<F extends Flags>(command: string, argv: readonly string[], flags: F, options: ParseOptions = {}): { values: FlagValues<F>; rest: string[] } {
  const fail = (message: string): never => {
    throw new ScriptError(options.usage ? `${message}\n${options.usage}` : message);
  };
  const allowed = options.allowed ?? allowedFlags(flags);
  const spec = Object.fromEntries(Object.entries(flags).map(([name, f]) => [name, { type: f.type, ...(f.short ? { short: f.short } : {}) }]));
  const { tokens } = parseArgs({ args: [...argv], options: spec, strict: false, allowPositionals: true, tokens: true });
  const given = new Map<string, { raw: string; value: string }[]>();
  const used = new Set<number>();
  const booleans = new Set<string>();
  for (const t of tokens) {
    if (t.kind === "option-terminator") {
      if (!options.passThrough) fail(invalid(`${command} argument`, "--", allowed));
      continue;
    }
    if (t.kind === "positional") {
      if (!options.passThrough) fail(invalid(`${command} argument`, t.value, allowed));
      continue;
    }
    const flag = flags[t.name];
    // Not strict: parseArgs hands an unknown `--x` over as a boolean, for us to refuse or pass on.
    if (!flag) {
      if (!options.passThrough) fail(invalid(`${command} argument`, argv[t.index], allowed));
      continue;
    }
    used.add(t.index);
    if (flag.type === "boolean") {
      if (t.value !== undefined) fail(invalid(`${command} ${t.rawName}`, argv[t.index], `${t.rawName} alone, without a value`));
      booleans.add(t.name);
      continue;
    }
    const value = t.value;
    if (!t.inlineValue) {
      if (value === undefined || value === "" || value.startsWith("-")) fail(invalid(`${command} ${t.rawName}`, value, `${flag.describe} after it, e.g. ${t.rawName} ${flag.example}`));
      used.add(t.index + 1);
    }
    if (!value) fail(invalid(`${command} ${t.rawName}`, value, flag.describe));
    if (flag.choices && !flag.choices.includes(value as string)) fail(invalid(`${command} --${t.name}`, value, flag.choices.join(", ")));
    const problem = flag.problem?.(value as string);
    if (problem) fail(problem);
    const raw = t.inlineValue ? argv[t.index] : `${t.rawName} ${value}`;
    given.set(t.name, [...(given.get(t.name) ?? []), { raw, value: value as string }]);
  }
  const values: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(flags)) {
    const seen = given.get(name) ?? [];
    if (flag.type === "boolean") values[name] = booleans.has(name);
    else if (flag.multiple) values[name] = seen.map((s) => s.value);
    else {
      if (seen.length > 1) fail(invalid(`${command} --${name}`, seen.map((s) => s.raw).join(", "), `one ${name} per run`));
      values[name] = seen[0]?.value ?? flag.default;
    }
  }
  return { values: values as FlagValues<F>, rest: argv.filter((_, i) => !used.has(i)) };
}

/** Prints why a script stops (see runMain) and returns its exit code. */
function stopped(command: string, err: unknown, crashExit: number): number {
  if (err instanceof ScriptError || err instanceof CommandError) {
    process.stderr.write(`${err.message.startsWith(command) ? "" : `${command}: `}${err.message}\n`);
    return err instanceof ScriptError ? err.exitCode : crashExit;
  }
  process.stderr.write(`${command}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return crashExit;
}

/**
 * Runs a script's main and sets its exit code: main's result; for a ScriptError its message (after
 * `command: ` unless it names the command already) and its exit code; for a command that failed
 * (io/docker-cli.ts CommandError) its message and `crashExit`; anything else is a bug, printed
 * with its stack trace, exit `crashExit`.
 */
export function runMain(command: string, main: () => number | Promise<number>, crashExit = 2): void {
  void Promise.resolve()
    .then(main)
    .then(
      (code) => {
        process.exitCode = code;
      },
      (err: unknown) => {
        process.exitCode = stopped(command, err, crashExit);
      },
    );
}

/** For a script written top to bottom: `parse()`'s result, or the script ends as runMain would end it. */
export function parsedOrExit<T>(command: string, parse: () => T, crashExit = 2): T {
  try {
    return parse();
  } catch (err) {
    process.exit(stopped(command, err, crashExit));
  }
}
