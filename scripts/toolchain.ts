/**
 * `npm run toolchain [-- --provider-src DIR]`: everything kryonix-db needs that the registries we
 * reach do not ship ready-made. The Pulumi CLI, MinIO and mc are built from the Go module proxy; the
 * provider plugins and the Node.js language host from the source archives in the provider source
 * folder (checked against SHA256SUMS and the hashes in versions.json); the Docker engine comes from
 * Debian, and the base image is debootstrapped. Each step is cached outside the repo, keyed by
 * everything that goes into it, and installed atomically (build in a temp directory, rename into
 * place), so a failed step leaves nothing half-installed.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, linkSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, copyFileSync, chmodSync, readFileSync } from "node:fs";
import * as path from "node:path";
import {
  GoBuild,
  buildKey,
  escapeModulePath,
  ldflagsFor,
  noSumDbModules,
  loadVersions,
  mainModule,
  pluginVersion,
  renderGoMod,
} from "../toolchain/versions";
import { ScriptError } from "../ops/cli";
import { parseToolchainArgs } from "./args";
import { ALL_IMAGES, buildImagesDetailed } from "./images";
import { archiveProblems, planSourceBuild, providerSrcDir, recipeArchives, type SourceRecipe } from "../toolchain/source-build";
import { ToolchainStatus, cacheRoot, pulumiHome, statusFile, versionsSha } from "../toolchain/toolchain-state";

const versions = loadVersions();
const root = cacheRoot();
const logDir = path.join(root, "logs");
mkdirSync(logDir, { recursive: true });

const timings: { step: string; seconds: number; note: string }[] = [];

class StepError extends Error {
  constructor(readonly step: string, readonly command: string, readonly log: string, readonly detail: string) {
    super(`step "${step}" failed: ${command}\n  ${detail}${log ? `\n  read the log: ${log}` : ""}`);
  }
}

function say(msg: string) {
  process.stdout.write(`[toolchain] ${msg}\n`);
}

async function step<T>(name: string, fn: () => Promise<{ note: string; value: T }>): Promise<T> {
  const t0 = Date.now();
  say(`${name}: starting`);
  const { note, value } = await fn();
  const seconds = (Date.now() - t0) / 1000;
  timings.push({ step: name, seconds, note });
  say(`${name}: ${note} (${seconds.toFixed(1)} s)`);
  return value;
}

/** Runs a command with output to a log file, printing a heartbeat so long builds are visibly alive. */
function run(
  stepName: string,
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; log: string; input?: string; quiet?: boolean },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(opts.log, { flags: "a" });
    out.write(`$ ${cmd} ${args.join(" ")}\n`);
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    if (opts.quiet) child.stdout.resume();
    else child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
    const t0 = Date.now();
    const beat = setInterval(() => {
      if (!opts.quiet) say(`${stepName}: still running ${cmd} (${Math.round((Date.now() - t0) / 1000)} s)`);
    }, 60_000);
    child.on("error", (e) => {
      clearInterval(beat);
      out.end();
      reject(new StepError(stepName, `${cmd} ${args.join(" ")}`, opts.log, e.message));
    });
    child.on("close", (code) => {
      clearInterval(beat);
      out.end(() => {
        if (code === 0) resolve();
        else {
          const tail = readFileSync(opts.log, "utf8").trim().split("\n").slice(-3).join("\n  ");
          reject(new StepError(stepName, `${cmd} ${args.join(" ")}`, opts.log, `exit ${code}: ${tail}`));
        }
      });
    });
  });
}

function capture(cmd: string, args: string[], env?: NodeJS.ProcessEnv): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: env ?? process.env });
  return { ok: r.status === 0, out: (r.stdout ?? "") + (r.stderr ?? "") };
}

