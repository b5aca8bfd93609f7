import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  GoBuild,
  Versions,
  buildKey,
  escapeModulePath,
  ldflagsFor,
  loadVersions,
  mainModule,
  noSumDbModules,
  renderGoMod,
  repoRoot,
  versionMismatches,
} from "../../toolchain/versions";

const versions = loadVersions();
const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8"));
const lock = JSON.parse(readFileSync(path.join(repoRoot, "package-lock.json"), "utf8"));

describe("versions.json is the single source of truth", () => {
  it("agrees with package.json and package-lock.json", () => {
    expect(versionMismatches(versions, pkg, lock)).toEqual([]);
  });

  it("reports a package.json range, a lock drift and a missing dependency", () => {
    const v: Versions = { ...versions, npm: { "@pulumi/pulumi": "3.259.0", "@pulumi/random": "4.21.1", "@pulumi/x": "1.0.0" }, go: {} };
    const problems = versionMismatches(
      v,
      { dependencies: { "@pulumi/pulumi": "^3.259.0", "@pulumi/random": "4.21.1" } },
      { packages: { "node_modules/@pulumi/pulumi": { version: "3.259.0" }, "node_modules/@pulumi/random": { version: "4.22.0" } } },
    );
    expect(problems).toEqual([
      "package.json has @pulumi/pulumi@^3.259.0 but versions.json pins 3.259.0",
      "package-lock.json locks @pulumi/random@4.22.0 but versions.json pins 4.21.1",
      "package.json does not depend on @pulumi/x (versions.json pins 1.0.0)",
      "package-lock.json has no node_modules/@pulumi/x (versions.json pins 1.0.0)",
    ]);
  });

  it("reports a provider stamped with a version other than its npm package's", () => {
    const provider: GoBuild = {
      kind: "provider",
      plugin: "random",
      npm: "@pulumi/random",
      package: "example.com/p/cmd/x",
      require: { "example.com/p": "v1.0.0" },
      ldflags: { "example.com/p/pkg/version.Version": "4.20.0" },
    };
    const v: Versions = { ...versions, npm: { "@pulumi/random": "4.21.1" }, go: { r: provider } };
    const ok = { dependencies: { "@pulumi/random": "4.21.1" } };
    const okLock = { packages: { "node_modules/@pulumi/random": { version: "4.21.1" } } };
    expect(versionMismatches(v, ok, okLock)).toEqual(["versions.json: go.r stamps version 4.20.0 but @pulumi/random is 4.21.1"]);
  });

  it("every provider plugin maps to a pinned npm package", () => {
    for (const build of Object.values(versions.go).filter((b) => b.kind === "provider")) {
      expect(versions.npm[build.npm!], build.plugin).toBeDefined();
    }
  });
});

describe("go build helpers", () => {
  const cli = versions.go.pulumi;

  it("renders a go.mod with the requires and the upstream replace", () => {
    const mod = renderGoMod("pulumi", cli);
    expect(mod).toContain("module kryonix.local/toolchain/pulumi");
    expect(mod).toContain("\tgithub.com/pulumi/pulumi/pkg/v3 v3.259.0");
    expect(mod).toContain("replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e");
  });

  it("stamps the version with -X", () => {
    expect(ldflagsFor(cli)).toBe("-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v3.259.0");
  });

  it("finds the module that provides the main package (longest prefix)", () => {
    expect(mainModule(cli)).toEqual(["github.com/pulumi/pulumi/pkg/v3", "v3.259.0"]);
    expect(() => mainModule({ ...cli, package: "example.com/nope" })).toThrow(/no module in require provides package example.com\/nope/);
  });

  it("keys the cache by everything that changes the binary", () => {
    const k = buildKey("pulumi", cli, "go1.26.8");
    expect(k).toMatch(/^pulumi-[0-9a-f]{12}$/);
    expect(buildKey("pulumi", cli, "go1.26.8")).toBe(k);
    expect(buildKey("pulumi", cli, "go1.26.9")).not.toBe(k);
    expect(buildKey("pulumi", { ...cli, require: { ...cli.require, "github.com/pulumi/pulumi/pkg/v3": "v3.260.0" } }, "go1.26.8")).not.toBe(k);
  });

  it("escapes module paths for the GOPROXY protocol", () => {
    expect(escapeModulePath("github.com/BurntSushi/toml")).toBe("github.com/!burnt!sushi/toml");
  });

  it("lists the modules whose sums are pinned so the sumdb is not asked", () => {
    expect(noSumDbModules(versions.go.minio)).toEqual(["github.com/minio/minio"]);
    expect(noSumDbModules(cli)).toEqual([]);
  });
});

