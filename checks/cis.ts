import { CLUSTER_ROLES } from "../model/cluster";
import { CIS_CONTROL_IDS, type CisControlId } from "../model/cis";
import { invalid } from "../model/messages";

/**
 * `npm run audit`: CIS PostgreSQL 17 Benchmark controls checked on the running server and its
 * files, inside the postgres container. The container runs FACTS_SCRIPT (as postgres, peer auth
 * on the Unix socket); parseFacts reads its output; evaluateControls judges every control, with
 * the stack's waivers. Everything here is pure.
 */

export interface FileFact {
  path: string;
  /** Octal mode, e.g. "700". */
  mode: string;
  owner: string;
  group: string;
}

export interface RoleFact {
  name: string;
  super: boolean;
  login: boolean;
  createrole: boolean;
  createdb: boolean;
  replication: boolean;
  bypassrls: boolean;
  connlimit: number;
}

export interface HbaFact {
  type: string;
  database: string[] | null;
  user: string[] | null;
  address: string | null;
  method: string;
  error: string | null;
}

export interface CisFacts {
  settings: Record<string, string>;
  hba: HbaFact[];
  roles: RoleFact[];
  /** Per database that accepts connections: PUBLIC may CREATE in / USE schema public; installed extensions. */
  databases: { name: string; publicCreate: boolean; publicUsage: boolean; extensions: string[] }[];
  /** By role in the check: data, hba, config, sslKey, sslCert, socketDir, socket. */
  files: Record<string, FileFact | null>;
  /** Entries under the data directory that the group or others may use. */
  looseFiles: string[];
  /** The postmaster's umask (/proc/<postmaster.pid>/status), e.g. "0077". */
  umask: string | null;
  /** The umask of a shell the postgres user gets in the container (`docker exec -u postgres ... sh`), as outside checkers read it. */
  shellUmask: string | null;
  /** The installed postgresql-17 package's version (dpkg), e.g. "17.7-3" (Debian) or "17.7-1.pgdg13+1" (PGDG). */
  serverPackage: string | null;
  /** Where pg_wal points when it is a symbolic link out of the data directory; null when it is a directory inside it. */
  walLink: string | null;
  /** Cryptographic extensions the server offers (pgcrypto, pgsodium), installed or not. */
  cryptoExtensions: string[];
  /** /proc/sys/crypto/fips_enabled: "1" when the kernel runs in FIPS mode. */
  fips: string | null;
  /** The first line of ssl_key_file (a PEM header, no key material), e.g. "-----BEGIN ENCRYPTED PRIVATE KEY-----". */
  sslKeyHeader: string | null;
  /** `pgbackrest info` for the stanza: status code (0 = ok) and message. */
  pgbackrest: { code: number; message: string };
}

