/**
 * Go programs built from source archives rather than from the module proxy: the provider plugins
 * and the Node.js language host, whose own modules the proxy refuses (README "Toolchain"). Each
 * recipe in versions.json names its archives with their SHA-256, the patches to apply, the schema
 * to generate and the go.mod edits it takes. Pure: the toolchain runs the steps planned here.
 */
import * as path from "node:path";
import { repoRoot } from "../io/repo-root";

export interface PinnedArchive {
  /** File name inside the provider source folder. */
  file: string;
  sha256: string;
}

export interface SourceRecipe {
  archive: PinnedArchive;
  /**
   * The Terraform upstream, extracted as `upstream/` beside the main archive's folders (the
   * providers' go.mod replace the upstream module with `../upstream`).
   */
  upstream?: PinnedArchive & {
    /** Patches from the main archive (paths relative to its top), applied in order inside upstream/. */
    patches: string[];
  };
  /** Folder of the main archive that holds the go.mod to build. */
  module: string;
  /** `VERSION=<version> go run generate.go` in this folder (relative to `module`): the embedded schema. */
  generate?: { dir: string; version: string };
  /** Arguments to one `go mod edit` in `module`, e.g. "-require=example.com/m@v1.2.3". */
  goModEdit?: string[];
}

/** The default folder of the source archives: `../shared/provider-src` beside the repository. */
export const DEFAULT_PROVIDER_SRC = path.resolve(repoRoot, "..", "shared", "provider-src");
export const PROVIDER_SRC_ENV = "KRYONIX_PROVIDER_SRC";
export const PROVIDER_SRC_FLAG = "--provider-src";

/** The archive folder: `--provider-src DIR` (`flag`) wins over $KRYONIX_PROVIDER_SRC, which wins over the default. */
export function providerSrcDir(flag: string | undefined, env: NodeJS.ProcessEnv, cwd = process.cwd()): string {
  if (flag) return path.resolve(cwd, flag);
  const fromEnv = env[PROVIDER_SRC_ENV];
  return fromEnv ? path.resolve(cwd, fromEnv) : DEFAULT_PROVIDER_SRC;
}

export function recipeArchives(recipe: SourceRecipe): PinnedArchive[] {
  return recipe.upstream ? [recipe.archive, { file: recipe.upstream.file, sha256: recipe.upstream.sha256 }] : [recipe.archive];
}

/** `sha256sum` output: "<hex>  <file>" (or "<hex> *<file>") per line. */
export function parseSha256Sums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (m) sums.set(m[2], m[1]);
  }
  return sums;
}

/** What the folder must hold, for an error message. */
export function expectedContents(recipes: readonly SourceRecipe[]): string {
  const files = [...new Set(recipes.flatMap((r) => recipeArchives(r).map((a) => a.file)))].sort();
  return `SHA256SUMS and ${files.join(", ")}`;
}

export interface FolderView {
  exists: boolean;
  /** SHA256SUMS's text, or undefined when the file is missing. */
  sha256sums?: string;
  /** File name -> its actual SHA-256, for the files present. */
  actual: Map<string, string>;
}

/**
 * Every reason the folder cannot be used for these recipes: the folder or SHA256SUMS missing, an
 * archive missing, or an archive whose hash differs from SHA256SUMS or from our pin. Pure.
 */
export function archiveProblems(dir: string, recipes: readonly SourceRecipe[], view: FolderView): string[] {
  const how = `set ${PROVIDER_SRC_ENV} or pass ${PROVIDER_SRC_FLAG} DIR to use another folder`;
  if (!view.exists) {
    return [`the provider source folder ${dir} does not exist; it must hold ${expectedContents(recipes)} (${how})`];
  }
  if (view.sha256sums === undefined) {
    return [`${path.join(dir, "SHA256SUMS")} is missing; the folder must hold ${expectedContents(recipes)} (${how})`];
  }
  const listed = parseSha256Sums(view.sha256sums);
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const a of recipes.flatMap(recipeArchives)) {
    if (seen.has(a.file)) continue;
    seen.add(a.file);
    const actual = view.actual.get(a.file);
    if (actual === undefined) {
      problems.push(`${path.join(dir, a.file)} is missing (${how})`);
      continue;
    }
    const inSums = listed.get(a.file);
    if (inSums === undefined) problems.push(`${a.file} is not listed in ${path.join(dir, "SHA256SUMS")}`);
    else if (inSums !== actual) problems.push(`${a.file}: SHA-256 is ${actual} but SHA256SUMS says ${inSums}`);
    if (actual !== a.sha256) problems.push(`${a.file}: SHA-256 is ${actual} but versions.json pins ${a.sha256}`);
  }
  return problems;
}

export interface PlannedCommand {
  /** What the step is, for the log and errors. */
  what: string;
  cmd: string;
  args: string[];
  /** Relative to the build's source root. */
  cwd: string;
  env?: Record<string, string>;
}

/**
 * The commands that turn the archives into a binary, in order, relative to the source root
 * (`src`). `dir` is the folder holding the archives; `out` the binary to write.
 */
export function planSourceBuild(
  recipe: SourceRecipe,
  build: { package: string; ldflags: string },
  dir: string,
  out: string,
): PlannedCommand[] {
  const steps: PlannedCommand[] = [
    {
      what: `extract ${recipe.archive.file}`,
      cmd: "tar",
      args: ["-xzf", path.join(dir, recipe.archive.file), "--strip-components=1", "-C", "."],
      cwd: ".",
    },
  ];
  if (recipe.upstream) {
    steps.push({ what: "make upstream/", cmd: "mkdir", args: ["-p", "upstream"], cwd: "." });
    steps.push({
      what: `extract ${recipe.upstream.file}`,
      cmd: "tar",
      args: ["-xzf", path.join(dir, recipe.upstream.file), "--strip-components=1", "-C", "upstream"],
      cwd: ".",
    });
    for (const p of recipe.upstream.patches) {
      steps.push({ what: `apply ${p}`, cmd: "patch", args: ["-p1", "--forward", "--batch", "-i", path.join("..", p)], cwd: "upstream" });
    }
  }
  if (recipe.generate) {
    steps.push({
      what: "generate the embedded schema",
      cmd: "go",
      args: ["run", "generate.go"],
      cwd: path.join(recipe.module, recipe.generate.dir),
      env: { VERSION: recipe.generate.version },
    });
  }
  if (recipe.goModEdit?.length) {
    steps.push({ what: "edit go.mod", cmd: "go", args: ["mod", "edit", ...recipe.goModEdit], cwd: recipe.module });
  }
  steps.push({
    what: "go build",
    cmd: "go",
    args: ["build", "-trimpath", "-ldflags", build.ldflags, "-o", out, build.package],
    cwd: recipe.module,
  });
  return steps;
}
