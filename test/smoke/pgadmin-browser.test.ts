/**
 * pgAdmin in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core; no browser is ever downloaded) logs in with the generated credentials and sees
 * the pre-registered server in the object explorer. The screenshot of the logged-in tree is kept
 * as a test artifact in .artifacts/pgadmin-tree.png.
 *
 * The provider plugins cannot run here, so instead of `pulumi up` the test starts the pgadmin image
 * the way components/pgadmin.ts would: the dev stack's memory limit, the component's environment
 * (pgadminEnvs), the generated password and renderServersJson() uploaded as root-owned 0444 files at
 * PGADMIN_PASSWORD_FILE and PGADMIN_SERVERS_FILE (Docker's copy API, as the provider's `uploads`),
 * the component's healthcheck command, the port published on 127.0.0.1 only. The server points at
 * PgBouncer's in-stack name, which nothing answers to here: pgAdmin lists a server without
 * connecting to it. Every Docker object is named kryonix-pgbtest-<random>. Needs `npm run toolchain`
 * (images) and `apt-get install chromium`.
 */
import { randomBytes, randomInt } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type Browser, type Page } from "playwright-core";
import { CHROMIUM, launchChromium } from "../support/chromium";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_NAME, MONITOR_ROLE, PGBOUNCER_PORT } from "../../model/database";
import { PGADMIN_HEALTHCHECK, PGADMIN_PASSWORD_FILE, PGADMIN_PORT, PGADMIN_SERVERS_FILE, checkPgadminArgs, pgadminEnvs, renderServersJson } from "../../components/pgadmin";
import { type PgadminServer } from "../../model/topology";
import { resourceName, validateStackConfig } from "../../model/config";
import { LOG_OPTS, memoryMiB } from "../../model/containers";
import { readStatus } from "../../toolchain/toolchain-state";
import { dockerOk, engineOfDocker, uploadFiles, waitHealthy } from "../support/docker";
import { dockerLeftovers, freePort, removeDockerObjects, sh } from "../support/process";

const ARTIFACTS = path.resolve(__dirname, "../../.artifacts");
const SCREENSHOT = path.join(ARTIFACTS, "pgadmin-tree.png");
/** What the page showed when the tree test failed (only then). */
const FAILURE_SCREENSHOT = path.join(ARTIFACTS, "pgadmin-failure.png");

const PREFIX = `kryonix-pgbtest-${randomBytes(4).toString("hex")}`;
const NETWORK = `${PREFIX}-net`;
const CONTAINER = `${PREFIX}-pgadmin`;
const STACK = "dev";

// The dev stack as index.ts builds it: the component's arguments and the server it pre-registers.
const config = validateStackConfig({}, STACK);
const server: PgadminServer = {
  name: `kryonix ${STACK} (PgBouncer)`,
  host: resourceName(STACK, "pgbouncer"),
  port: PGBOUNCER_PORT,
  database: DATABASE_NAME,
  username: MONITOR_ROLE,
};
const email = config.pgadminEmail;

/** Like random.RandomPassword { length: 32, special: false, minLower/minUpper/minNumeric: 2 } (components/secrets.ts, pgadmin-password). */
function generatedPassword(): string {
  const sets = ["abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789"];
  const all = sets.join("");
  const chars = [...sets.flatMap((s) => [s[randomInt(s.length)], s[randomInt(s.length)]])];
  while (chars.length < 32) chars.push(all[randomInt(all.length)]);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join("");
}
const password = generatedPassword();

let work = "";
let port = 0;
let browser: Browser | undefined;
const base = () => `http://127.0.0.1:${port}`;

const cleanup = () => removeDockerObjects(PREFIX);
const leftovers = () => dockerLeftovers(PREFIX);

/** A fresh browser context (own cookies) with its page at pgAdmin's login form. */
async function loginPage(): Promise<Page> {
  const context = await browser!.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${base()}/login`, { waitUntil: "domcontentloaded", timeout: 60_000 });
  await page.locator('input[name="email"]').waitFor({ state: "visible", timeout: 60_000 });
  return page;
}

async function submitLogin(page: Page, pw: string): Promise<void> {
  await page.locator('input[name="email"]').fill(email);
  await page.locator('input[name="password"]').fill(pw);
  await page.locator('button[type="submit"]').click();
}

beforeAll(() => {
  const tag = readStatus().images.pgadmin;
  expect(tag, "toolchain status has no pgadmin image: run npm run toolchain").toBeTruthy();
  expect(sh("docker", ["image", "inspect", tag]).code, `${tag} is not built: run npm run images`).toBe(0);
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`).toBe(true);
  work = mkdtempSync(path.join(os.tmpdir(), "kryonix-pgbtest-"));
  dockerOk(["network", "create", "--label", "org.kryonix.test=pgadmin-browser", NETWORK]);
});

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
  const left = leftovers();
  if (left.length) throw new Error(`left behind: ${left.join(", ")}`);
});