/** Sections the script prints, each after a line `@@name`. Runs as postgres inside the container; $1 = the stanza. */
export const FACTS_SCRIPT = String.raw`
set -u
# First, before anything sets it: the umask a postgres shell gets here (BASH_ENV, the profiles).
sec() { printf '\n@@%s\n' "$1"; }
sec shellumask
sh -c umask
export PGDATABASE=postgres PGAPPNAME=kryonix-audit
q() { psql -X -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
sec settings
q postgres "SELECT json_object_agg(name, setting) FROM pg_settings"
sec hba
q postgres "SELECT coalesce(json_agg(json_build_object('type', type, 'database', database, 'user', user_name, 'address', address, 'method', auth_method, 'error', error) ORDER BY rule_number), '[]') FROM pg_hba_file_rules"
sec roles
q postgres "SELECT json_agg(json_build_object('name', rolname, 'super', rolsuper, 'login', rolcanlogin, 'createrole', rolcreaterole, 'createdb', rolcreatedb, 'replication', rolreplication, 'bypassrls', rolbypassrls, 'connlimit', rolconnlimit) ORDER BY rolname) FROM pg_roles WHERE rolname !~ '^pg_'"
sec databases
for db in $(q postgres "SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1"); do
  printf '%s|%s|%s|%s\n' "$db" "$(q "$db" "SELECT has_schema_privilege('public', 'public', 'CREATE')")" "$(q "$db" "SELECT coalesce(string_agg(extname, ',' ORDER BY extname), '') FROM pg_extension")" \
    "$(q "$db" "SELECT coalesce(bool_or(has_schema_privilege('public', 'public', 'USAGE')), false) FROM pg_namespace WHERE nspname = 'public'")"
done
sec package
dpkg-query -W -f '$''{Version}' postgresql-17 2>/dev/null
sec wallink
wal="$(q postgres 'SHOW data_directory')/pg_wal"
if [ -L "$wal" ]; then readlink -f "$wal"; fi
sec crypto
q postgres "SELECT coalesce(string_agg(name, ',' ORDER BY name), '') FROM pg_available_extensions WHERE name IN ('pgcrypto', 'pgsodium')"
sec fips
cat /proc/sys/crypto/fips_enabled 2>/dev/null
sec files
f() { printf '%s|' "$1"; stat -c '%n|%a|%U|%G' "$2" 2>/dev/null || printf '%s|missing||\n' "$2"; }
f data "$(q postgres 'SHOW data_directory')"
f hba "$(q postgres 'SHOW hba_file')"
f config "$(q postgres 'SHOW config_file')"
f sslKey "$(q postgres 'SHOW ssl_key_file')"
f sslCert "$(q postgres 'SHOW ssl_cert_file')"
sockdir=$(q postgres 'SHOW unix_socket_directories' | cut -d, -f1)
f socketDir "$sockdir"
f socket "$sockdir/.s.PGSQL.$(q postgres 'SHOW port')"
sec keyheader
head -n 1 "$(q postgres 'SHOW ssl_key_file')" 2>/dev/null | grep -e '^-----BEGIN [A-Z ]*-----$'
sec loose
find "$(q postgres 'SHOW data_directory')" -perm /077 2>/dev/null | head -n 20
sec umask
# The postmaster's (PID 1 may be an init such as tini): the first line of postmaster.pid.
awk '/^Umask:/ {print $2}' "/proc/$(head -n 1 "$(q postgres 'SHOW data_directory')/postmaster.pid")/status"
sec pgbackrest
pgbackrest --stanza="$1" --output=json info 2>&1 | tail -n 1
`;

/** Splits the script's output into its sections. Pure. */
export function parseFacts(stdout: string): CisFacts {
  const sections: Record<string, string> = {};
  for (const chunk of stdout.split("\n@@").slice(1)) {
    const nl = chunk.indexOf("\n");
    sections[chunk.slice(0, nl === -1 ? undefined : nl).trim()] = nl === -1 ? "" : chunk.slice(nl + 1).trim();
  }
  const need = (name: string) => {
    if (!(name in sections)) throw new Error(`audit: the container's report has no ${name} section`);
    return sections[name];
  };
  const json = <T>(name: string): T => {
    try {
      return JSON.parse(need(name)) as T;
    } catch (err) {
      throw new Error(`audit: the ${name} section is not JSON (${(err as Error).message})`);
    }
  };
  const files: Record<string, FileFact | null> = {};
  for (const line of need("files").split("\n").filter(Boolean)) {
    const [role, path, mode, owner, group] = line.split("|");
    files[role] = mode === "missing" ? null : { path, mode, owner, group };
  }
  let pgbackrest = { code: -1, message: need("pgbackrest") || "no output" };
  try {
    const info = JSON.parse(need("pgbackrest")) as { status?: { code: number; message: string } }[];
    if (info[0]?.status) pgbackrest = { code: info[0].status.code, message: info[0].status.message };
  } catch {
    // Not JSON: pgbackrest's error text is the message.
  }
  return {
    settings: json("settings"),
    hba: json("hba"),
    roles: json<RoleFact[] | null>("roles") ?? [],
    databases: need("databases")
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        const [name, create, exts, usage] = l.split("|");
        return { name, publicCreate: create === "t", publicUsage: usage === "t", extensions: exts ? exts.split(",") : [] };
      }),
    files,
    looseFiles: need("loose").split("\n").filter(Boolean),
    umask: need("umask") || null,
    shellUmask: need("shellumask") || null,
    serverPackage: need("package") || null,
    walLink: need("wallink") || null,
    cryptoExtensions: need("crypto").split(",").filter(Boolean),
    fips: need("fips") || null,
    sslKeyHeader: need("keyheader") || null,
    pgbackrest,
  };
}

