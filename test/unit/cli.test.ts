import { describe, expect, it } from "vitest";
import { allowedFlags, JSON_FLAG, parseCli, ScriptError, STACK_FLAG } from "../../ops/cli";
import {
  IN_PLACE_UNCONFIRMED,
  parseBackupArgs,
  parseDriftArgs,
  parseHealthArgs,
  parsePerformanceArgs,
  parsePulumiArgs,
  parseRestoreArgs,
  parseRotateArgs,
  parseStackJsonArgs,
  parseToolchainArgs,
} from "../../scripts/args";
import { DEFAULT_THRESHOLDS } from "../../model/thresholds";
import { LOGIN_ROLES } from "../../model/database";

describe("the scripts' argument parser (ops/cli.ts)", () => {
  const flags = { stack: STACK_FLAG, json: JSON_FLAG };

  it("takes --stack NAME, --stack=NAME and -s NAME, dev by default", () => {
    expect(parseCli("x", [], flags).values).toEqual({ stack: "dev", json: false });
    for (const args of [["--stack", "prod", "--json"], ["--json", "--stack=prod"], ["-s", "prod", "--json"]]) expect(parseCli("x", args, flags).values).toEqual({ stack: "prod", json: true });
  });

  it.each([
    [["--stack"], /^audit --stack: undefined is invalid: a stack name after it, e.g. --stack dev$/],
    [["--stack", "--json"], /^audit --stack: "--json" is invalid: a stack name after it/],
    [["-s", ""], /^audit -s: "" is invalid: a stack name after it, e.g. -s dev$/],
    [["--stack="], /^audit --stack: "" is invalid: a stack name$/],
    [["--stack", "Prod"], /^Pulumi stack name: "Prod" is invalid: 1 to 31 characters/],
    [["--bogus"], /^audit argument: "--bogus" is invalid: --stack NAME or --json$/],
    [["stray"], /^audit argument: "stray" is invalid: --stack NAME or --json$/],
    [["--json=yes"], /^audit --json: "--json=yes" is invalid: --json alone/],
    [["--stack", "a", "--stack=b"], /^audit --stack: "--stack a, --stack=b" is invalid: one stack per run$/],
  ])("refuses %j, naming the argument and what is allowed", (args, message) => {
    expect(() => parseCli("audit", args, flags)).toThrow(message);
    expect(() => parseCli("audit", args, flags)).toThrow(ScriptError);
  });

  it("passes what is not ours on, in order, when asked (a pulumi command line)", () => {
    const { values, rest } = parseCli("up", ["--target", "urn:a", "--stack", "devp", "-y", "--expect-no-changes", "--", "x"], { stack: STACK_FLAG }, { passThrough: true });
    expect(values.stack).toBe("devp");
    expect(rest).toEqual(["--target", "urn:a", "-y", "--expect-no-changes", "--", "x"]);
  });

  it("names the flags for a user, choices included, and appends a usage when given", () => {
    expect(allowedFlags({ stack: STACK_FLAG, json: JSON_FLAG })).toBe("--stack NAME or --json");
    expect(allowedFlags({ stack: STACK_FLAG, type: { type: "string", value: "T", describe: "a type", example: "full", choices: ["full", "diff"] }, json: JSON_FLAG })).toBe(
      "--stack NAME, --type full|diff, --json",
    );
    expect(() => parseCli("health", ["--x"], flags, { usage: "usage: npm run health" })).toThrow(/is invalid: --stack NAME or --json\nusage: npm run health$/);
  });
});

