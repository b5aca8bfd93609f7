/**
 * `npm run lint:workflows`: actionlint over .github/workflows. The binary is built from its Go
 * module at the version versions.json pins (`tools.actionlint`), with `go install` through the Go
 * module proxy, and kept outside the repository in <KRYONIX_CACHE>/tools/actionlint-<version>/, so
 * a second run builds nothing. Exit code: actionlint's (1 on findings), 2 when it cannot be built.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import * as path from "node:path";
import { cacheRoot } from "../toolchain/toolchain-state";
import { loadVersions, repoRoot } from "../toolchain/versions";

const say = (line: string) => process.stderr.write(`[lint:workflows] ${line}\n`);
const tool = loadVersions().tools?.actionlint;
if (!tool) {
  say("versions.json has no tools.actionlint pin");
  process.exit(2);
}
const dir = path.join(cacheRoot(), "tools", `actionlint-${tool.version}`);
const bin = path.join(dir, "actionlint");
if (!existsSync(bin)) {
  const t0 = Date.now();
  const tmp = `${dir}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  say(`building ${tool.module}@${tool.version} (go install, from the Go module proxy)`);
  const r = spawnSync("go", ["install", `${tool.module}@${tool.version}`], { stdio: "inherit", env: { ...process.env, GOBIN: tmp, CGO_ENABLED: "0", GOFLAGS: "-buildvcs=false" } });
  if (r.status !== 0 || !existsSync(path.join(tmp, "actionlint"))) {
    rmSync(tmp, { recursive: true, force: true });
    say(`go install ${tool.module}@${tool.version} failed (exit ${r.status})`);
    process.exit(2);
  }
  // Into place only once built: an interrupted build leaves no half binary behind.
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  say(`built in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${bin}`);
}
const workflows = path.join(repoRoot, ".github", "workflows");
const files = readdirSync(workflows).filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join(".github", "workflows", f));
say(`actionlint ${tool.version} on ${files.join(", ")}`);
// shellcheck and pyflakes are used when installed (.ci/run installs shellcheck); actionlint skips them otherwise.
const r = spawnSync(bin, ["-color", ...files], { cwd: repoRoot, stdio: "inherit" });
process.exit(r.status ?? 2);
