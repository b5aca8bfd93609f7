import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { repoRoot } from "../io/repo-root";
import type { SourceRecipe } from "./source-build";

/**
 * One Go program we build (see versions.json): from the module proxy in a throwaway module that
 * requires it (`require`), or from source archives (`source`) when the proxy refuses its module.
 */
export interface GoBuild {
  kind: "cli" | "provider";
  /** Main package to build: an import path, or a path inside `source.module` such as "./cmd/x". */
  package: string;
  /** Modules our throwaway build module requires, at exact versions (proxy builds). */
  require?: Record<string, string>;
  /** The archives, patches and go.mod edits of a build from source (toolchain/source-build.ts). */
  source?: SourceRecipe;
  /** Replace directives the upstream go.mod carries and `go build` from a dependency would drop. */
  replace?: Record<string, string>;
  /** go.sum lines we pin ourselves, for versions sum.golang.org has no record of. */
  sums?: string[];
  /** Modules whose .info the proxy refuses though it serves .mod and .zip: commit time to serve it from a local file proxy. */
  infoTime?: Record<string, string>;
  /** -X flags: Pulumi binaries panic or misreport with an empty version. */
  ldflags: Record<string, string>;
  /** Provider plugin name, as `pulumi plugin ls` shows it. */
  plugin?: string;
  /** npm package whose version the plugin must equal. */
  npm?: string;
}

export interface Versions {
  npm: Record<string, string>;
  go: Record<string, GoBuild>;
  debian: { suite: string; mirror: string; securityMirror: string; baseImage: string };
  /** Go programs the checks use (not the stack): built with `go install module@version`, e.g. actionlint. */
  tools?: Record<string, { module: string; version: string }>;
}

export { repoRoot };

export function loadVersions(file = path.join(repoRoot, "versions.json")): Versions {
  return JSON.parse(readFileSync(file, "utf8")) as Versions;
}

/** The version a provider plugin must be installed at: the npm SDK's, which the SDK asks the engine for. */
export function pluginVersion(v: Versions, build: GoBuild): string {
  if (!build.npm) throw new Error(`provider build for plugin ${build.plugin} names no npm package`);
  const version = v.npm[build.npm];
  if (!version) throw new Error(`versions.json: npm.${build.npm} is missing but go build for plugin ${build.plugin} needs it`);
  return version;
}

/**
 * Every disagreement between versions.json and package.json / package-lock.json.
 * package.json must pin exactly (no ranges): a caret would let `npm install` drift from the plugins we build.
 */
export function versionMismatches(
  v: Versions,
  pkg: { dependencies?: Record<string, string>; devDependencies?: Record<string, string> },
  lock: { packages?: Record<string, { version?: string }> },
): string[] {
  const problems: string[] = [];
  const declared = { ...(pkg.devDependencies ?? {}), ...(pkg.dependencies ?? {}) };
  for (const [name, want] of Object.entries(v.npm)) {
    const got = declared[name];
    if (got === undefined) problems.push(`package.json does not depend on ${name} (versions.json pins ${want})`);
    else if (got !== want) problems.push(`package.json has ${name}@${got} but versions.json pins ${want}`);
    const locked = lock.packages?.[`node_modules/${name}`]?.version;
    if (locked === undefined) problems.push(`package-lock.json has no node_modules/${name} (versions.json pins ${want})`);
    else if (locked !== want) problems.push(`package-lock.json locks ${name}@${locked} but versions.json pins ${want}`);
  }
  for (const [name, build] of Object.entries(v.go)) {
    if (build.kind !== "provider") continue;
    if (!build.npm || !(build.npm in v.npm)) {
      problems.push(`versions.json: go.${name} is a provider but its npm package ${build.npm ?? "(none)"} is not pinned under npm`);
      continue;
    }
    const want = v.npm[build.npm];
    for (const [flag, value] of Object.entries(build.ldflags)) {
      if (flag.endsWith("/pkg/version.Version") && value !== want) {
        problems.push(`versions.json: go.${name} stamps version ${value} but ${build.npm} is ${want}`);
      }
    }
  }
  return problems;
}

/** go.mod for the throwaway module that builds one program; upstream replaces are not honoured in dependencies. */
export function renderGoMod(name: string, build: GoBuild, goDirective = "1.24"): string {
  const lines = [`module kryonix.local/toolchain/${name}`, "", `go ${goDirective}`, ""];
  const reqs = Object.entries(build.require ?? {});
  if (reqs.length) lines.push("require (", ...reqs.map(([m, ver]) => `\t${m} ${ver}`), ")", "");
  for (const [from, to] of Object.entries(build.replace ?? {})) lines.push(`replace ${from} => ${to}`);
  return lines.join("\n") + "\n";
}

export function ldflagsFor(build: GoBuild): string {
  const xs = Object.entries(build.ldflags).map(([k, val]) => `-X ${k}=${val}`);
  return ["-s", "-w", ...xs].join(" ");
}

/** The module in `require` that provides `build.package` (longest path prefix). */
export function mainModule(build: GoBuild): [string, string] {
  const candidates = Object.entries(build.require ?? {}).filter(
    ([m]) => build.package === m || build.package.startsWith(m + "/"),
  );
  if (!candidates.length) throw new Error(`no module in require provides package ${build.package}`);
  return candidates.sort((a, b) => b[0].length - a[0].length)[0];
}

/** Cache key: changes whenever anything that affects the binary changes. */
export function buildKey(name: string, build: GoBuild, goVersion: string): string {
  const h = createHash("sha256")
    .update(JSON.stringify({ name, build, goVersion, cgo: 0 }))
    .digest("hex");
  return `${name}-${h.slice(0, 12)}`;
}

/** Module path as the GOPROXY protocol spells it: upper-case letters become '!' + lower-case. */
export function escapeModulePath(p: string): string {
  return p.replace(/[A-Z]/g, (c) => "!" + c.toLowerCase());
}

/** Modules whose checksums we pin in go.sum ourselves; the sumdb must not be asked about them. */
export function noSumDbModules(build: GoBuild): string[] {
  return [...new Set((build.sums ?? []).map((line) => line.split(" ")[0]))];
}