describe("pgAdmin in headless Chromium", () => {
  it("starts as components/pgadmin.ts would start it and becomes healthy", async () => {
    port = await freePort();
    const tag = readStatus().images.pgadmin;
    checkPgadminArgs({
      stack: STACK,
      image: tag,
      network: NETWORK,
      memoryBytes: config.pgadminMemoryBytes,
      engine: engineOfDocker(),
      hostPort: config.pgadminPort,
      email,
      password,
      servers: [server],
      // Not used here: no server is connected to in this test (the proxy stack test does).
      caCertificate: "-----BEGIN CERTIFICATE-----\n",
    });
    dockerOk([
      "create", "--name", CONTAINER, "--hostname", CONTAINER,
      "--label", "org.kryonix.test=pgadmin-browser",
      "--network", NETWORK, "--network-alias", "pgadmin",
      "--memory", `${memoryMiB(config.pgadminMemoryBytes)}m`,
      ...pgadminEnvs({ email }).flatMap((e) => ["-e", e]),
      "-p", `127.0.0.1:${port}:${PGADMIN_PORT}`,
      // The component's healthcheck command (docker 20.10 has no start-interval: a short interval instead).
      "--health-cmd", PGADMIN_HEALTHCHECK,
      "--health-interval", "1s", "--health-timeout", "5s", "--health-retries", "6", "--health-start-period", "120s",
      "--log-driver", "json-file", ...Object.entries(LOG_OPTS).flatMap(([k, v]) => ["--log-opt", `${k}=${v}`]),
      tag,
    ]);
    uploadFiles(CONTAINER, [
      { file: PGADMIN_PASSWORD_FILE, content: password },
      { file: PGADMIN_SERVERS_FILE, content: renderServersJson(server) },
    ], work);
    dockerOk(["start", CONTAINER]);
    const ms = await waitHealthy(CONTAINER, 240_000);
    process.stdout.write(`[pgadmin-browser] pgadmin healthy after ${(ms / 1000).toFixed(1)} s\n`);

    const inspect = JSON.parse(dockerOk(["inspect", CONTAINER]))[0];
    for (const bindings of Object.values(inspect.HostConfig.PortBindings) as { HostIp: string }[][]) {
      for (const b of bindings) expect(b.HostIp).toBe("127.0.0.1");
    }
    expect(JSON.stringify(inspect).includes(password), "the password is in docker inspect").toBe(false);
  });

  it("launches Debian's Chromium headless", async () => {
    browser = await launchChromium();
    expect(browser.version()).toMatch(/^\d+\./);
    process.stdout.write(`[pgadmin-browser] chromium ${browser.version()}\n`);
  });

  it("stays on the login page with a wrong password", async () => {
    const page = await loginPage();
    try {
      await submitLogin(page, `${password}x`);
      // pgAdmin answers a failed login with a redirect back to /login and a flash message.
      await page.waitForURL(/\/login/, { timeout: 30_000 });
      await page.getByText(/incorrect|invalid/i).first().waitFor({ state: "visible", timeout: 30_000 });
      expect(new URL(page.url()).pathname).toMatch(/^\/login/);
      await expect(page.locator('input[name="password"]').isVisible()).resolves.toBe(true);
      expect(await page.locator("#id-object-explorer, .file-tree").count()).toBe(0);
    } finally {
      await page.context().close();
    }
  });

  it("logs in with the generated credentials and shows the pre-registered server in the tree", async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    rmSync(SCREENSHOT, { force: true });
    rmSync(FAILURE_SCREENSHOT, { force: true });
    const page = await loginPage();
    try {
      await submitLogin(page, password);
      await page.waitForURL(/\/browser\/?$/, { timeout: 60_000 });
      // The object explorer (pgAdmin 9's file tree): the server group "Servers" at depth 1 holds
      // the server of servers.json at depth 2. Expanding a group lists its servers without connecting.
      const tree = page.locator("#id-object-explorer .file-tree");
      const group = tree.locator(".file-entry.depth-1", { has: page.getByText("Servers", { exact: true }) });
      await group.waitFor({ state: "visible", timeout: 90_000 });
      const serverEntry = tree.locator(".file-entry.depth-2", { has: page.getByText(server.name, { exact: true }) });
      // pgAdmin expands the group by itself after login; clicking while it does so would hit the
      // server's own toggle once the tree shifts, so click only if it never does.
      try {
        await serverEntry.waitFor({ state: "visible", timeout: 20_000 });
      } catch {
        await group.locator(".directory-toggle").click();
        await serverEntry.waitFor({ state: "visible", timeout: 60_000 });
      }
      const serverNode = serverEntry.locator(".file-name");
      // No assertion on the node's icon: pgAdmin auto-expands a sole child, which starts a connection
      // (and asks for the password servers.json does not hold), so the icon changes under the test.
      await page.screenshot({ path: SCREENSHOT, fullPage: false });
      expect(await serverNode.textContent()).toBe(server.name);
      await expect(group.locator(".children-count").textContent()).resolves.toBe("(1)");
      expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
      process.stdout.write(`[pgadmin-browser] screenshot: ${SCREENSHOT}\n`);
    } catch (err) {
      await page.screenshot({ path: FAILURE_SCREENSHOT }).catch(() => undefined);
      throw new Error(`${(err as Error).message}\n(the page at ${page.url()}: ${FAILURE_SCREENSHOT})`, { cause: err });
    } finally {
      await page.context().close();
    }
  });

  it("never shows the password in the container's log", () => {
    const logs = sh("docker", ["logs", CONTAINER]).out;
    expect(logs.includes(password), "the password is in the pgadmin log").toBe(false);
  });
});

describe("cleanup", () => {
  it("closes the browser and removes every Docker object named with the test prefix", async () => {
    await browser?.close();
    browser = undefined;
    cleanup();
    expect(leftovers()).toEqual([]);
  });
});
