/**
 * What a kept PostgreSQL data volume holds, read before the program plans (README, "Destroying a
 * stack"). A destroy that keeps the data leaves the volume without its container, and the next up
 * adopts the cluster in it: each declared role and the database are imported when the cluster has
 * them and created when it does not (a volume kept by an older version lacks the roles added
 * since). Pulumi decides import or create when the resource registers, and at that point, in a
 * preview as in an up, no server runs on the volume: so the program asks a short-lived container
 * that mounts the volume read-only (io/docker-engine.ts probeKeptCluster), runs the script below
 * and prints the cluster's role and database names. Everything here is pure.
 */
import { invalid } from "../model/messages";

/** Where the probe container mounts the kept volume, read-only. */
export const KEPT_MOUNT = "/kept";
/** Where the probe copies what the server needs: the container's own layer (disk), never the volume. */
export const PROBE_WORK = "/var/tmp/kryonix-probe";
/** The line of the probe's output that carries its answer. */
export const PROBE_MARKER = "kryonix-kept-cluster";

/**
 * How the probe read the cluster: `none`, the volume holds no cluster yet (it is empty: the new
 * container's first start runs initdb); `clean`, a cluster shut down cleanly, read from a copy of
 * its shared catalogs, template1 and the checkpoint's WAL segment (some MB, whatever the data's
 * size); `whole`, a cluster that was not shut down cleanly, read from a copy of the whole directory,
 * since crash recovery replays WAL into any relation.
 */
export type ProbeCopy = "none" | "clean" | "whole";

export interface KeptCluster {
  copy: ProbeCopy;
  /** Every role of the cluster (pg_roles), sorted. */
  roles: string[];
  /** Every database of the cluster (pg_database), sorted. */
  databases: string[];
}

/**
 * The probe, a bash script run as root in the stack's postgres image with the volume at KEPT_MOUNT
 * (read-only), no network. It never writes to the volume: it copies what a server needs into the
 * container's own layer, starts PostgreSQL there (no TCP listener, no TLS, no archiving, no
 * preloaded library, the configuration files of the copy left out), lists pg_roles and pg_database,
 * and stops it. The catalogs' password verifiers are never read. Its answer is one line:
 * `kryonix-kept-cluster <copy> <json>`; on failure it exits non-zero with the server log's tail.
 * `paths` are for the unit test, which runs it against fake PostgreSQL commands.
 */