export type Status = "PASS" | "FAIL" | "WAIVED";

export interface Control {
  id: string;
  title: string;
  check(f: CisFacts): { ok: boolean; detail: string };
}

export interface ControlResult {
  id: string;
  title: string;
  status: Status;
  detail: string;
  /** The waiver's reason, for WAIVED. */
  reason?: string;
}

/** An octal mode string ("0770", "770", "448" as pg_settings may print decimal) as a number. */
export function octal(mode: string | undefined): number {
  if (mode === undefined) return NaN;
  return mode.startsWith("0") || /^[0-7]{3}$/.test(mode) ? parseInt(mode, 8) : Number(mode);
}

const on = (f: CisFacts, name: string) => f.settings[name] === "on";
/** A setting of the logging collector's files: passes when the collector is off, as the outside checker judges it. */
const collector = (f: CisFacts, name: string, ok: (v: string) => boolean, want: string) =>
  on(f, "logging_collector") ? setting(f, name, ok, want) : { ok: true, detail: `logging_collector=off: no log files (${name}=${f.settings[name] ?? "(unset)"})` };
const preloaded = (f: CisFacts, lib: string) => (f.settings.shared_preload_libraries ?? "").split(",").map((s) => s.trim()).includes(lib);
const setting = (f: CisFacts, name: string, ok: (v: string) => boolean, want: string) => {
  const v = f.settings[name];
  return { ok: v !== undefined && ok(v), detail: `${name}=${v ?? "(unset)"}${ok(v ?? "") ? "" : `, want ${want}`}` };
};
const LEVELS = ["debug5", "debug4", "debug3", "debug2", "debug1", "info", "notice", "warning", "error", "log", "fatal", "panic"];
const atLeast = (level: string) => (v: string) => LEVELS.indexOf(v) >= LEVELS.indexOf(level);
const fileCheck = (f: CisFacts, key: string, maxMode: number, owners: string[]) => {
  const file = f.files[key];
  if (!file) return { ok: false, detail: `${key}: missing` };
  const mode = parseInt(file.mode, 8);
  const ok = (mode & ~maxMode) === 0 && owners.includes(file.owner);
  return { ok, detail: `${file.path} ${file.mode} ${file.owner}:${file.group}${ok ? "" : ` (want mode within ${maxMode.toString(8)}, owner ${owners.join(" or ")})`}` };
};
const TCP = (r: HbaFact) => r.type.startsWith("host");
const WEAK_CIPHER = /(^|:|!|\+|-)?(RC4|DES|3DES|MD5|NULL|EXPORT|EXP|aNULL|eNULL|ADH|AECDH|PSK|SRP|CAMELLIA|SEED|IDEA)\b/;
// PostgreSQL's own login roles are the superuser and the stack's; pg_* roles are built in.
const appRoles = (f: CisFacts) => f.roles.filter((r) => r.login && !r.super);

/**
 * The controls, numbered and titled as the CIS PostgreSQL 17 Benchmark's checker pgdsat numbers them,
 * so that its report and ours name the same control the same way; each judged as it judges it,
 * plus what the benchmark asks that it does not read (file owners, the TLS key's mode).
 */
