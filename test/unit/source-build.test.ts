import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_PROVIDER_SRC,
  archiveProblems,
  parseSha256Sums,
  planSourceBuild,
  providerSrcDir,
  recipeArchives,
  type SourceRecipe,
} from "../../toolchain/source-build";
import { buildKey, ldflagsFor, loadVersions, repoRoot } from "../../toolchain/versions";

const versions = loadVersions();
const recipes = Object.values(versions.go).flatMap((b) => (b.source ? [b.source] : []));
const postgresql = versions.go["pulumi-resource-postgresql"];
const hex = (c: string) => c.repeat(64);

describe("the recipes in versions.json", () => {
  it("build the four providers and the language host from source", () => {
    const fromSource = Object.entries(versions.go).filter(([, b]) => b.source).map(([n]) => n).sort();
    expect(fromSource).toEqual([
      "pulumi-language-nodejs",
      "pulumi-resource-docker",
      "pulumi-resource-postgresql",
      "pulumi-resource-random",
      "pulumi-resource-tls",
    ]);
  });

  it("generate each provider's schema at the version the plugin is stamped with", () => {
    for (const b of Object.values(versions.go).filter((x) => x.kind === "provider")) {
      const stamped = Object.entries(b.ldflags).find(([k]) => k.endsWith("/pkg/version.Version"))?.[1];
      expect(b.source?.generate?.version, b.plugin).toBe(stamped);
      expect(b.source?.generate?.version, b.plugin).toBe(versions.npm[b.npm!]);
    }
  });

  it("no longer build the language host from sdk/v3@v3.68.0", () => {
    expect(JSON.stringify(versions)).not.toContain("v3.68.0");
  });
});

describe("providerSrcDir", () => {
  it("defaults to ../shared/provider-src beside the repository", () => {
    expect(providerSrcDir(undefined, {})).toBe(path.resolve(repoRoot, "../shared/provider-src"));
    expect(DEFAULT_PROVIDER_SRC).toBe(path.resolve(repoRoot, "../shared/provider-src"));
  });

  it("takes $KRYONIX_PROVIDER_SRC, and --provider-src over it", () => {
    expect(providerSrcDir(undefined, { KRYONIX_PROVIDER_SRC: "/srv/src" })).toBe("/srv/src");
    expect(providerSrcDir("/a", { KRYONIX_PROVIDER_SRC: "/srv/src" })).toBe("/a");
    expect(providerSrcDir("rel", {}, "/base")).toBe("/base/rel");
  });
});

describe("archiveProblems", () => {
  const recipe: SourceRecipe = {
    archive: { file: "main.tar.gz", sha256: hex("a") },
    upstream: { file: "up.tar.gz", sha256: hex("b"), patches: [] },
    module: "provider",
  };
  const sums = `${hex("a")}  main.tar.gz\n${hex("b")}  up.tar.gz\n`;
  const actual = new Map([
    ["main.tar.gz", hex("a")],
    ["up.tar.gz", hex("b")],
  ]);

  it("accepts a folder whose archives match SHA256SUMS and the pins", () => {
    expect(archiveProblems("/src", [recipe], { exists: true, sha256sums: sums, actual })).toEqual([]);
  });

  it("names the folder and what belongs in it when the folder is missing", () => {
    const [p] = archiveProblems("/nowhere", [recipe], { exists: false, actual: new Map() });
    expect(p).toBe(
      "the provider source folder /nowhere does not exist; it must hold SHA256SUMS and main.tar.gz, up.tar.gz " +
        "(set KRYONIX_PROVIDER_SRC or pass --provider-src DIR to use another folder)",
    );
  });

  it("reports a missing SHA256SUMS, a missing archive, and hashes that disagree", () => {
    expect(archiveProblems("/src", [recipe], { exists: true, actual })[0]).toMatch(/\/src\/SHA256SUMS is missing; the folder must hold/);
    const tampered = new Map([["main.tar.gz", hex("c")]]);
    expect(archiveProblems("/src", [recipe], { exists: true, sha256sums: sums, actual: tampered })).toEqual([
      `main.tar.gz: SHA-256 is ${hex("c")} but SHA256SUMS says ${hex("a")}`,
      `main.tar.gz: SHA-256 is ${hex("c")} but versions.json pins ${hex("a")}`,
      "/src/up.tar.gz is missing (set KRYONIX_PROVIDER_SRC or pass --provider-src DIR to use another folder)",
    ]);
  });

  it("reports an archive that SHA256SUMS does not list", () => {
    expect(archiveProblems("/src", [recipe], { exists: true, sha256sums: `${hex("a")}  main.tar.gz\n`, actual })).toEqual([
      "up.tar.gz is not listed in /src/SHA256SUMS",
    ]);
  });

  it("lists every archive the recipes of versions.json need once", () => {
    const files = recipes.flatMap(recipeArchives).map((a) => a.file);
    expect(new Set(files).size).toBe(7);
  });
});

