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
  /** Per database that accepts connections: PUBLIC may CREATE in schema public; installed extensions. */
  databases: { name: string; publicCreate: boolean; extensions: string[] }[];
  /** By role in the check: data, hba, config, sslKey, sslCert, socketDir, socket. */
  files: Record<string, FileFact | null>;
  /** Entries under the data directory that the group or others may use. */
  looseFiles: string[];
  /** The postmaster's umask (/proc/<postmaster.pid>/status), e.g. "0077". */
  umask: string | null;
  /** `pgbackrest info` for the stanza: status code (0 = ok) and message. */
  pgbackrest: { code: number; message: string };
}

/** Sections the script prints, each after a line `@@name`. Runs as postgres inside the container; $1 = the stanza. */
export const FACTS_SCRIPT = String.raw`
set -u
export PGDATABASE=postgres PGAPPNAME=kryonix-audit
q() { psql -X -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
sec() { printf '\n@@%s\n' "$1"; }
sec settings
q postgres "SELECT json_object_agg(name, setting) FROM pg_settings"
sec hba
q postgres "SELECT coalesce(json_agg(json_build_object('type', type, 'database', database, 'user', user_name, 'address', address, 'method', auth_method, 'error', error) ORDER BY rule_number), '[]') FROM pg_hba_file_rules"
sec roles
q postgres "SELECT json_agg(json_build_object('name', rolname, 'super', rolsuper, 'login', rolcanlogin, 'createrole', rolcreaterole, 'createdb', rolcreatedb, 'replication', rolreplication, 'bypassrls', rolbypassrls, 'connlimit', rolconnlimit) ORDER BY rolname) FROM pg_roles WHERE rolname !~ '^pg_'"
sec databases
for db in $(q postgres "SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1"); do
  printf '%s|%s|%s\n' "$db" "$(q "$db" "SELECT has_schema_privilege('public', 'public', 'CREATE')")" "$(q "$db" "SELECT coalesce(string_agg(extname, ',' ORDER BY extname), '') FROM pg_extension")"
done
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
        const [name, create, exts] = l.split("|");
        return { name, publicCreate: create === "t", extensions: exts ? exts.split(",") : [] };
      }),
    files,
    looseFiles: need("loose").split("\n").filter(Boolean),
    umask: need("umask") || null,
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

export const CONTROLS: readonly Control[] = [
  {
    id: "2.1",
    title: "Ensure the file permissions mask is correct",
    check: (f) => {
      const ok = f.umask === "0077" && f.looseFiles.length === 0;
      return { ok, detail: `postmaster umask ${f.umask ?? "unknown"}; ${f.looseFiles.length} data-directory entries open to group/others${f.looseFiles.length ? `: ${f.looseFiles.slice(0, 3).join(", ")}` : ""}` };
    },
  },
  {
    id: "2.2",
    title: "Ensure the data directory has appropriate ownership and permissions",
    check: (f) => {
      const r = fileCheck(f, "data", 0o700, ["postgres"]);
      const mode = octal(f.settings.data_directory_mode);
      return { ok: r.ok && mode === 0o700, detail: `${r.detail}; data_directory_mode=${f.settings.data_directory_mode}` };
    },
  },
  { id: "2.4", title: "Ensure postgresql.conf is owned by root or postgres and not writable by others", check: (f) => fileCheck(f, "config", 0o644, ["root", "postgres"]) },
  { id: "2.5", title: "Ensure pg_hba.conf has appropriate permissions (0640 or stricter)", check: (f) => fileCheck(f, "hba", 0o640, ["root", "postgres"]) },
  {
    id: "2.6",
    title: "Ensure the Unix socket has appropriate permissions",
    check: (f) => {
      const mode = octal(f.settings.unix_socket_permissions);
      const sock = fileCheck(f, "socket", 0o770, ["postgres"]);
      const ok = (mode & 0o007) === 0 && sock.ok;
      return { ok, detail: `unix_socket_permissions=${f.settings.unix_socket_permissions}; ${sock.detail}` };
    },
  },
  { id: "2.8", title: "Ensure the TLS private key is readable by postgres only", check: (f) => fileCheck(f, "sslKey", 0o600, ["postgres"]) },
  {
    id: "3.1.2",
    title: "Ensure the log destinations are set correctly",
    check: (f) => setting(f, "log_destination", (v) => v.split(",").includes("stderr"), "stderr (collected from the container)"),
  },
  { id: "3.1.3", title: "Ensure the logging collector is enabled", check: (f) => setting(f, "logging_collector", (v) => v === "on", "on") },
  { id: "3.1.13", title: "Ensure log_min_messages is set to warning or stricter", check: (f) => setting(f, "log_min_messages", atLeast("warning"), "warning or stricter") },
  { id: "3.1.14", title: "Ensure log_min_error_statement is set to error or stricter", check: (f) => setting(f, "log_min_error_statement", atLeast("error"), "error or stricter") },
  { id: "3.1.15", title: "Ensure debug_print_parse is disabled", check: (f) => setting(f, "debug_print_parse", (v) => v === "off", "off") },
  { id: "3.1.16", title: "Ensure debug_print_rewritten is disabled", check: (f) => setting(f, "debug_print_rewritten", (v) => v === "off", "off") },
  { id: "3.1.17", title: "Ensure debug_print_plan is disabled", check: (f) => setting(f, "debug_print_plan", (v) => v === "off", "off") },
  { id: "3.1.18", title: "Ensure debug_pretty_print is enabled", check: (f) => setting(f, "debug_pretty_print", (v) => v === "on", "on") },
  { id: "3.1.19", title: "Ensure log_connections is enabled", check: (f) => setting(f, "log_connections", (v) => v === "on", "on") },
  { id: "3.1.20", title: "Ensure log_disconnections is enabled", check: (f) => setting(f, "log_disconnections", (v) => v === "on", "on") },
  { id: "3.1.22", title: "Ensure log_error_verbosity is set to verbose", check: (f) => setting(f, "log_error_verbosity", (v) => v === "verbose", "verbose") },
  { id: "3.1.23", title: "Ensure log_hostname is disabled", check: (f) => setting(f, "log_hostname", (v) => v === "off", "off") },
  {
    id: "3.1.24",
    title: "Ensure log_line_prefix identifies time, process, user, database, application and client",
    check: (f) => setting(f, "log_line_prefix", (v) => /%[tm]/.test(v) && ["%p", "%u", "%d", "%a"].every((e) => v.includes(e)) && /%[hr]/.test(v), "%t or %m, %p, %u, %d, %a and %h or %r"),
  },
  { id: "3.1.25", title: "Ensure log_statement is set to ddl or more", check: (f) => setting(f, "log_statement", (v) => ["ddl", "mod", "all"].includes(v), "ddl, mod or all") },
  { id: "3.1.26", title: "Ensure log_timezone is UTC", check: (f) => setting(f, "log_timezone", (v) => ["UTC", "GMT", "Etc/UTC", "Etc/GMT"].includes(v), "UTC or GMT") },
  {
    id: "3.2",
    title: "Ensure the pgAudit extension is enabled",
    check: (f) => {
      const preload = (f.settings.shared_preload_libraries ?? "").split(",").map((s) => s.trim());
      const classes = (f.settings["pgaudit.log"] ?? "").split(",").map((s) => s.trim().toLowerCase());
      const installed = f.databases.filter((d) => d.extensions.includes("pgaudit")).map((d) => d.name);
      const ok = preload.includes("pgaudit") && ["ddl", "role", "write"].every((c) => classes.includes(c) || classes.includes("all")) && installed.length > 0;
      return { ok, detail: `preloaded=${preload.includes("pgaudit")}, pgaudit.log=${f.settings["pgaudit.log"] ?? "(unset)"}, installed in ${installed.join(", ") || "no database"}` };
    },
  },
  {
    id: "4.2",
    title: "Ensure excessive administrative privileges are revoked (one superuser)",
    check: (f) => {
      const supers = f.roles.filter((r) => r.super).map((r) => r.name);
      return { ok: supers.length === 1 && supers[0] === "postgres", detail: `superusers: ${supers.join(", ") || "none"}` };
    },
  },
  {
    id: "4.4",
    title: "Ensure application roles have no administrative attributes",
    check: (f) => {
      const bad = appRoles(f).flatMap((r) => (["createrole", "createdb", "replication", "bypassrls"] as const).filter((a) => r[a]).map((a) => `${r.name} ${a.toUpperCase()}`));
      return { ok: bad.length === 0, detail: bad.length ? bad.join(", ") : `${appRoles(f).length} login roles: no CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS` };
    },
  },
  {
    id: "4.10",
    title: "Ensure the public schema is protected (no CREATE for PUBLIC)",
    check: (f) => {
      const open = f.databases.filter((d) => d.publicCreate).map((d) => d.name);
      return { ok: open.length === 0, detail: open.length ? `PUBLIC may CREATE in public of ${open.join(", ")}` : `${f.databases.length} databases: PUBLIC may not CREATE in public` };
    },
  },
  { id: "5.1", title: "Ensure passwords are stored as SCRAM-SHA-256", check: (f) => setting(f, "password_encryption", (v) => v === "scram-sha-256", "scram-sha-256") },
  {
    id: "5.2",
    title: "Ensure PostgreSQL listens only on the addresses it must",
    check: (f) => setting(f, "listen_addresses", (v) => v !== "" && !v.split(",").some((a) => ["*", "0.0.0.0", "::"].includes(a.trim())), "named addresses, not * or 0.0.0.0"),
  },
  {
    id: "5.3",
    title: "Ensure login via local Unix domain socket is configured correctly",
    check: (f) => {
      const local = f.hba.filter((r) => r.type === "local");
      const bad = local.filter((r) => !["peer", "scram-sha-256"].includes(r.method));
      return { ok: bad.length === 0, detail: local.map((r) => `local ${r.user?.join(",")} ${r.method}`).join("; ") || "no local rule" };
    },
  },
  {
    id: "5.4",
    title: "Ensure login via host TCP/IP is configured correctly (scram-sha-256 only)",
    check: (f) => {
      const bad = f.hba.filter((r) => TCP(r) && !["scram-sha-256", "reject"].includes(r.method));
      return { ok: bad.length === 0 && f.hba.every((r) => r.error === null), detail: bad.length ? bad.map((r) => `${r.type} ${r.address} ${r.method}`).join("; ") : "every TCP rule: scram-sha-256" };
    },
  },
  {
    id: "5.5",
    title: "Ensure per-account connection limits are used",
    check: (f) => {
      const unlimited = appRoles(f).filter((r) => r.connlimit < 0).map((r) => r.name);
      return { ok: unlimited.length === 0 && appRoles(f).length > 0, detail: unlimited.length ? `no limit: ${unlimited.join(", ")}` : appRoles(f).map((r) => `${r.name}=${r.connlimit}`).join(", ") };
    },
  },
  {
    id: "5.7",
    title: "Ensure authentication timeout and delay are set",
    check: (f) => {
      const timeout = Number(f.settings.authentication_timeout);
      const preload = (f.settings.shared_preload_libraries ?? "").split(",").map((s) => s.trim());
      const delay = Number(f.settings["auth_delay.milliseconds"]);
      const ok = timeout > 0 && timeout <= 60 && preload.includes("auth_delay") && delay > 0;
      return { ok, detail: `authentication_timeout=${f.settings.authentication_timeout}s, auth_delay ${preload.includes("auth_delay") ? `${delay} ms` : "not loaded"}` };
    },
  },
  {
    id: "5.8",
    title: "Ensure TLS is required for client connections (hostssl only)",
    check: (f) => {
      const plain = f.hba.filter((r) => (r.type === "host" || r.type === "hostnossl") && r.method !== "reject");
      return { ok: plain.length === 0 && on(f, "ssl"), detail: plain.length ? `non-TLS rules: ${plain.map((r) => `${r.type} ${r.address}`).join("; ")}` : `ssl=${f.settings.ssl}, TCP rules: ${f.hba.filter(TCP).map((r) => r.type).join(", ")}` };
    },
  },
  {
    id: "5.9",
    title: "Ensure pg_hba.conf address ranges are no wider than needed",
    check: (f) => {
      const wide = f.hba.filter((r) => TCP(r) && r.method !== "reject" && (r.address === null || ["all", "0.0.0.0", "::", "0.0.0.0/0", "::/0"].includes(r.address)));
      return { ok: wide.length === 0, detail: wide.length ? `wide: ${wide.map((r) => `${r.type} ${r.address ?? "all"}`).join("; ")}` : `addresses: ${f.hba.filter(TCP).map((r) => r.address).join(", ")}` };
    },
  },
  {
    id: "6.8",
    title: "Ensure TLS is enabled and configured correctly",
    check: (f) => {
      const ok = on(f, "ssl") && !!f.settings.ssl_cert_file && !!f.settings.ssl_key_file && !!f.files.sslCert;
      return { ok, detail: `ssl=${f.settings.ssl}, cert ${f.settings.ssl_cert_file}, key ${f.settings.ssl_key_file}` };
    },
  },
  {
    id: "6.9",
    title: "Ensure the TLSv1.0 and TLSv1.1 protocols are disabled",
    check: (f) => setting(f, "ssl_min_protocol_version", (v) => ["TLSv1.2", "TLSv1.3"].includes(v), "TLSv1.2 or TLSv1.3"),
  },
  {
    id: "6.10",
    title: "Ensure weak TLS ciphers are disabled",
    check: (f) => {
      const v = f.settings.ssl_ciphers ?? "";
      const suites = v.split(":").filter((s) => !s.startsWith("!") && !s.startsWith("-"));
      const weak = suites.filter((s) => WEAK_CIPHER.test(s) || /^(ALL|DEFAULT|LOW|MEDIUM|EXPORT)$/.test(s) || (!s.includes("GCM") && !s.includes("CHACHA20")));
      return { ok: v !== "" && weak.length === 0, detail: `ssl_ciphers=${v}${weak.length ? `; not AEAD/forward-secret: ${weak.join(", ")}` : ""}` };
    },
  },
  { id: "6.11", title: "Ensure data checksums are enabled", check: (f) => setting(f, "data_checksums", (v) => v === "on", "on") },
  { id: "7.2", title: "Ensure logging of replication commands is configured", check: (f) => setting(f, "log_replication_commands", (v) => v === "on", "on") },
  {
    id: "7.4",
    title: "Ensure WAL archiving is configured and functional",
    check: (f) => {
      const ok = ["on", "always"].includes(f.settings.archive_mode) && !!f.settings.archive_command && f.settings.archive_command !== "(disabled)";
      return { ok, detail: `archive_mode=${f.settings.archive_mode}, archive_command=${f.settings.archive_command || "(empty)"}` };
    },
  },
  {
    id: "8.2",
    title: "Ensure a backup and restore tool (pgBackRest) is configured",
    // pgBackRest's status 2 is "no valid backups": the stanza exists and WAL is archived, no backup was taken yet.
    check: (f) => ({
      ok: f.pgbackrest.code === 0 || f.pgbackrest.code === 2,
      detail: `pgbackrest info: ${f.pgbackrest.code === -1 ? f.pgbackrest.message.slice(0, 200) : `status ${f.pgbackrest.code} (${f.pgbackrest.message})`}`,
    }),
  },
];

export const CONTROL_IDS: readonly string[] = CONTROLS.map((c) => c.id);

/** The least a waiver's reason must say. */
export const MIN_REASON_LENGTH = 20;

/**
 * What the stack waives when kryonix:cisWaivers is not set (a stack that sets it lists its own).
 * Both are consequences of running in containers with pgaudit, not omissions.
 */
export const DEFAULT_WAIVERS: Readonly<Record<string, string>> = {
  "3.1.3": "logging_collector is off: the server logs to stderr, which Docker collects and rotates (json-file, 5 x 10 MiB)",
  "3.1.25": "log_statement is none: pgaudit logs ddl, role and write statements with passwords redacted, where log_statement would write them in clear",
};

/** Problems with a kryonix:cisWaivers value: an object of control id -> written reason. Pure. */
export function waiverProblems(raw: unknown, setting = "kryonix:cisWaivers"): string[] {
  if (raw === undefined || raw === null) return [];
  if (typeof raw !== "object" || Array.isArray(raw)) {
    return [invalid(setting, raw, `an object mapping a control number to the written reason it is waived, e.g. {"3.1.3": "the container's log is collected by Docker"}`)];
  }
  const problems: string[] = [];
  for (const [id, reason] of Object.entries(raw)) {
    if (!CONTROL_IDS.includes(id)) {
      problems.push(invalid(`${setting}.${id}`, id, `a control npm run audit checks: ${CONTROL_IDS.join(", ")}`));
    } else if (typeof reason !== "string" || reason.trim().length < MIN_REASON_LENGTH) {
      problems.push(invalid(`${setting}.${id}`, reason ?? null, `a written reason of at least ${MIN_REASON_LENGTH} characters saying why control ${id} is waived`));
    }
  }
  return problems;
}

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

export interface AuditOptions {
  stack: string;
  json: boolean;
}

/** `npm run audit [-- --stack NAME] [--json]`. Pure. */
export function parseAuditArgs(argv: readonly string[]): AuditOptions {
  const options: AuditOptions = { stack: "dev", json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") options.json = true;
    else if (a === "--stack" || a === "-s") options.stack = argv[++i] ?? "";
    else if (a.startsWith("--stack=")) options.stack = a.slice("--stack=".length);
    else throw new Error(invalid("audit argument", a, "--stack NAME or --json"));
  }
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(options.stack)) throw new Error(invalid("audit --stack", options.stack, "a stack name"));
  return options;
}
