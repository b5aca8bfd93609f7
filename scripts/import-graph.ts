/**
 * `npm run lint:arch:graph` writes the drawing of imports between folders into docs/development.md;
 * with `--check` (what `npm run lint:arch` runs after the rules) it fails when the drawing there is
 * not the one the code gives, so the drawing cannot go stale.
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { runCli } from "../io/docker-cli";
import { repoRoot } from "../io/repo-root";
import { parseCli, runMain, ScriptError } from "../ops/cli";
import { renderImportGraph, withImportGraph, type CruiseResult } from "../render/import-graph";

/** Highest floor first; the folders `npm run lint:arch` cruises. */
const FLOORS = ["index.ts", "scripts", "bench", "policy", "components", "providers", "ops", "toolchain", "io", "checks", "render", "model"];
const CRUISED = ["index.ts", "components", "providers", "io", "ops", "toolchain", "scripts", "bench", "policy/index.ts", "model", "render", "checks"];
const DOC = path.join(repoRoot, "docs", "development.md");

runMain("lint:arch:graph", () => {
  const { values } = parseCli("lint:arch:graph", process.argv.slice(2), { check: { type: "boolean" } });
  const cruise = runCli(path.join(repoRoot, "node_modules", ".bin", "depcruise"), [...CRUISED, "--config", ".dependency-cruiser.cjs", "--output-type", "json"], {
    cwd: repoRoot,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (cruise.code !== 0) throw new ScriptError(`depcruise failed (exit ${cruise.code}): ${cruise.stderr.trim().slice(-500)}`);
  const doc = readFileSync(DOC, "utf8");
  const updated = withImportGraph(doc, renderImportGraph(JSON.parse(cruise.stdout) as CruiseResult, FLOORS));
  if (updated === doc) {
    process.stdout.write("docs/development.md: the import graph is current\n");
    return 0;
  }
  if (values.check) throw new ScriptError("docs/development.md: the import graph is not the one the code gives: run `npm run lint:arch:graph` and commit it");
  writeFileSync(DOC, updated);
  process.stdout.write("docs/development.md: import graph written\n");
  return 0;
});
