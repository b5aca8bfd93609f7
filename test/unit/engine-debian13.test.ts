/**
 * scripts/engine-debian13.sh fetch against a mirror of its own (file://, signed with a key made for
 * the test): what it extracts when everything checks out, and that it refuses, leaving nothing in
 * the cache, a .deb or an index that does not match what the signed Release vouches for, a Release
 * not signed by the keyring's key, and a pinned version the index no longer lists.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../toolchain/versions";

const SCRIPT = path.join(repoRoot, "scripts", "engine-debian13.sh");
const pin = (name: string) => readFileSync(SCRIPT, "utf8").match(new RegExp(`^${name}=(\\S+)$`, "m"))![1];
const DOCKER = pin("DOCKER_VERSION");
const CONTAINERD = pin("CONTAINERD_VERSION");

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, input?: string) {
  const r = spawnSync(cmd, args, { encoding: "utf8", env, input });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

let dir: string;
/** GNUPGHOME of the mirror's own key, and of a key the keyring does not hold. */
let gpgHome: string;
let otherHome: string;

function gpg(home: string, ...args: string[]): string {
  return run("gpg", ["--homedir", home, "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", "", ...args]);
}

function newKey(home: string, name: string): void {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  gpg(home, "--quick-gen-key", `${name} <${name}@kryonix.test>`, "ed25519", "sign", "never");
}

/** A .deb of `pkg` `version` holding `files` (path in the package -> shell script body). */
function deb(out: string, pkg: string, version: string, files: Record<string, string>): void {
  const root = mkdtempSync(path.join(dir, "deb-"));
  mkdirSync(path.join(root, "DEBIAN"));
  writeFileSync(path.join(root, "DEBIAN", "control"), `Package: ${pkg}\nVersion: ${version}\nArchitecture: amd64\nMaintainer: test <t@kryonix.test>\nDescription: fake ${pkg}\n`);
  for (const [file, body] of Object.entries(files)) {
    mkdirSync(path.join(root, path.dirname(file)), { recursive: true });
    writeFileSync(path.join(root, file), `#!/bin/sh\n${body}\n`);
    chmodSync(path.join(root, file), 0o755);
  }
  run("dpkg-deb", ["--root-owner-group", "-Zgzip", "--build", root, out]);
}

interface Mirror {
  url: string;
  /** Rewrites the index: Packages.xz from `paragraphs`, Release with its hash, InRelease signed by `signer`. */
  publish(opts?: { signer?: string; releaseHashOf?: string }): void;
  debs: Record<string, string>;
}

interface FakePackage {
  pkg: string;
  version: string;
  /** Path in the package -> the shell script's body. */
  files: Record<string, string>;
}

function makeMirror(name: string, packages: FakePackage[]): Mirror {
  const root = path.join(dir, name);
  const dists = path.join(root, "dists", "trixie");
  mkdirSync(path.join(dists, "main", "binary-amd64"), { recursive: true });
  mkdirSync(path.join(root, "pool"), { recursive: true });
  const debs: Record<string, string> = {};
  for (const p of packages) {
    const file = `pool/${p.pkg}_${p.version}_amd64.deb`;
    deb(path.join(root, file), p.pkg, p.version, p.files);
    debs[p.pkg] = path.join(root, file);
  }
  const publish: Mirror["publish"] = (opts = {}) => {
    const paragraphs = packages.map((p) => {
      const file = `pool/${p.pkg}_${p.version}_amd64.deb`;
      return [`Package: ${p.pkg}`, `Version: ${p.version}`, `Filename: ${file}`, `SHA256: ${sha256(path.join(root, file))}`].join("\n");
    });
    const xz = path.join(dists, "main", "binary-amd64", "Packages.xz");
    rmSync(xz, { force: true });
    run("sh", ["-c", 'xz -c >"$0"', xz], process.env, `${paragraphs.join("\n\n")}\n`);
    const hash = opts.releaseHashOf ? createHash("sha256").update(opts.releaseHashOf).digest("hex") : sha256(xz);
    const release = `Origin: Debian\nSuite: stable\nCodename: trixie\nSHA256:\n ${hash} 1 main/binary-amd64/Packages.xz\n`;
    writeFileSync(path.join(dists, "Release"), release);
    rmSync(path.join(dists, "InRelease"), { force: true });
    gpg(opts.signer ?? gpgHome, "--clearsign", "--output", path.join(dists, "InRelease"), path.join(dists, "Release"));
  };
  return { url: `file://${root}`, publish, debs };
}

