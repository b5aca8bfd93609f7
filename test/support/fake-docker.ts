/**
 * A fake `docker` command for the unit tests, so that io/docker-engine.ts (which index.ts calls
 * before it declares anything) never reaches the real Docker engine: a small sh script in a temp
 * directory put first on PATH. It answers
 *
 *   docker version --format {{.Server.APIVersion}}   with the configured API version;
 *   docker volume inspect NAME / container inspect NAME   with exit 0 when NAME is configured as
 *     present, exit 1 ("No such ...") otherwise;
 *   docker run ... bash -c SCRIPT   (the kept-cluster probe, io/docker-engine.ts probeKeptCluster)
 *     with the configured probe output and exit code; logged up to `-c`, without the script;
 *   docker rm -f NAME   with exit 0;
 *
 * and fails loudly on anything else. Every call is logged, one line each, for assertions.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

export interface FakeDockerState {
  /** What `docker version --format {{.Server.APIVersion}}` prints, e.g. "1.41". */
  apiVersion: string;
  /** Names `docker volume inspect` finds. */
  volumes?: string[];
  /** Names `docker container inspect` finds. */
  containers?: string[];
  /** What `docker run` (the kept-cluster probe) prints on stdout and stderr, and its exit code; by default an empty volume's answer. */
  probe?: { stdout: string; stderr?: string; code?: number };
}

/** The probe's answer for a kept cluster with these roles and databases (checks/kept-cluster.ts). */
export function probeAnswer(roles: readonly string[], databases: readonly string[], copy = "clean"): { stdout: string } {
  return { stdout: `kryonix-kept-cluster ${copy} ${JSON.stringify({ roles, databases })}\n` };
}

export interface FakeDocker {
  dir: string;
  /** Sets what the next calls answer, and clears the call log. */
  set(state: FakeDockerState): void;
  /** The calls since the last set(), as "arg arg ..." lines. */
  calls(): string[];
  /** Restores PATH and removes the directory. */
  restore(): void;
}

const SCRIPT = `#!/bin/sh
dir=$(dirname "$0")
if [ "$1" = run ]; then
  logged=
  for a in "$@"; do [ "$a" = -c ] && break; logged="$logged\${logged:+ }$a"; done
  echo "$logged -c ..." >> "$dir/calls"
  cat "$dir/probe-stdout"
  cat "$dir/probe-stderr" >&2
  exit "$(cat "$dir/probe-code")"
fi
echo "$*" >> "$dir/calls"
case "$1 $2" in
  "rm -f")
    exit 0 ;;
  "version --format")
    cat "$dir/api-version"
    exit 0 ;;
  "volume inspect")
    if grep -qxF -- "$3" "$dir/volumes"; then echo '[{"Name": "'"$3"'"}]'; exit 0; fi
    echo "Error response from daemon: get $3: no such volume" >&2
    exit 1 ;;
  "container inspect")
    if grep -qxF -- "$3" "$dir/containers"; then echo '[{"Name": "/'"$3"'"}]'; exit 0; fi
    echo "Error response from daemon: No such container: $3" >&2
    exit 1 ;;
esac
echo "fake docker: unexpected call: docker $*" >&2
exit 2
`;

/** Installs the fake first on PATH (call in beforeAll; restore() in afterAll). */
export function installFakeDocker(initial: FakeDockerState = { apiVersion: "1.41" }): FakeDocker {
  const dir = mkdtempSync(path.join(tmpdir(), "kryonix-fake-docker-"));
  const script = path.join(dir, "docker");
  writeFileSync(script, SCRIPT);
  chmodSync(script, 0o755);
  const savedPath = process.env.PATH;
  process.env.PATH = `${dir}${path.delimiter}${savedPath ?? ""}`;
  const fake: FakeDocker = {
    dir,
    set(state) {
      writeFileSync(path.join(dir, "api-version"), `${state.apiVersion}\n`);
      writeFileSync(path.join(dir, "volumes"), (state.volumes ?? []).map((v) => `${v}\n`).join(""));
      writeFileSync(path.join(dir, "containers"), (state.containers ?? []).map((c) => `${c}\n`).join(""));
      writeFileSync(path.join(dir, "probe-stdout"), state.probe?.stdout ?? 'kryonix-kept-cluster none {"roles":[],"databases":[]}\n');
      writeFileSync(path.join(dir, "probe-stderr"), state.probe?.stderr ?? "");
      writeFileSync(path.join(dir, "probe-code"), `${state.probe?.code ?? 0}\n`);
      writeFileSync(path.join(dir, "calls"), "");
    },
    calls() {
      return readFileSync(path.join(dir, "calls"), "utf8").split("\n").filter(Boolean);
    },
    restore() {
      if (savedPath === undefined) delete process.env.PATH;
      else process.env.PATH = savedPath;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  fake.set(initial);
  return fake;
}