describe("the scripts' command lines (scripts/args.ts)", () => {
  it("audit, backup:status, backup:verify and test:db:connection: --stack NAME and --json", () => {
    for (const command of ["audit", "backup:status", "backup:verify", "test:db:connection"]) {
      expect(parseStackJsonArgs(command, [])).toEqual({ stack: "dev", json: false });
      expect(parseStackJsonArgs(command, ["--stack", "w7test", "--json"])).toEqual({ stack: "w7test", json: true });
      expect(() => parseStackJsonArgs(command, ["--fast"])).toThrow(`${command} argument: "--fast" is invalid: --stack NAME or --json`);
    }
  });

  describe("npm run backup", () => {
    it("defaults to a full backup of dev", () => {
      expect(parseBackupArgs([])).toEqual({ stack: "dev", type: "full" });
    });
    it.each([
      [["--stack", "prod", "--type", "diff"], { stack: "prod", type: "diff" }],
      [["--type=incr", "--stack=itest"], { stack: "itest", type: "incr" }],
      [["-s", "x"], { stack: "x", type: "full" }],
    ])("%j", (args, expected) => expect(parseBackupArgs(args)).toEqual(expected));
    it.each([
      [["--type", "weekly"], /backup --type: "weekly" is invalid: full, diff, incr/],
      [["--type"], /backup --type: undefined is invalid/],
      [["--stack"], /a stack name after it/],
      [["--stack", "--type"], /a stack name after it/],
      [["--full"], /backup argument: "--full" is invalid: --stack NAME or --type full\|diff\|incr/],
    ])("refuses %j", (args, message) => expect(() => parseBackupArgs(args)).toThrow(message));
  });

  describe("npm run restore", () => {
    it("takes a target time or --latest", () => {
      expect(parseRestoreArgs(["--target-time", "2026-11-29 16:05:00.123456+00"])).toEqual({ stack: "dev", target: { kind: "time", time: "2026-11-29 16:05:00.123456+00" }, inPlace: false });
      expect(parseRestoreArgs(["--stack", "prod", "--latest"])).toEqual({ stack: "prod", target: { kind: "latest" }, inPlace: false });
      expect(parseRestoreArgs(["--target-time=2026-11-29T16:05:00Z"]).target).toEqual({ kind: "time", time: "2026-11-29T16:05:00Z" });
    });
    it.each([
      [[], /exactly one of --target-time/],
      [["--latest", "--target-time", "2026-11-29 16:05"], /exactly one of/],
      [["--target-time", "yesterday"], /restore --target-time: "yesterday" is invalid/],
      [["--target-time", "2026-11-29 16:05'; DROP"], /is invalid/],
      [["--target-time"], /restore --target-time: undefined is invalid/],
      [["--now"], /restore argument: "--now" is invalid: --stack NAME, --target-time "<timestamp>", --latest, --in-place --yes-destroy-current-data/],
    ])("refuses %j", (args, message) => expect(() => parseRestoreArgs(args)).toThrow(message));
    it("takes --in-place only with --yes-destroy-current-data, and that flag only with --in-place", () => {
      expect(() => parseRestoreArgs(["--in-place", "--latest"])).toThrow(IN_PLACE_UNCONFIRMED);
      expect(IN_PLACE_UNCONFIRMED).toMatch(/add --yes-destroy-current-data to confirm/);
      expect(() => parseRestoreArgs(["--yes-destroy-current-data", "--latest"])).toThrow(/goes with --in-place only/);
      expect(parseRestoreArgs(["--in-place", "--yes-destroy-current-data", "--latest"])).toEqual({ stack: "dev", target: { kind: "latest" }, inPlace: true });
      expect(parseRestoreArgs(["--latest"]).inPlace).toBe(false);
    });
  });

  describe("npm run health", () => {
    it("defaults to dev, text, the default thresholds", () => {
      expect(parseHealthArgs([])).toEqual({ stack: "dev", json: false, thresholds: DEFAULT_THRESHOLDS, thresholdFlags: {} });
    });
    it("takes --stack, --json and repeated --threshold", () => {
      const a = parseHealthArgs(["--stack", "itest", "--json", "--threshold", "idleInTransactionWarnSeconds=1", "--threshold", "idleInTransactionCriticalSeconds=2"]);
      expect(a.stack).toBe("itest");
      expect(a.json).toBe(true);
      expect(a.thresholdFlags).toEqual({ idleInTransactionWarnSeconds: "1", idleInTransactionCriticalSeconds: "2" });
      expect(a.thresholds.idleInTransactionWarnSeconds).toBe(1);
      expect(a.thresholds.idleInTransactionCriticalSeconds).toBe(2);
    });
    it("refuses unknown arguments, thresholds and values, naming what is allowed, with the usage", () => {
      expect(() => parseHealthArgs(["--verbose"])).toThrow(/^health argument: "--verbose" is invalid: --stack NAME, --json, --threshold NAME=VALUE\nusage: npm run health/);
      expect(() => parseHealthArgs(["--threshold", "nope=1"])).toThrow(/NAME one of cacheHitRatioWarn/);
      expect(() => parseHealthArgs(["--threshold", "cacheHitRatioWarn=2"])).toThrow(/a number from 0 to 1/);
      expect(() => parseHealthArgs(["--threshold", "backupMaxAgeHours=-1"])).toThrow(/a number >= 0/);
      expect(() => parseHealthArgs(["--threshold", "idleInTransactionCriticalSeconds=10"])).toThrow(/at least idleInTransactionWarnSeconds/);
      expect(() => parseHealthArgs(["--stack"])).toThrow(/^health --stack: undefined is invalid: a stack name after it[\s\S]*usage: npm run health/);
    });
  });

  it("npm run test:db:performance: --stack, --json, --transactions N", () => {
    expect(parsePerformanceArgs([])).toEqual({ stack: "dev", json: false, clientsFactor: 10, transactions: 10 });
    expect(parsePerformanceArgs(["--stack", "x", "--json", "--transactions", "5"])).toMatchObject({ stack: "x", json: true, transactions: 5 });
    expect(() => parsePerformanceArgs(["--transactions", "0"])).toThrow(/an integer from 1 to 100000/);
    expect(() => parsePerformanceArgs(["--nope"])).toThrow('test:db:performance argument: "--nope" is invalid: --stack NAME, --json, --transactions N');
  });

  it("npm run rotate: --role NAME, one of the login roles, and --stack", () => {
    expect(parseRotateArgs(["--role", LOGIN_ROLES[0], "--stack", "devp"])).toEqual({ role: LOGIN_ROLES[0], stack: "devp" });
    expect(parseRotateArgs([`--role=${LOGIN_ROLES[0]}`])).toEqual({ role: LOGIN_ROLES[0], stack: "dev" });
    expect(() => parseRotateArgs([])).toThrow(`rotate --role: "" is invalid: ${LOGIN_ROLES.join(", ")}`);
    expect(() => parseRotateArgs(["--role", "postgres"])).toThrow(/rotate --role: "postgres" is invalid/);
    expect(() => parseRotateArgs(["--all"])).toThrow('rotate argument: "--all" is invalid: --role NAME and optionally --stack NAME');
  });

  it("npm run drift: --json wins over --markdown, --write DIR", () => {
    expect(parseDriftArgs([])).toEqual({ stack: "dev", format: "text", write: undefined });
    expect(parseDriftArgs(["--markdown", "--json", "--write", "out", "-s", "ci"])).toEqual({ stack: "ci", format: "json", write: "out" });
    expect(parseDriftArgs(["--markdown"]).format).toBe("markdown");
    expect(() => parseDriftArgs(["--write"])).toThrow(/^drift --write: undefined is invalid: a directory after it/);
    expect(() => parseDriftArgs(["--yaml"])).toThrow('drift argument: "--yaml" is invalid: --stack NAME, --json, --markdown, --write DIR');
  });

  it("up, preview and pulumi: the stack (else dev) and our own flags out, pulumi's flags on", () => {
    expect(parsePulumiArgs("up", ["up"])).toEqual({ stack: "dev", flags: {}, rest: ["up"] });
    expect(parsePulumiArgs("pulumi", ["stack", "output", "--stack=prod"]).stack).toBe("prod");
    expect(parsePulumiArgs("preview", ["-s", "test", "--json", "--diff"], ["markdown", "json"])).toEqual({ stack: "test", flags: { markdown: false, json: true }, rest: ["--diff"] });
    expect(() => parsePulumiArgs("up", ["--stack", "--yes"])).toThrow(/^up --stack: "--yes" is invalid: a stack name after it/);
  });
});

describe("npm run toolchain", () => {
  it("takes --provider-src DIR, and nothing else", () => {
    expect(parseToolchainArgs([])).toEqual({ providerSrc: undefined });
    expect(parseToolchainArgs(["--provider-src=../src"])).toEqual({ providerSrc: "../src" });
    expect(() => parseToolchainArgs(["--provider-src"])).toThrow("toolchain --provider-src: undefined is invalid: a folder after it, e.g. --provider-src ../shared/provider-src");
    expect(() => parseToolchainArgs(["--fast"])).toThrow('toolchain argument: "--fast" is invalid: --provider-src DIR');
  });
});
