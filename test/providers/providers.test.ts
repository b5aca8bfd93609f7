/**
 * Issue "Offline toolchain", end to end with every provider plugin: random, docker and postgresql,
 * with automatic plugin acquisition disabled. Run with `npm run test:providers`; it fails while the
 * plugins are blocked (README "Blocked").
 */
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { projectEnv } from "../../lib/pulumi-env";
import { ToolchainStatus, readStatus } from "../../lib/toolchain-state";
import { repoRoot } from "../../lib/versions";
import { freePort, sh } from "../support/process";

let status: ToolchainStatus;
let dir: string;
let env: NodeJS.ProcessEnv;
const prefix = `kryonix-ptest-${randomBytes(3).toString("hex")}`;

const pulumi = (...args: string[]) => sh(status.pulumi, [...args, "--non-interactive"], { env, cwd: dir });

beforeAll(() => {
  status = readStatus();
  dir = mkdtempSync(path.join(os.tmpdir(), "kryonix-ptest-"));
  cpSync(path.join(__dirname, "fixtures", "program"), dir, { recursive: true });
  symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"));
  cpSync(path.join(repoRoot, "package.json"), path.join(dir, "package.json"));
  env = projectEnv(status, "ptest", process.env, { stateDir: path.join(dir, ".state"), secretsDir: path.join(dir, ".secrets") });
});

afterAll(() => {
  sh("sh", ["-c", `docker rm -f $(docker ps -aq --filter name=${prefix}) 2>/dev/null; docker network rm ${prefix}-net 2>/dev/null; true`]);
  rmSync(dir, { recursive: true, force: true });
});

it("up creates a role through the postgresql provider; destroy leaves nothing", async () => {
  const image = status.images?.postgres;
  expect(image, "postgres image from the toolchain").toBeDefined();
  const port = await freePort();
  expect(pulumi("stack", "init", "ptest").code).toBe(0);
  for (const [k, v] of Object.entries({ prefix, postgresImage: image!, port: String(port) })) {
    expect(pulumi("config", "set", k, v).code).toBe(0);
  }
  const up = pulumi("up", "--yes", "--skip-preview");
  expect(up.code, up.out).toBe(0);
  const role = sh("docker", ["exec", "-u", "postgres", `${prefix}-postgres`, "psql", "-tAc", "select rolname from pg_roles where rolname='kryonix_smoke'"]);
  expect(role.stdout.trim()).toBe("kryonix_smoke");
  expect(pulumi("preview", "--expect-no-changes").code).toBe(0);
  const down = pulumi("destroy", "--yes", "--skip-preview");
  expect(down.code, down.out).toBe(0);
  expect(sh("docker", ["ps", "-aq", "--filter", `name=${prefix}`]).stdout.trim()).toBe("");
  expect(sh("docker", ["network", "inspect", `${prefix}-net`]).code).not.toBe(0);
  expect(pulumi("stack", "rm", "--yes", "ptest").code).toBe(0);
});
