/**
 * The toolchain, for real: the pinned CLI and language host run a throwaway program against a local
 * file backend with plugin acquisition disabled; the base image, MinIO and mc work. Requires
 * `npm run toolchain` to have run (the README's test command does).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, chmodSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectEnv } from "../../toolchain/pulumi-env";
import { DEFAULT_PROVIDER_SRC } from "../../toolchain/source-build";
import { ToolchainStatus, readStatus } from "../../toolchain/toolchain-state";
import { loadVersions, pluginVersion, repoRoot } from "../../toolchain/versions";
import { freePort, sh, waitFor } from "../support/process";

const versions = loadVersions();
let status: ToolchainStatus;

beforeAll(() => {
  status = readStatus();
});

describe("pinned binaries", () => {
  it("the CLI is the pinned version and the language host is beside it on PATH", () => {
    const want = versions.go.pulumi.ldflags["github.com/pulumi/pulumi/sdk/v3/go/common/version.Version"];
    expect(sh(status.pulumi, ["version"]).stdout.trim()).toBe(want);
    const env = projectEnv(status, "smoke", process.env, { stateDir: os.tmpdir(), secretsDir: mkdtempSync(path.join(os.tmpdir(), "kx-s-")) });
    for (const bin of ["pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]) {
      expect(sh("sh", ["-c", `command -v ${bin}`], { env }).code, `${bin} on the project PATH`).toBe(0);
    }
  });

  it("every provider plugin is installed at exactly its npm package's version", () => {
    const env = projectEnv(status, "smoke", process.env, { stateDir: os.tmpdir(), secretsDir: mkdtempSync(path.join(os.tmpdir(), "kx-s-")) });
    const listed = JSON.parse(sh(status.pulumi, ["plugin", "ls", "--json"], { env }).stdout || "[]") as { name: string; kind: string; version: string }[];
    const providers = Object.values(versions.go).filter((b) => b.kind === "provider");
    expect(providers.map((b) => b.plugin).sort()).toEqual(["docker", "postgresql", "random", "tls"]);
    for (const build of providers) {
      const want = pluginVersion(versions, build);
      expect(listed.filter((p) => p.kind === "resource" && p.name === build.plugin).map((p) => p.version), build.plugin).toContain(want);
      expect(status.plugins[build.plugin!]).toBe(want);
    }
  });

  it("the language host is the one built for CLI v3.259.0", () => {
    const env = projectEnv(status, "smoke", process.env, { stateDir: os.tmpdir(), secretsDir: mkdtempSync(path.join(os.tmpdir(), "kx-s-")) });
    const host = sh("sh", ["-c", "command -v pulumi-language-nodejs"], { env }).stdout.trim();
    const r = sh(host, ["-version"]);
    expect(r.out.trim()).toBe(versions.go["pulumi-language-nodejs"].ldflags["github.com/pulumi/pulumi/sdk/v3/go/common/version.Version"]);
  });
});

describe("provider source folder", () => {
  it("a missing folder stops the toolchain, naming it and what belongs in it, before any build", () => {
    const missing = path.join(os.tmpdir(), `kryonix-no-such-folder-${randomBytes(3).toString("hex")}`);
    const r = sh("npx", ["tsx", "scripts/toolchain.ts", "--provider-src", missing], { cwd: repoRoot });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the provider source folder ${missing} does not exist; it must hold SHA256SUMS and pulumi-docker-v5.0.0.tar.gz`);
    expect(r.stderr).toContain("set KRYONIX_PROVIDER_SRC or pass --provider-src DIR");
    expect(r.stdout).not.toMatch(/build pulumi: starting/);
  });

  it("an archive that differs from SHA256SUMS and from versions.json stops it too", () => {
    const copy = mkdtempSync(path.join(os.tmpdir(), "kryonix-provider-src-"));
    try {
      cpSync(DEFAULT_PROVIDER_SRC, copy, { recursive: true });
      const tampered = path.join(copy, "pulumi-random-v4.21.1.tar.gz");
      chmodSync(tampered, 0o644);
      appendFileSync(tampered, "tampered");
      const r = sh("npx", ["tsx", "scripts/toolchain.ts"], { cwd: repoRoot, env: { ...process.env, KRYONIX_PROVIDER_SRC: copy } });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/pulumi-random-v4\.21\.1\.tar\.gz: SHA-256 is [0-9a-f]{64} but SHA256SUMS says fd230932/);
      expect(r.stderr).toMatch(/pulumi-random-v4\.21\.1\.tar\.gz: SHA-256 is [0-9a-f]{64} but versions.json pins fd230932/);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe("base image", () => {
  it("is Debian trixie with -security and -updates in its apt sources", () => {
    const r = sh("docker", ["run", "--rm", "--network", "none", status.baseImage, "sh", "-c", "cat /etc/os-release /etc/apt/sources.list.d/debian.sources"]);
    expect(r.code, r.out).toBe(0);
    expect(r.stdout).toMatch(/VERSION_CODENAME=trixie/);
    expect(r.stdout).toMatch(/trixie-security/);
    expect(r.stdout).toMatch(/trixie-updates/);
  });
});

describe("pulumi up and destroy of a throwaway program", () => {
  const prefix = `kryonix-smoke-${randomBytes(3).toString("hex")}`;
  const stack = "smoke";
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const token = randomBytes(12).toString("hex");
  const pulumi = (...args: string[]) => sh(status.pulumi, [...args, "--non-interactive"], { env, cwd: dir });

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "kryonix-smoke-"));
    cpSync(path.join(__dirname, "fixtures", "throwaway"), dir, { recursive: true });
    symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"));
    cpSync(path.join(repoRoot, "package.json"), path.join(dir, "package.json"));
    env = projectEnv(status, stack, process.env, { stateDir: path.join(dir, ".state"), secretsDir: path.join(dir, ".secrets") });
    delete env.PULUMI_CONFIG_PASSPHRASE;
  });

  afterAll(() => {
    // Best effort only for a failed run: the test itself asserts the clean-up.
    sh("sh", ["-c", `docker network ls -q --filter label=kryonix.smoke=${prefix} | xargs -r docker network rm`]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates, is idempotent, destroys and leaves nothing behind", () => {
    expect(pulumi("stack", "init", stack).code).toBe(0);
    expect(pulumi("config", "set", "prefix", prefix).code).toBe(0);
    expect(pulumi("config", "set", "--secret", "token", token).code).toBe(0);

    const up = pulumi("up", "--yes", "--skip-preview");
    expect(up.code, up.out).toBe(0);
    const outputs = JSON.parse(pulumi("stack", "output", "--json").stdout);
    expect(outputs.token).toBe("[secret]");
    const inspect = sh("docker", ["network", "inspect", `${prefix}-net`, "--format", "{{.Id}}"]);
    expect(inspect.code, inspect.out).toBe(0);
    expect(inspect.stdout.trim()).toBe(outputs.networkId);

    const stateFiles = sh("sh", ["-c", `cat $(find ${path.join(dir, ".state")} -name '*.json')`]).stdout;
    expect(stateFiles).not.toContain(token);
    expect(readFileSync(path.join(dir, `Pulumi.${stack}.yaml`), "utf8")).not.toContain(token);

    const again = pulumi("preview", "--expect-no-changes");
    expect(again.code, again.out).toBe(0);

    const down = pulumi("destroy", "--yes", "--skip-preview");
    expect(down.code, down.out).toBe(0);
    expect(sh("docker", ["network", "inspect", `${prefix}-net`]).code).not.toBe(0);
    expect(pulumi("stack", "rm", "--yes", stack).code).toBe(0);
    const stacks = JSON.parse(pulumi("stack", "ls", "--json").stdout || "[]") as { name: string }[];
    expect(stacks.map((s) => s.name)).not.toContain(stack);
    expect(up.out).not.toMatch(/downloading plugin|installing plugin/i);
  });
});

describe("MinIO server and mc client", () => {
  const minio = () => status.binDirs.map((d) => path.join(d, "minio")).find((p) => sh(p, ["--version"]).code === 0);
  const mc = () => status.binDirs.map((d) => path.join(d, "mc")).find((p) => sh(p, ["--version"]).code === 0);

  it("serve and create a bucket on 127.0.0.1", async () => {
    const server = minio();
    const client = mc();
    expect(server, "minio binary built by the toolchain").toBeDefined();
    expect(client, "mc binary built by the toolchain").toBeDefined();
    const data = mkdtempSync(path.join(os.tmpdir(), "kryonix-minio-"));
    const cfg = mkdtempSync(path.join(os.tmpdir(), "kryonix-mc-"));
    const port = await freePort();
    const user = `smoke${randomBytes(4).toString("hex")}`;
    const pass = randomBytes(18).toString("base64url");
    const proc = spawn(server!, ["server", data, "--address", `127.0.0.1:${port}`, "--console-address", "127.0.0.1:0", "--quiet"], {
      env: { ...process.env, MINIO_ROOT_USER: user, MINIO_ROOT_PASSWORD: pass, MINIO_BROWSER: "off" },
      stdio: "ignore",
    });
    try {
      await waitFor("minio /minio/health/live", 60_000, async () => {
        try {
          return (await fetch(`http://127.0.0.1:${port}/minio/health/live`)).ok;
        } catch {
          return false;
        }
      });
      const mcEnv = { ...process.env, MC_CONFIG_DIR: cfg, [`MC_HOST_smoke`]: `http://${user}:${pass}@127.0.0.1:${port}` };
      expect(sh(client!, ["mb", "smoke/kryonix-smoke"], { env: mcEnv }).code).toBe(0);
      const ls = sh(client!, ["ls", "--json", "smoke"], { env: mcEnv });
      expect(ls.stdout).toContain("kryonix-smoke");
      expect(readdirSync(data)).toContain("kryonix-smoke");
    } finally {
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await exited;
      rmSync(data, { recursive: true, force: true });
      rmSync(cfg, { recursive: true, force: true });
    }
  });
});