const goVersion = capture("go", ["env", "GOVERSION"]).out.trim();
// -mod=mod: the source recipes edit go.mod, and go.sum must take what the edits bring in.
const goEnv: NodeJS.ProcessEnv = { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=mod -buildvcs=false" };

interface GoJob {
  name: string;
  build: GoBuild;
  key: string;
  final: string;
  binary: string;
  tmp: string;
  log: string;
  env: NodeJS.ProcessEnv;
  /** Where `go build` runs and the package argument it gets. */
  cwd: string;
  pkg: string;
}

/**
 * Phase one of a Go build, run for every program at once so that module downloads (network) overlap
 * the compiles (CPU) of the builds before it: lays out the throwaway module or the source tree,
 * applies the recipe, and downloads what the main package needs.
 */
async function prepareGoBuild(name: string, build: GoBuild, srcDir: string): Promise<GoJob | { cached: string }> {
  const key = buildKey(name, build, goVersion);
  const final = path.join(root, "go", key);
  const binary = path.join(final, "bin", name);
  if (existsSync(binary)) return { cached: binary };
  const tmp = path.join(root, "go", `.tmp-${key}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(path.join(tmp, "bin"), { recursive: true });
  const log = path.join(logDir, `${key}.log`);
  writeFileSync(log, "");
  const env: NodeJS.ProcessEnv = { ...goEnv };
  const job = { name, build, key, final, binary, tmp, log, env };
  try {
    if (build.source) {
      const src = path.join(tmp, "src");
      mkdirSync(src);
      const out = path.join(tmp, "bin", name);
      const steps = planSourceBuild(build.source, { package: build.package, ldflags: ldflagsFor(build) }, srcDir, out);
      const compile = steps.pop()!;
      for (const s of steps) await run(`build ${name}`, s.cmd, s.args, { cwd: path.join(src, s.cwd), env: { ...env, ...s.env }, log });
      const cwd = path.join(src, compile.cwd);
      await run(`build ${name}`, "go", ["list", "-deps", build.package], { cwd, env, log, quiet: true });
      return { ...job, cwd, pkg: build.package };
    }
    writeFileSync(path.join(tmp, "go.mod"), renderGoMod(name, build));
    if (build.sums?.length) writeFileSync(path.join(tmp, "go.sum"), build.sums.join("\n") + "\n");
    const noSum = noSumDbModules(build);
    if (noSum.length) env.GONOSUMDB = [process.env.GONOSUMDB, ...noSum].filter(Boolean).join(",");
    if (build.infoTime) env.GOPROXY = `file://${await fillProxyGaps(build, log)},${upstreamProxy}`;
    const [mod, modVersion] = mainModule(build);
    const others = Object.entries(build.require ?? {}).filter(([m]) => m !== mod).map(([m, ver]) => `${m}@${ver}`);
    await run(`build ${name}`, "go", ["get", `${build.package}@${modVersion}`, ...others], { cwd: tmp, env, log });
    return { ...job, cwd: tmp, pkg: build.package };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Phase two: compiles a prepared build and moves it into place, or returns the cached binary. */
async function goBuild(name: string, prepared: Promise<GoJob | { cached: string }>): Promise<string> {
  return step(`build ${name}`, async () => {
    const job = await prepared;
    if ("cached" in job) return { note: `cached at ${job.cached}`, value: job.cached };
    try {
      await run(
        `build ${name}`,
        "go",
        ["build", "-trimpath", "-ldflags", ldflagsFor(job.build), "-o", path.join(job.tmp, "bin", name), job.pkg],
        { cwd: job.cwd, env: job.env, log: job.log },
      );
      if (name === "pulumi") copyDynamicProviderShim(job.tmp, job.log);
      // Keep the binaries only: a provider's source tree is gigabytes of nothing once built.
      rmSync(path.join(job.tmp, "src"), { recursive: true, force: true });
      writeFileSync(path.join(job.tmp, "build.json"), JSON.stringify({ name, build: job.build, goVersion }, null, 2));
    } catch (e) {
      rmSync(job.tmp, { recursive: true, force: true });
      throw e;
    }
    rmSync(job.final, { recursive: true, force: true });
    renameSync(job.tmp, job.final);
    return { note: `built ${job.binary}`, value: job.binary };
  });
}

const upstreamProxy = capture("go", ["env", "GOPROXY"]).out.trim();

/**
 * A local file proxy that supplies the .info the upstream proxy refuses for a version whose .mod and
 * .zip it does serve. The zip's integrity is still checked, against the go.sum lines pinned in versions.json.
 */
async function fillProxyGaps(build: GoBuild, log: string): Promise<string> {
  const dir = path.join(root, "goproxy");
  const base = upstreamProxy.split(/[,|]/)[0];
  for (const [mod, time] of Object.entries(build.infoTime ?? {})) {
    const version = (build.require ?? {})[mod];
    const at = path.join(dir, escapeModulePath(mod), "@v");
    mkdirSync(at, { recursive: true });
    for (const ext of ["mod", "zip"]) {
      const file = path.join(at, `${version}.${ext}`);
      if (existsSync(file)) continue;
      await run("go proxy gap", "curl", ["-fsSL", "-o", `${file}.partial`, `${base}/${escapeModulePath(mod)}/@v/${version}.${ext}`], { log });
      renameSync(`${file}.partial`, file);
    }
    writeFileSync(path.join(at, `${version}.info`), JSON.stringify({ Version: version, Time: time }) + "\n");
    writeFileSync(path.join(at, "list"), `${version}\n`);
  }
  return dir;
}

/** pulumi-resource-pulumi-nodejs (dynamic providers) is a script shipped in the sdk/v3 module beside the CLI. */
function copyDynamicProviderShim(buildDir: string, log: string) {
  const r = spawnSync("go", ["list", "-m", "-f", "{{.Dir}}", "github.com/pulumi/pulumi/sdk/v3"], { cwd: buildDir, env: goEnv, encoding: "utf8" });
  const dir = (r.stdout ?? "").trim();
  const src = path.join(dir, "nodejs", "dist", "pulumi-resource-pulumi-nodejs");
  if (!existsSync(src)) throw new StepError("build pulumi", "go list -m sdk/v3", log, `${src} not found`);
  const dst = path.join(buildDir, "bin", "pulumi-resource-pulumi-nodejs");
  copyFileSync(src, dst);
  chmodSync(dst, 0o755);
}

/** Hard links to `files` in <cache>/bin (replacing what differs), so they sit side by side; returns the folder. */
function linkBeside(files: string[]): string {
  const dir = path.join(root, "bin");
  mkdirSync(dir, { recursive: true });
  for (const file of files) {
    const dst = path.join(dir, path.basename(file));
    if (existsSync(dst) && statSync(dst).ino === statSync(file).ino) continue;
    rmSync(`${dst}.tmp`, { force: true });
    linkSync(file, `${dst}.tmp`);
    renameSync(`${dst}.tmp`, dst);
  }
  return dir;
}

/** A user whose own `pulumi` is already the pinned version keeps it. */
function pulumiOnPath(want: string): string | undefined {
  const which = capture("sh", ["-c", "command -v pulumi"]);
  if (!which.ok) return undefined;
  const bin = which.out.trim();
  if (bin.startsWith(root)) return undefined;
  const v = capture(bin, ["version"]);
  return v.ok && v.out.trim() === want ? bin : undefined;
}

async function dockerEngine(): Promise<void> {
  await step("docker engine", async () => {
    if (capture("docker", ["info"]).ok) return { note: "an engine already answers `docker info`", value: undefined };
    const log = path.join(logDir, "docker-install.log");
    if (!capture("sh", ["-c", "command -v dockerd"]).ok) {
      writeFileSync(log, "");
      await run("docker engine", "apt-get", ["update"], { log, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
      await run("docker engine", "apt-get", ["install", "-y", "--no-install-recommends", "docker.io"], {
        log,
        env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      });
    }
    // A dockerd that is still shutting down (stopping containers takes up to their stop timeout)
    // keeps its pid file, and a new one refuses to start: wait for it to go first.
    const pidFile = "/var/run/docker.pid";
    const stopping = Date.now() + 120_000;
    while (existsSync(pidFile) && Date.now() < stopping) {
      const pid = Number(readFileSync(pidFile, "utf8").trim());
      try {
        process.kill(pid, 0);
      } catch {
        break; // stale: dockerd removes a stale pid file itself
      }
      if (capture("docker", ["info"]).ok) return { note: "an engine that was starting now answers `docker info`", value: undefined };
      await new Promise((r) => setTimeout(r, 1000));
    }
    const dockerdLog = path.join(logDir, "dockerd.log");
    const out = createWriteStream(dockerdLog, { flags: "a" });
    await new Promise((r) => out.on("open", r));
    const child = spawn("dockerd", [], { detached: true, stdio: ["ignore", out, out] });
    child.unref();
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      if (capture("docker", ["info"]).ok) return { note: `started dockerd (log: ${dockerdLog})`, value: undefined };
      await new Promise((r) => setTimeout(r, 1000));
    }
    throw new StepError("docker engine", "dockerd", dockerdLog, "`docker info` did not answer within 90 s");
  });
}

function debianSources(): string {
  const d = versions.debian;
  return [
    "Types: deb",
    `URIs: ${d.mirror}`,
    `Suites: ${d.suite} ${d.suite}-updates`,
    "Components: main",
    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg",
    "",
    "Types: deb",
    `URIs: ${d.securityMirror}`,
    `Suites: ${d.suite}-security`,
    "Components: main",
    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg",
    "",
  ].join("\n");
}

/**
 * The Debian base image: reused when present, pulled only from a registry the user configured
 * (KRYONIX_BASE_IMAGE_FROM), otherwise debootstrapped and imported, then upgraded from
 * -security and -updates so images start patched.
 */
async function baseImage(): Promise<string> {
  const tag = versions.debian.baseImage;
  return step("base image", async () => {
    if (capture("docker", ["image", "inspect", tag]).ok) return { note: `${tag} already present`, value: tag };
    const log = path.join(logDir, "base-image.log");
    writeFileSync(log, "");
    const from = process.env.KRYONIX_BASE_IMAGE_FROM;
    if (from) {
      await run("base image", "docker", ["pull", from], { log });
      await run("base image", "docker", ["tag", from, tag], { log });
      return { note: `pulled ${from} as ${tag}`, value: tag };
    }
    if (!capture("sh", ["-c", "command -v debootstrap"]).ok) {
      await run("base image", "apt-get", ["install", "-y", "--no-install-recommends", "debootstrap"], {
        log,
        env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      });
    }
    const dir = path.join(root, "base");
    const tarball = path.join(dir, `${versions.debian.suite}-minbase.tar`);
    if (!existsSync(tarball)) {
      const tmp = path.join(dir, `.tmp-rootfs-${process.pid}`);
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      try {
        await run("base image", "debootstrap", ["--variant=minbase", versions.debian.suite, tmp, versions.debian.mirror], { log });
        rmSync(path.join(tmp, "etc", "apt", "sources.list"), { force: true });
        writeFileSync(path.join(tmp, "etc", "apt", "sources.list.d", "debian.sources"), debianSources());
        rmSync(path.join(tmp, "var", "cache", "apt", "archives"), { recursive: true, force: true });
        mkdirSync(path.join(tmp, "var", "cache", "apt", "archives", "partial"), { recursive: true });
        await run("base image", "tar", ["-C", tmp, "-cf", `${tarball}.partial`, "."], { log });
        renameSync(`${tarball}.partial`, tarball);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
    const bootstrapTag = `${tag}-bootstrap`;
    await run("base image", "docker", ["import", tarball, bootstrapTag], { log });
    const ctx = path.join(dir, `.tmp-ctx-${process.pid}`);
    mkdirSync(ctx, { recursive: true });
    writeFileSync(
      path.join(ctx, "Dockerfile"),
      [
        `FROM ${bootstrapTag}`,
        "ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8",
        "RUN apt-get update && apt-get -y upgrade && apt-get clean && rm -rf /var/lib/apt/lists/*",
        'CMD ["bash"]',
        "",
      ].join("\n"),
    );
    try {
      await run("base image", "docker", ["build", "-t", tag, ctx], { log });
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
    await run("base image", "docker", ["rmi", bootstrapTag], { log }).catch(() => undefined);
    return { note: `built ${tag} with debootstrap + docker import (log: ${log})`, value: tag };
  });
}

async function installPlugin(pulumi: string, name: string, build: GoBuild, binary: string, env: NodeJS.ProcessEnv) {
  const version = pluginVersion(versions, build);
  const plugin = build.plugin!;
  await step(`plugin ${plugin} ${version}`, async () => {
    // Reinstalled whenever our build differs from the installed binary (a changed recipe keeps the version).
    const installed = path.join(pulumiHome(), "plugins", `resource-${plugin}-v${version}`, `pulumi-resource-${plugin}`);
    if (existsSync(installed) && fileSha256(installed) === fileSha256(binary)) return { note: "already installed", value: undefined };
    const log = path.join(logDir, `plugin-${plugin}-${version}.log`);
    writeFileSync(log, "");
    await run(`plugin ${plugin}`, pulumi, ["plugin", "rm", "resource", plugin, version, "--yes"], { log, env }).catch(() => undefined);
    await run(`plugin ${plugin}`, pulumi, ["plugin", "install", "resource", plugin, version, "--file", binary], { log, env });
    return { note: `installed from ${binary} (${name})`, value: undefined };
  });
}

const fileSha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

/** What the archive folder holds: SHA256SUMS and the SHA-256 of each archive the recipes name. */
function viewFolder(dir: string, recipes: SourceRecipe[]) {
  const exists = existsSync(dir);
  const sumsFile = path.join(dir, "SHA256SUMS");
  const actual = new Map<string, string>();
  if (exists) {
    for (const a of recipes.flatMap(recipeArchives)) {
      const f = path.join(dir, a.file);
      if (existsSync(f) && !actual.has(a.file)) actual.set(a.file, fileSha256(f));
    }
  }
  return { exists, sha256sums: exists && existsSync(sumsFile) ? readFileSync(sumsFile, "utf8") : undefined, actual };
}

/** Build folders (`.tmp-<key>-<pid>`) left by a toolchain run that died: gigabytes nobody will finish. */
function removeAbandonedBuilds(): void {
  const dir = path.join(root, "go");
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir)) {
    const pid = Number(/^\.tmp-.*-(\d+)$/.exec(entry)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch {
      rmSync(path.join(dir, entry), { recursive: true, force: true });
    }
  }
}

async function main() {
  const t0 = Date.now();
  const args = parseToolchainArgs(process.argv.slice(2));
  removeAbandonedBuilds();
  say(`cache: ${root}; go: ${goVersion}`);
  await dockerEngine();

  const srcDir = providerSrcDir(args.providerSrc, process.env);
  const fromSource = Object.values(versions.go).flatMap((b) => (b.source ? [b.source] : []));
  await step("source archives", async () => {
    const problems = archiveProblems(srcDir, fromSource, viewFolder(srcDir, fromSource));
    if (problems.length) throw new StepError("source archives", `check ${srcDir}`, "", problems.join("\n  "));
    return { note: `${srcDir}: every archive matches SHA256SUMS and versions.json`, value: undefined };
  });

  let pulumi = pulumiOnPath(versions.go.pulumi.ldflags["github.com/pulumi/pulumi/sdk/v3/go/common/version.Version"]);
  if (pulumi) say(`using your pulumi at ${pulumi} (already the pinned version)`);
  const wanted = Object.entries(versions.go).filter(([name]) => !(name === "pulumi" && pulumi));
  // Every download starts now; the compiles then run one at a time in versions.json order.
  const prepared = new Map(
    wanted.map(([name, build]) => {
      const p = prepareGoBuild(name, build, srcDir);
      p.catch(() => undefined); // awaited (and reported) by goBuild, in order
      return [name, p] as const;
    }),
  );
  let binDirs: string[] = [];
  const providers: [string, GoBuild, string][] = [];
  let host: string | undefined;
  for (const [name, build] of wanted) {
    const bin = await goBuild(name, prepared.get(name)!);
    if (build.kind === "provider") providers.push([name, build, bin]);
    else binDirs.push(path.dirname(bin));
    if (name === "pulumi") pulumi = bin;
    if (name === "pulumi-language-nodejs") host = bin;
  }
  if (!pulumi) throw new StepError("build pulumi", "go build", logDir, "no Pulumi CLI could be built");
  if (host && pulumi.startsWith(root)) {
    // The CLI prefers a language host beside its own binary; one found on PATH draws a warning on every command.
    const dir = linkBeside([pulumi, path.join(path.dirname(pulumi), "pulumi-resource-pulumi-nodejs"), host]);
    binDirs = [dir, ...binDirs.filter((d) => d !== path.dirname(pulumi!) && d !== path.dirname(host!))];
    pulumi = path.join(dir, "pulumi");
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: [...binDirs, process.env.PATH].join(path.delimiter),
    PULUMI_HOME: pulumiHome(),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
  };
  const plugins: Record<string, string> = {};
  for (const [name, build, bin] of providers) {
    await installPlugin(pulumi, name, build, bin, env);
    plugins[build.plugin!] = pluginVersion(versions, build);
  }

  const image = await baseImage();

  const minio = binDirs.map((d) => path.join(d, "minio")).find((f) => existsSync(f));
  const images: Record<string, string> = {};
  if (minio) {
    for (const r of await step("service images", async () => {
      const results = await buildImagesDetailed({ log: (m) => say(`  ${m}`), minioBinary: minio, services: ALL_IMAGES });
      const built = results.filter((x) => x.built).map((x) => x.service);
      return { note: built.length ? `built ${built.join(", ")}` : "all cached", value: results };
    })) {
      images[r.service] = r.tag;
    }
  }

  const status: ToolchainStatus = {
    versionsSha: versionsSha(),
    pulumi,
    binDirs,
    pulumiHome: pulumiHome(),
    plugins,
    baseImage: image,
    images,
  };
  // A name of its own: two `npm run up` in parallel (the stack tests) each write the status.
  mkdirSync(path.dirname(statusFile()), { recursive: true });
  const partial = `${statusFile()}.${process.pid}.partial`;
  writeFileSync(partial, JSON.stringify(status, null, 2));
  renameSync(partial, statusFile());

  say("summary:");
  for (const t of timings) say(`  ${t.step.padEnd(34)} ${t.seconds.toFixed(1).padStart(7)} s  ${t.note}`);
  say(`  total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

main().catch((e) => {
  if (e instanceof ScriptError) {
    process.stderr.write(`[toolchain] ${e.message}\n`);
    process.exit(e.exitCode);
  }
  if (e instanceof StepError) {
    process.stderr.write(`[toolchain] FAILED in step "${e.step}"\n  command: ${e.command}\n  ${e.detail}\n${e.log ? `  log: ${e.log}\n` : ""}`);
  } else {
    process.stderr.write(`[toolchain] FAILED: ${(e as Error).stack ?? e}\n`);
  }
  process.exit(1);
});