describe("parseSha256Sums", () => {
  it("reads sha256sum's text and binary forms and skips junk", () => {
    const m = parseSha256Sums(`${hex("a")}  x.tar.gz\n${hex("b")} *y.tar.gz\nnot a line\n`);
    expect([...m]).toEqual([
      ["x.tar.gz", hex("a")],
      ["y.tar.gz", hex("b")],
    ]);
  });
});

describe("planSourceBuild", () => {
  it("extracts, puts upstream/ beside provider/, patches, generates, then builds", () => {
    const steps = planSourceBuild(postgresql.source!, { package: postgresql.package, ldflags: ldflagsFor(postgresql) }, "/src", "/out/bin");
    expect(steps.map((s) => [s.cwd, s.cmd, ...s.args].join(" "))).toEqual([
      ". tar -xzf /src/pulumi-postgresql-v3.18.0.tar.gz --strip-components=1 -C .",
      ". mkdir -p upstream",
      ". tar -xzf /src/terraform-provider-postgresql-ff936b9548c1.tar.gz --strip-components=1 -C upstream",
      "upstream patch -p1 --forward --batch -i ../patches/0001-fix-import-path.patch",
      "provider/cmd/pulumi-resource-postgresql go run generate.go",
      `provider go build -trimpath -ldflags ${ldflagsFor(postgresql)} -o /out/bin ./cmd/pulumi-resource-postgresql`,
    ]);
    expect(steps[4].env).toEqual({ VERSION: "3.18.0" });
  });

  it("edits go.mod before the build when the recipe says so", () => {
    const tls = versions.go["pulumi-resource-tls"];
    const steps = planSourceBuild(tls.source!, { package: tls.package, ldflags: "" }, "/src", "/o");
    const edit = steps.find((s) => s.what === "edit go.mod");
    expect(edit?.args).toEqual([
      "mod",
      "edit",
      "-require=github.com/pulumi/pulumi-terraform-bridge/v3@v3.134.0",
      "-droprequire=github.com/pulumi/pulumi-java/pkg",
      "-require=github.com/pulumi/pulumi-java@v1.32.0",
    ]);
    expect(steps.indexOf(edit!)).toBe(steps.length - 2);
  });

  it("keys the cache by the archives' hashes and the recipe", () => {
    const k = buildKey("p", postgresql, "go1.26.8");
    const otherHash = { ...postgresql, source: { ...postgresql.source!, archive: { ...postgresql.source!.archive, sha256: hex("0") } } };
    const otherRecipe = { ...postgresql, source: { ...postgresql.source!, goModEdit: ["-require=x@v1.0.0"] } };
    expect(buildKey("p", otherHash, "go1.26.8")).not.toBe(k);
    expect(buildKey("p", otherRecipe, "go1.26.8")).not.toBe(k);
  });
});