const BY_ID: Record<CisControlId, Omit<Control, "id">> = {
  "1.1.1": {
    title: "Ensure packages are obtained from PGDG",
    check: (f) => ({ ok: /pgdg/i.test(f.serverPackage ?? ""), detail: `postgresql-17 ${f.serverPackage ?? "not installed by dpkg"}${/pgdg/i.test(f.serverPackage ?? "") ? "" : " (not a PGDG build)"}` }),
  },
  "1.4.3": { title: "Ensure data checksums are enabled", check: (f) => setting(f, "data_checksums", (v) => v === "on", "on") },
  "1.4.4": {
    title: "Ensure WALs and temporary files are not on the same partition as the PGDATA",
    check: (f) => {
      const data = f.files.data?.path ?? f.settings.data_directory ?? "";
      const walOut = !!f.walLink && !f.walLink.startsWith(`${data}/`);
      const temp = f.settings.temp_tablespaces ?? "";
      return { ok: walOut && temp !== "", detail: `pg_wal ${walOut ? `on ${f.walLink}` : "inside the data directory"}; temp_tablespaces=${temp || "(none)"}` };
    },
  },
  "1.5": {
    title: "Ensure PostgreSQL versions are up-to-date",
    // Needs the project's web site; the container reaches only the stack's own network.
    check: (f) => ({ ok: false, detail: `server ${f.settings.server_version ?? "?"}: not compared with postgresql.org (no web access from here)` }),
  },
  "2.1": {
    title: "Ensure the file permissions mask is correct",
    check: (f) => {
      const ok = f.umask === "0077" && f.shellUmask === "0077" && f.looseFiles.length === 0;
      return {
        ok,
        detail: `postmaster umask ${f.umask ?? "unknown"}, postgres shell umask ${f.shellUmask ?? "unknown"}; ${f.looseFiles.length} data-directory entries open to group/others${f.looseFiles.length ? `: ${f.looseFiles.slice(0, 3).join(", ")}` : ""}`,
      };
    },
  },
  "2.5": {
    title: "Check permissions of pg_hba.conf (0640 or stricter) and postgresql.conf (not writable by others)",
    check: (f) => {
      const hba = fileCheck(f, "hba", 0o640, ["root", "postgres"]);
      const conf = fileCheck(f, "config", 0o644, ["root", "postgres"]);
      return { ok: hba.ok && conf.ok, detail: `${hba.detail}; ${conf.detail}` };
    },
  },
  "2.6": {
    title: "Check permissions on Unix Socket",
    check: (f) => {
      const mode = octal(f.settings.unix_socket_permissions);
      const sock = fileCheck(f, "socket", 0o770, ["postgres"]);
      const ok = (mode & 0o007) === 0 && sock.ok;
      return { ok, detail: `unix_socket_permissions=${f.settings.unix_socket_permissions}; ${sock.detail}` };
    },
  },
  "2.7": {
    title: "Check permissions of PGDATA",
    check: (f) => {
      const r = fileCheck(f, "data", 0o700, ["postgres"]);
      const mode = octal(f.settings.data_directory_mode);
      return { ok: r.ok && mode === 0o700, detail: `${r.detail}; data_directory_mode=${f.settings.data_directory_mode}` };
    },
  },
  "3.1.2": {
    title: "Ensure the log destinations are set correctly",
    check: (f) => setting(f, "log_destination", (v) => v.split(",").includes("stderr"), "stderr (collected from the container)"),
  },
  "3.1.3": { title: "Ensure the logging collector is enabled", check: (f) => setting(f, "logging_collector", (v) => v === "on", "on") },
  // 3.1.4 to 3.1.9 and 3.1.27 judge the collector's files; with the collector off there are none.
  "3.1.4": { title: "Ensure the log file destination directory is set correctly", check: (f) => collector(f, "log_directory", (v) => v !== "", "a directory") },
  "3.1.5": { title: "Ensure the filename pattern for log files is set correctly", check: (f) => collector(f, "log_filename", (v) => v !== "", "a file name pattern") },
  "3.1.6": { title: "Ensure the log file permissions are set correctly", check: (f) => collector(f, "log_file_mode", (v) => octal(v) === 0o600, "0600") },
  "3.1.7": { title: "Ensure 'log_truncate_on_rotation' is enabled", check: (f) => collector(f, "log_truncate_on_rotation", (v) => v === "on", "on") },
  "3.1.8": { title: "Ensure the maximum log file lifetime is set correctly", check: (f) => collector(f, "log_rotation_age", (v) => Number(v) > 0, "a rotation age") },
  "3.1.9": { title: "Ensure the maximum log file size is set correctly", check: (f) => collector(f, "log_rotation_size", (v) => Number(v) > 0, "a rotation size") },
  "3.1.14": { title: "Ensure the correct messages are written to the server log", check: (f) => setting(f, "log_min_messages", (v) => v === "warning", "warning") },
  "3.1.15": {
    title: "Ensure the correct SQL statements generating errors are recorded",
    check: (f) => setting(f, "log_min_error_statement", (v) => v === "error", "error"),
  },
  "3.1.16": { title: "Ensure 'debug_print_parse' is disabled", check: (f) => setting(f, "debug_print_parse", (v) => v === "off", "off") },
  "3.1.17": { title: "Ensure 'debug_print_rewritten' is disabled", check: (f) => setting(f, "debug_print_rewritten", (v) => v === "off", "off") },
  "3.1.18": { title: "Ensure 'debug_print_plan' is disabled", check: (f) => setting(f, "debug_print_plan", (v) => v === "off", "off") },
  "3.1.19": { title: "Ensure 'debug_pretty_print' is enabled", check: (f) => setting(f, "debug_pretty_print", (v) => v === "on", "on") },
  "3.1.20": { title: "Ensure 'log_connections' is enabled", check: (f) => setting(f, "log_connections", (v) => v === "on", "on") },
  "3.1.21": { title: "Ensure 'log_disconnections' is enabled", check: (f) => setting(f, "log_disconnections", (v) => v === "on", "on") },
  "3.1.22": { title: "Ensure 'log_error_verbosity' is set correctly", check: (f) => setting(f, "log_error_verbosity", (v) => v === "verbose", "verbose") },
  "3.1.23": { title: "Ensure 'log_hostname' is set correctly", check: (f) => setting(f, "log_hostname", (v) => v === "off", "off") },
  "3.1.24": {
    title: "Ensure 'log_line_prefix' is set correctly",
    check: (f) => setting(f, "log_line_prefix", (v) => /%[tmn]/.test(v) && /%[pc]/.test(v) && ["%u", "%d", "%a", "%h"].every((e) => v.includes(e)), "%t, %m or %n, %p or %c, %u, %d, %a and %h"),
  },
  "3.1.25": { title: "Ensure 'log_statement' is set correctly", check: (f) => setting(f, "log_statement", (v) => v !== "none", "ddl, mod or all") },
  "3.1.26": { title: "Ensure 'log_timezone' is set correctly", check: (f) => setting(f, "log_timezone", (v) => ["UTC", "GMT"].includes(v.toUpperCase()), "UTC or GMT") },
  "3.1.27": {
    title: "Ensure that log_directory is outside the PGDATA",
    check: (f) => {
      const data = f.files.data?.path ?? f.settings.data_directory ?? "";
      return collector(f, "log_directory", (v) => v.startsWith("/") && !v.startsWith(`${data}/`), `an absolute path outside ${data}`);
    },
  },
  "3.2": {
    title: "Ensure the PostgreSQL Audit Extension (pgAudit) is enabled",
    check: (f) => {
      const preload = (f.settings.shared_preload_libraries ?? "").split(",").map((s) => s.trim());
      const classes = (f.settings["pgaudit.log"] ?? "").split(",").map((s) => s.trim().toLowerCase());
      const installed = f.databases.filter((d) => d.extensions.includes("pgaudit")).map((d) => d.name);
      const ok = preload.includes("pgaudit") && ["ddl", "role", "write"].every((c) => classes.includes(c) || classes.includes("all")) && installed.length > 0;
      return { ok, detail: `preloaded=${preload.includes("pgaudit")}, pgaudit.log=${f.settings["pgaudit.log"] ?? "(unset)"}, installed in ${installed.join(", ") || "no database"}` };
    },
  },
  "4.3": {
    title: "Ensure excessive administrative privileges are revoked",
    check: (f) => {
      const supers = f.roles.filter((r) => r.super).map((r) => r.name);
      // A `ha` cluster's streaming replication role needs REPLICATION, and only that.
      const needed = (role: string, attribute: string) => role === CLUSTER_ROLES.replication && attribute === "replication";
      const bad = appRoles(f).flatMap((r) =>
        (["createrole", "createdb", "replication", "bypassrls"] as const).filter((a) => r[a] && !needed(r.name, a)).map((a) => `${r.name} ${a.toUpperCase()}`),
      );
      const ok = supers.length === 1 && supers[0] === "postgres" && bad.length === 0;
      return { ok, detail: `superusers: ${supers.join(", ") || "none"}; ${bad.length ? bad.join(", ") : `${appRoles(f).length} login roles: no CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS`}` };
    },
  },
  "4.8": {
    title: "Ensure the set_user extension is installed",
    check: (f) => ({ ok: preloaded(f, "set_user"), detail: `shared_preload_libraries=${f.settings.shared_preload_libraries ?? ""}` }),
  },
  "4.10": {
    title: "Ensure the public schema is protected",
    check: (f) => {
      const open = f.databases.filter((d) => d.publicCreate || d.publicUsage).map((d) => `${d.name} (${[d.publicUsage && "USAGE", d.publicCreate && "CREATE"].filter(Boolean).join(", ")})`);
      return { ok: open.length === 0, detail: open.length ? `PUBLIC may use schema public of ${open.join(", ")}` : `${f.databases.length} databases: PUBLIC has no privilege on schema public` };
    },
  },
  "5.2": {
    title: "Ensure PostgreSQL is Bound to an IP Address",
    check: (f) => setting(f, "listen_addresses", (v) => v !== "" && !v.split(",").some((a) => ["*", "0.0.0.0", "::"].includes(a.trim())), "named addresses, not * or 0.0.0.0"),
  },
  "5.3": {
    title: "Ensure login via \"local\" UNIX Domain Socket is configured correctly",
    check: (f) => {
      const local = f.hba.filter((r) => r.type === "local");
      const bad = local.filter((r) => !["peer", "scram-sha-256"].includes(r.method));
      return { ok: bad.length === 0, detail: local.map((r) => `local ${r.user?.join(",")} ${r.method}`).join("; ") || "no local rule" };
    },
  },
  "5.4": {
    title: "Ensure login via \"host\" TCP/IP Socket is configured correctly",
    check: (f) => {
      const bad = f.hba.filter((r) => TCP(r) && !["scram-sha-256", "reject"].includes(r.method));
      return { ok: bad.length === 0 && f.hba.every((r) => r.error === null), detail: bad.length ? bad.map((r) => `${r.type} ${r.address} ${r.method}`).join("; ") : "every TCP rule: scram-sha-256" };
    },
  },
  "5.5": {
    title: "Ensure per-account connection limits are used",
    // Every role but the built-in pg_* ones: the superuser and NOLOGIN roles too.
    check: (f) => {
      const unlimited = f.roles.filter((r) => r.connlimit < 0).map((r) => r.name);
      return { ok: unlimited.length === 0 && f.roles.length > 0, detail: unlimited.length ? `no limit: ${unlimited.join(", ")}` : f.roles.map((r) => `${r.name}=${r.connlimit}`).join(", ") };
    },
  },
  "5.6": {
    title: "Ensure Password Complexity is configured",
    check: (f) => ({ ok: preloaded(f, "credcheck") || preloaded(f, "passwordcheck"), detail: `shared_preload_libraries=${f.settings.shared_preload_libraries ?? ""}: no credcheck or passwordcheck` }),
  },
  "5.7": {
    title: "Ensure authentication timeout and delay are well configured",
    check: (f) => {
      const timeout = Number(f.settings.authentication_timeout);
      const delay = Number(f.settings["auth_delay.milliseconds"]);
      const ok = timeout > 0 && timeout <= 60 && preloaded(f, "auth_delay") && delay > 0;
      return { ok, detail: `authentication_timeout=${f.settings.authentication_timeout}s, auth_delay ${preloaded(f, "auth_delay") ? `${delay} ms` : "not loaded"}` };
    },
  },
  "5.8": {
    title: "Ensure SSL is used for client connection",
    check: (f) => {
      const plain = f.hba.filter((r) => (r.type === "host" || r.type === "hostnossl") && r.method !== "reject");
      return { ok: plain.length === 0 && on(f, "ssl"), detail: plain.length ? `non-TLS rules: ${plain.map((r) => `${r.type} ${r.address}`).join("; ")}` : `ssl=${f.settings.ssl}, TCP rules: ${f.hba.filter(TCP).map((r) => r.type).join(", ")}` };
    },
  },
  "5.9": {
    title: "Ensure authorized Ip addresses ranges are not too large",
    check: (f) => {
      const wide = f.hba.filter((r) => TCP(r) && r.method !== "reject" && (r.address === null || ["all", "0.0.0.0", "::", "0.0.0.0/0", "::/0"].includes(r.address)));
      return { ok: wide.length === 0, detail: wide.length ? `wide: ${wide.map((r) => `${r.type} ${r.address ?? "all"}`).join("; ")}` : `addresses: ${f.hba.filter(TCP).map((r) => r.address).join(", ")}` };
    },
  },
  "5.12": { title: "Ensure that 'password_encryption' is correctly set", check: (f) => setting(f, "password_encryption", (v) => v === "scram-sha-256", "scram-sha-256") },
  "6.7": {
    title: "Ensure FIPS 140-2 OpenSSL cryptography is used",
    check: (f) => ({ ok: f.fips === "1", detail: `kernel FIPS mode ${f.fips === "1" ? "on" : "off"} (/proc/sys/crypto/fips_enabled=${f.fips ?? "missing"})` }),
  },
  "6.8": {
    title: "Ensure TLS is enabled and configured correctly",
    check: (f) => {
      const key = fileCheck(f, "sslKey", 0o600, ["postgres"]);
      const v13 = f.settings.ssl_min_protocol_version === "TLSv1.3";
      const passphrase = !!f.settings.ssl_passphrase_command;
      // The checker asks for the command; a key that is not encrypted makes it decoration.
      const encrypted = f.sslKeyHeader === "-----BEGIN ENCRYPTED PRIVATE KEY-----";
      const ok = on(f, "ssl") && !!f.settings.ssl_cert_file && !!f.files.sslCert && key.ok && v13 && passphrase && encrypted;
      return {
        ok,
        detail: `ssl=${f.settings.ssl}, ssl_min_protocol_version=${f.settings.ssl_min_protocol_version}${v13 ? "" : " (want TLSv1.3)"}, key ${key.detail}, ${encrypted ? "encrypted" : `not encrypted (${f.sslKeyHeader ?? "no PEM header"})`}, ssl_passphrase_command ${passphrase ? "set" : "unset"}`,
      };
    },
  },
  "6.9": {
    title: "Ensure a cryptographic extension is installed",
    check: (f) => ({ ok: f.cryptoExtensions.length > 0, detail: f.cryptoExtensions.length ? `available: ${f.cryptoExtensions.join(", ")}` : "neither pgcrypto nor pgsodium is available" }),
  },
  "6.10": {
    title: "Ensure Weak SSL/TLS Ciphers Are Disabled",
    check: (f) => {
      const v = f.settings.ssl_ciphers ?? "";
      const suites = v.split(":").filter((s) => !s.startsWith("!") && !s.startsWith("-"));
      const weak = suites.filter((s) => WEAK_CIPHER.test(s) || /^(ALL|DEFAULT|LOW|MEDIUM|EXPORT)$/.test(s) || (!s.includes("GCM") && !s.includes("CHACHA20")));
      return { ok: v !== "" && weak.length === 0, detail: `ssl_ciphers=${v}${weak.length ? `; not AEAD/forward-secret: ${weak.join(", ")}` : ""}` };
    },
  },
  "6.11": {
    title: "Ensure a data anonymization extension is installed",
    check: (f) => {
      const libs = (f.settings.session_preload_libraries ?? "").split(",").map((s) => s.trim());
      const ok = libs.includes("anon") || libs.includes("pg_anonymize");
      return { ok, detail: `session_preload_libraries=${f.settings.session_preload_libraries || "(empty)"}` };
    },
  },
  "7.1": {
    title: "Ensure a replication-only user is created and used for streaming replication",
    check: (f) => {
      const replicators = f.roles.filter((r) => r.replication && !r.super).map((r) => r.name);
      return { ok: replicators.length > 0, detail: replicators.length ? `replication roles: ${replicators.join(", ")}` : "no replication-only role (no standby)" };
    },
  },
  "7.2": { title: "Ensure logging of replication commands is configured", check: (f) => setting(f, "log_replication_commands", (v) => v === "on", "on") },
  "7.4": {
    title: "Ensure WAL archiving is configured and functional",
    check: (f) => {
      const ok = ["on", "always"].includes(f.settings.archive_mode) && !!f.settings.archive_command && f.settings.archive_command !== "(disabled)";
      return { ok, detail: `archive_mode=${f.settings.archive_mode}, archive_command=${f.settings.archive_command || "(empty)"}` };
    },
  },
  "7.5": {
    title: "Ensure streaming replication parameters are configured correctly",
    check: (f) => setting(f, "primary_conninfo", (v) => /sslmode=(require|verify-ca|verify-full)/.test(v), "a primary_conninfo with sslmode=require or stricter (a standby's)"),
  },
  "8.2": {
    title: "Ensure the backup and restore tool, 'pgBackRest', is installed and configured",
    // pgBackRest's status 2 is "no valid backups": the stanza exists and WAL is archived, no backup was taken yet.
    check: (f) => ({
      ok: f.pgbackrest.code === 0 || f.pgbackrest.code === 2,
      detail: `pgbackrest info: ${f.pgbackrest.code === -1 ? f.pgbackrest.message.slice(0, 200) : `status ${f.pgbackrest.code} (${f.pgbackrest.message})`}`,
    }),
  },
};