export function renderProbeScript(paths: { kept: string; work: string } = { kept: KEPT_MOUNT, work: PROBE_WORK }): string {
  return `set -Eeuo pipefail
umask 077
kept=${paths.kept}
if [ ! -s "$kept/PG_VERSION" ]; then
  if [ -z "$(ls -A "$kept")" ]; then echo '${PROBE_MARKER} none {"roles":[],"databases":[]}'; exit 0; fi
  echo "the volume is not empty and holds no cluster (no PG_VERSION): the postgres container would refuse to start on it too" >&2
  exit 3
fi
work=${paths.work}
data=$work/data
mkdir -p "$data"
control=$(pg_controldata "$kept")
state=$(printf '%s\\n' "$control" | sed -n 's/^Database cluster state: *//p')
redo=$(printf '%s\\n' "$control" | sed -n "s/^Latest checkpoint's REDO WAL file: *//p")
if [ "$state" = "shut down" ] && [ -n "$redo" ] && [ -f "$kept/pg_wal/$redo" ] && [ -d "$kept/base/1" ]; then
  # Nothing to replay: the shared catalogs, template1 and the segment holding the checkpoint.
  for entry in "$kept"/*; do
    case "\${entry##*/}" in base|pg_wal|postmaster.pid|postmaster.opts|postgresql.auto.conf) ;; *) cp -a "$entry" "$data/" ;; esac
  done
  mkdir -p "$data/base" "$data/pg_wal/archive_status"
  cp -a "$kept/base/1" "$data/base/"
  cp -a "$kept/pg_wal/$redo" "$data/pg_wal/"
  find "$kept/pg_wal" -maxdepth 1 -name '*.history' -exec cp -a {} "$data/pg_wal/" \\;
  copy=clean
else
  echo "the cluster was not shut down cleanly (state: \${state:-unknown}): reading a copy of the whole directory" >&2
  cp -a "$kept/." "$data/"
  rm -f "$data/postmaster.pid" "$data/postmaster.opts" "$data/postgresql.auto.conf"
  copy=whole
fi
: >"$work/probe.conf"
echo 'local all all trust' >"$work/hba.conf"
chown -R postgres:postgres "$work"
chmod 0700 "$data"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
fail() { echo "$1" >&2; tail -n 20 "$work/log" >&2 || true; exit 4; }
as_postgres pg_ctl start -w -t 300 -D "$data" -l "$work/log" -o "-c config_file=$work/probe.conf -c hba_file=$work/hba.conf -c listen_addresses='' -c unix_socket_directories=$work -c archive_mode=off -c ssl=off -c shared_preload_libraries='' -c max_connections=10 -c shared_buffers=16MB -c autovacuum=off -c logging_collector=off" >/dev/null || fail "PostgreSQL did not start on the copy of the kept cluster:"
json=
for db in template1 postgres; do
  json=$(as_postgres psql -h "$work" -U postgres -d "$db" -XAtq -v ON_ERROR_STOP=1 -c "SELECT json_build_object('roles', (SELECT json_agg(rolname ORDER BY rolname) FROM pg_roles), 'databases', (SELECT json_agg(datname ORDER BY datname) FROM pg_database))") && break
done
as_postgres pg_ctl stop -D "$data" -m immediate >/dev/null 2>&1 || true
[ -n "$json" ] || fail "cannot list the roles of the copy of the kept cluster:"
echo "${PROBE_MARKER} $copy $json"
`;
}

/** The probe's answer from its standard output; throws when there is none. Pure. */
export function parseProbeOutput(stdout: string): KeptCluster {
  const line = stdout.split("\n").find((l) => l.startsWith(`${PROBE_MARKER} `));
  const m = line ? /^\S+ (none|clean|whole) (\{.*\})\s*$/.exec(line) : null;
  if (!m) throw new Error(`the probe printed no answer (a line "${PROBE_MARKER} <copy> <json>")`);
  const parsed = JSON.parse(m[2]) as { roles?: unknown; databases?: unknown };
  const names = (value: unknown, what: string): string[] => {
    if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) throw new Error(invalid(`the probe's ${what}`, value, "a list of names"));
    return [...value].sort();
  };
  return { copy: m[1] as ProbeCopy, roles: names(parsed.roles, "roles"), databases: names(parsed.databases, "databases") };
}

/** Declared names split into those the kept cluster has (imported) and those it lacks (created), in declared order. Pure. */
export function splitByPresence(declared: readonly string[], present: readonly string[]): { imported: string[]; created: string[] } {
  const has = new Set(present);
  return { imported: declared.filter((n) => has.has(n)), created: declared.filter((n) => !has.has(n)) };
}

/**
 * The line the program logs (a preview shows it): which declared roles and databases are imported
 * from the kept cluster and which are created. Pure.
 */
export function adoptionMessage(volume: string, kept: KeptCluster, declared: { roles: readonly string[]; databases: readonly string[] }): string {
  if (kept.copy === "none") return `the data volume ${volume} outlived its container but holds no cluster yet: its first start runs initdb, and every role and database is created`;
  const roles = splitByPresence(declared.roles, kept.roles);
  const databases = splitByPresence(declared.databases, kept.databases);
  const list = (names: string[]) => (names.length ? names.join(", ") : "none");
  return [
    `the data volume ${volume} outlived its container: its cluster is adopted`,
    `imported (the cluster has them): roles ${list(roles.imported)}; databases ${list(databases.imported)}`,
    `created (the cluster lacks them): roles ${list(roles.created)}; databases ${list(databases.created)}`,
  ].join("; ");
}