const dockerd = `echo "Docker version ${DOCKER.replace(/\+.*/, "")}+dfsg1, build test"`;
const PACKAGES: FakePackage[] = [
  { pkg: "docker.io", version: DOCKER, files: { "usr/sbin/dockerd": dockerd, "usr/sbin/docker-proxy": "true" } },
  { pkg: "docker-cli", version: DOCKER, files: { "usr/bin/docker": "true" } },
  { pkg: "containerd", version: CONTAINERD, files: { "usr/bin/containerd": "true", "usr/bin/containerd-shim-runc-v2": "true", "usr/bin/ctr": "true" } },
];

/** Runs `fetch` with its own cache, against `mirror`, trusting only the mirror's key. */
function fetch(cache: string, mirror: Mirror) {
  const env = { ...process.env, KRYONIX_CACHE: cache, KRYONIX_DEBIAN_MIRROR: mirror.url, KRYONIX_DEBIAN_KEYRING: path.join(dir, "keyring.gpg") };
  const r = spawnSync("bash", [SCRIPT, "fetch"], { encoding: "utf8", env });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const engineDir = (cache: string) => path.join(cache, "engines", `docker.io-${DOCKER}`);
/** What a refused fetch must leave: no engine, no partial download. */
const nothingLeft = (cache: string) => expect(existsSync(path.join(cache, "engines")) ? readdirSync(path.join(cache, "engines")) : []).toEqual([]);

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "kryonix-engine-d13-"));
  gpgHome = path.join(dir, "gpg");
  otherHome = path.join(dir, "gpg-other");
  newKey(gpgHome, "mirror");
  newKey(otherHome, "other");
  gpg(gpgHome, "--output", path.join(dir, "keyring.gpg"), "--export");
}, 60_000);

afterAll(() => {
  // gpg starts an agent per home: stop them, so the test leaves nothing running.
  for (const home of [gpgHome, otherHome]) spawnSync("gpgconf", ["--homedir", home, "--kill", "all"]);
  rmSync(dir, { recursive: true, force: true });
});

describe("engine-debian13.sh fetch", () => {
  it("extracts dockerd, docker, docker-proxy, containerd and its shim from verified .debs, then reuses them", () => {
    const mirror = makeMirror("good", PACKAGES);
    mirror.publish();
    const cache = path.join(dir, "cache-good");
    const r = fetch(cache, mirror);
    expect(r.code, r.out).toBe(0);
    expect(readdirSync(path.join(engineDir(cache), "bin")).sort()).toEqual(["containerd", "containerd-shim-runc-v2", "docker", "docker-proxy", "dockerd"]);
    expect(readdirSync(path.join(cache, "engines"))).toEqual([`docker.io-${DOCKER}`]);
    // Cached: a second run needs no mirror at all.
    rmSync(path.join(dir, "good"), { recursive: true });
    const again = fetch(cache, mirror);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain("fetch: cached in");
  });

  /** A fetch from this mirror fails with `message` and leaves nothing in its cache. */
  function expectRefused(name: string, mirror: Mirror, message: string | RegExp): void {
    const cache = path.join(dir, `cache-${name}`);
    const r = fetch(cache, mirror);
    expect(r.code, r.out).not.toBe(0);
    if (typeof message === "string") expect(r.out).toContain(message);
    else expect(r.out).toMatch(message);
    nothingLeft(cache);
  }

  it("refuses a .deb that differs from the SHA-256 in the signed index", () => {
    const mirror = makeMirror("bad-deb", PACKAGES);
    mirror.publish();
    writeFileSync(mirror.debs.containerd, Buffer.concat([readFileSync(mirror.debs.containerd), Buffer.from("x")]));
    expectRefused("bad-deb", mirror, /containerd_.*\.deb does not match the SHA256 in the signed index/);
  });

  it("refuses a Packages.xz that differs from the signed Release's SHA-256", () => {
    const mirror = makeMirror("bad-index", PACKAGES);
    mirror.publish({ releaseHashOf: "another index" });
    expectRefused("bad-index", mirror, "Packages.xz does not match the signed Release's SHA256");
  });

  it("refuses a Release signed by a key the keyring does not hold", () => {
    const mirror = makeMirror("bad-signature", PACKAGES);
    mirror.publish({ signer: otherHome });
    expectRefused("bad-signature", mirror, "InRelease of trixie: bad or missing signature");
  });

  it("names the versions the index lists when the pinned one is gone", () => {
    const mirror = makeMirror("moved-on", [{ ...PACKAGES[0], version: "26.1.5+dfsg1-9+deb13u2" }, ...PACKAGES.slice(1)]);
    mirror.publish();
    expectRefused("moved-on", mirror, `trixie no longer lists docker.io ${DOCKER} (it lists: 26.1.5+dfsg1-9+deb13u2 ): update the pins at the top of scripts/engine-debian13.sh`);
  });
});