/** Each control with its title and judgment, in CIS_CONTROL_IDS' order (model/cis.ts). */
export const CONTROLS: readonly Control[] = CIS_CONTROL_IDS.map((id) => ({ id, ...BY_ID[id] }));

/** Every control's status: FAIL unless it passes or has a waiver. Pure. */
export function evaluateControls(facts: CisFacts, waivers: Readonly<Record<string, string>>, controls: readonly Control[] = CONTROLS): ControlResult[] {
  return controls.map((c) => {
    let r: { ok: boolean; detail: string };
    try {
      r = c.check(facts);
    } catch (err) {
      r = { ok: false, detail: `check failed: ${(err as Error).message}` };
    }
    const reason = waivers[c.id];
    const status: Status = r.ok ? "PASS" : reason ? "WAIVED" : "FAIL";
    return { id: c.id, title: c.title, status, detail: r.detail, ...(status === "WAIVED" ? { reason } : {}) };
  });
}

/** The audit table and a summary line. Pure. */
export function renderAudit(results: readonly ControlResult[]): string {
  const rows = results.map((r) => [r.status, r.id, r.title, r.status === "WAIVED" ? `waived: ${r.reason}` : r.detail]);
  const widths = [6, Math.max(...rows.map((r) => r[1].length)), Math.max(...rows.map((r) => r[2].length))];
  const lines = rows.map((r) => `${r[0].padEnd(widths[0])} ${r[1].padEnd(widths[1])}  ${r[2].padEnd(widths[2])}  ${r[3]}`);
  const count = (s: Status) => results.filter((r) => r.status === s).length;
  return `${lines.join("\n")}\n\n${results.length} controls: ${count("PASS")} PASS, ${count("FAIL")} FAIL, ${count("WAIVED")} WAIVED\n`;
}

