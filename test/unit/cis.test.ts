import { describe, expect, it } from "vitest";
import { CONTROLS, type CisFacts, evaluateControls, octal, parseFacts, renderAudit } from "../../checks/cis";
import { defaultWaivers, CIS_CONTROL_IDS, DEFAULT_WAIVERS, waiverProblems } from "../../model/cis";
import { postgresTlsParameters } from "../../model/tls";
import { tunePostgres } from "../../model/tuning";
import { serverLogParameters } from "../../model/server-log";

/** What the running stack reports (the settings the stack renders, plus PostgreSQL's defaults the controls read). */
function goodFacts(): CisFacts {
  return {
    settings: {
      ...tunePostgres({ memoryBytes: 1024 ** 3, cpus: 2, storage: "ssd" }),
      ...postgresTlsParameters(),
      listen_addresses: "localhost,kryonix-dev-postgres",
      ...serverLogParameters("file", 2 * 1024 ** 3),
      // As pg_settings prints them: the mode in decimal, sizes in kB, ages in minutes.
      log_file_mode: "384",
      log_rotation_age: "1440",
      log_rotation_size: "104857",
      log_min_messages: "warning",
      debug_print_parse: "off",
      debug_print_rewritten: "off",
      debug_print_plan: "off",
      debug_pretty_print: "on",
      log_hostname: "off",
      log_timezone: "GMT",
      data_directory_mode: "0700",
      authentication_timeout: "30",
      data_checksums: "on",
      archive_mode: "on",
      archive_command: "pgbackrest --stanza=kryonix archive-push %p",
    },
    hba: [
      { type: "local", database: ["all"], user: ["postgres"], address: null, method: "peer", error: null },
      { type: "hostssl", database: ["all"], user: ["all"], address: "samenet", method: "scram-sha-256", error: null },
    ],
    roles: [
      { name: "postgres", super: true, login: true, createrole: true, createdb: true, replication: true, bypassrls: true, connlimit: 20 },
      { name: "kryonix_app", super: false, login: true, createrole: false, createdb: false, replication: false, bypassrls: false, connlimit: 77 },
      { name: "kryonix_owner", super: false, login: false, createrole: false, createdb: false, replication: false, bypassrls: false, connlimit: 0 },
    ],
    databases: [
      { name: "kryonix_saas", publicCreate: false, publicUsage: false, extensions: ["pg_stat_statements", "pgaudit", "plpgsql"] },
      { name: "postgres", publicCreate: false, publicUsage: false, extensions: ["plpgsql"] },
      { name: "template1", publicCreate: false, publicUsage: false, extensions: ["plpgsql"] },
    ],
    files: {
      data: { path: "/var/lib/postgresql/data", mode: "700", owner: "postgres", group: "postgres" },
      hba: { path: "/run/postgresql/kryonix/pg_hba.conf", mode: "600", owner: "postgres", group: "postgres" },
      config: { path: "/etc/kryonix/postgresql.conf", mode: "444", owner: "root", group: "root" },
      sslKey: { path: "/etc/kryonix/tls/server.key", mode: "600", owner: "postgres", group: "postgres" },
      sslCert: { path: "/etc/kryonix/tls/server.crt", mode: "444", owner: "root", group: "root" },
      socketDir: { path: "/run/postgresql", mode: "2775", owner: "postgres", group: "postgres" },
      socket: { path: "/run/postgresql/.s.PGSQL.5432", mode: "770", owner: "postgres", group: "postgres" },
    },
    looseFiles: [],
    umask: "0077",
    shellUmask: "0077",
    serverPackage: "17.7-3",
    walLink: null,
    cryptoExtensions: ["pgcrypto"],
    fips: "0",
    sslKeyHeader: "-----BEGIN ENCRYPTED PRIVATE KEY-----",
    pgbackrest: { code: 0, message: "ok" },
  };
}

const statusOf = (facts: CisFacts, id: string, waivers = DEFAULT_WAIVERS) => evaluateControls(facts, waivers).find((r) => r.id === id)!;

describe("CIS controls", () => {
  it("checks at least 30 controls, every one the issue names", () => {
    expect(CONTROLS.length).toBeGreaterThanOrEqual(30);
    for (const id of ["5.8", "6.8", "6.10", "5.5", "5.7", "3.1.15", "3.1.22", "3.1.25", "2.1", "2.5", "2.6", "4.10", "5.2", "5.9", "7.2", "7.4", "8.2", "4.3", "3.2"]) {
      expect(CIS_CONTROL_IDS).toContain(id);
    }
    expect(new Set(CIS_CONTROL_IDS).size).toBe(CIS_CONTROL_IDS.length);
  });

  it("passes the stack as it renders itself, with the default waivers", () => {
    const results = evaluateControls(goodFacts(), DEFAULT_WAIVERS);
    expect(results.filter((r) => r.status === "FAIL")).toEqual([]);
    expect(results.filter((r) => r.status === "WAIVED").map((r) => r.id)).toEqual(["1.1.1", "1.4.4", "1.5", "4.8", "5.6", "6.7", "6.11", "7.1", "7.5"]);
    expect(renderAudit(results)).toMatch(/53 controls: 44 PASS, 0 FAIL, 9 WAIVED/);
  });

  it("waives by default exactly the nine that cannot apply to one container from Debian's packages (3.1.3 too with Docker's log)", () => {
    expect(Object.keys(DEFAULT_WAIVERS).sort()).toEqual(["1.1.1", "1.4.4", "1.5", "4.8", "5.6", "6.11", "6.7", "7.1", "7.5"]);
    expect(defaultWaivers("file")).toEqual(DEFAULT_WAIVERS);
    expect(defaultWaivers("docker")).toEqual({ ...DEFAULT_WAIVERS, "3.1.3": expect.stringMatching(/kryonix:serverLog = docker/) });
    for (const id of Object.keys(DEFAULT_WAIVERS)) expect(CIS_CONTROL_IDS).toContain(id);
  });

  it("judges the collector's files only with the collector on, as the outside checker does", () => {
    const docker = goodFacts();
    Object.assign(docker.settings, serverLogParameters("docker", 2 * 1024 ** 3), { log_file_mode: "420", log_directory: "log" });
    expect(statusOf(docker, "3.1.3", {}).status).toBe("FAIL");
    expect(statusOf(docker, "3.1.3", defaultWaivers("docker")).status).toBe("WAIVED");
    for (const id of ["3.1.4", "3.1.5", "3.1.6", "3.1.7", "3.1.8", "3.1.9", "3.1.27"]) expect(statusOf(docker, id, {}).status, id).toBe("PASS");
    const file = goodFacts();
    file.settings.log_directory = "/var/lib/postgresql/data/log";
    expect(statusOf(file, "3.1.27", {}).status).toBe("FAIL");
    file.settings.log_file_mode = "416";
    expect(statusOf(file, "3.1.6", {}).detail).toMatch(/want 0600/);
  });

  it("judges log_min_error_statement, TLS and the public schema as the outside checker does", () => {
    const f = goodFacts();
    expect(statusOf(f, "3.1.15").status).toBe("PASS");
    f.settings.log_min_error_statement = "panic";
    expect(statusOf(f, "3.1.15", {}).status).toBe("FAIL");
    const g = goodFacts();
    g.settings.ssl_min_protocol_version = "TLSv1.2";
    expect(statusOf(g, "6.8", {}).detail).toMatch(/want TLSv1\.3/);
    // 6.8 wants a passphrase command, and this one a key that needs it.
    expect(statusOf(goodFacts(), "6.8", {})).toMatchObject({ status: "PASS", detail: expect.stringMatching(/encrypted, ssl_passphrase_command set/) });
    const plainKey = goodFacts();
    plainKey.sslKeyHeader = "-----BEGIN PRIVATE KEY-----";
    expect(statusOf(plainKey, "6.8", {})).toMatchObject({ status: "FAIL", detail: expect.stringMatching(/not encrypted \(-----BEGIN PRIVATE KEY-----\)/) });
    const noCommand = goodFacts();
    delete noCommand.settings.ssl_passphrase_command;
    expect(statusOf(noCommand, "6.8", {})).toMatchObject({ status: "FAIL", detail: expect.stringMatching(/ssl_passphrase_command unset/) });
    const h = goodFacts();
    h.databases[2].publicUsage = true;
    expect(statusOf(h, "4.10")).toMatchObject({ status: "FAIL", detail: expect.stringMatching(/template1 \(USAGE\)/) });
    const k = goodFacts();
    k.shellUmask = "0022";
    expect(statusOf(k, "2.1").status).toBe("FAIL");
  });

  it.each<[string, (f: CisFacts) => void]>([
    ["2.1", (f) => (f.umask = "0022")],
    ["2.1", (f) => (f.shellUmask = "0022")],
    ["2.1", (f) => f.looseFiles.push("/var/lib/postgresql/data/x")],
    ["2.5", (f) => (f.files.hba = { path: "/etc/kryonix/pg_hba.conf", mode: "444", owner: "root", group: "root" })],
    ["2.5", (f) => (f.files.config = { path: "/etc/kryonix/postgresql.conf", mode: "666", owner: "root", group: "root" })],
    ["2.7", (f) => (f.files.data = { path: "/var/lib/postgresql/data", mode: "750", owner: "postgres", group: "postgres" })],
    ["1.4.3", (f) => (f.settings.data_checksums = "off")],
    ["3.1.14", (f) => (f.settings.log_min_messages = "error")],
    ["3.1.15", (f) => (f.settings.log_min_error_statement = "panic")],
    ["3.1.21", (f) => (f.settings.log_disconnections = "off")],
    ["2.6", (f) => (f.settings.unix_socket_permissions = "0777")],
    ["3.1.20", (f) => (f.settings.log_connections = "off")],
    ["3.1.22", (f) => (f.settings.log_error_verbosity = "default")],
    ["3.2", (f) => (f.settings.shared_preload_libraries = "pg_stat_statements")],
    ["4.3", (f) => f.roles.push({ ...f.roles[1], name: "evil", super: true })],
    ["4.3", (f) => (f.roles[1].createrole = true)],
    ["4.10", (f) => (f.databases[1].publicCreate = true)],
    ["4.10", (f) => (f.databases[0].publicUsage = true)],
    ["5.2", (f) => (f.settings.listen_addresses = "*")],
    ["5.4", (f) => f.hba.push({ type: "hostssl", database: ["all"], user: ["all"], address: "samenet", method: "md5", error: null })],
    ["5.5", (f) => (f.roles[1].connlimit = -1)],
    ["5.5", (f) => (f.roles[0].connlimit = -1)],
    ["5.5", (f) => (f.roles[2].connlimit = -1)],
    ["5.7", (f) => (f.settings.shared_preload_libraries = "pg_stat_statements,pgaudit")],
    ["5.8", (f) => f.hba.push({ type: "host", database: ["all"], user: ["all"], address: "10.0.0.0", method: "scram-sha-256", error: null })],
    ["5.9", (f) => f.hba.push({ type: "hostssl", database: ["all"], user: ["all"], address: "0.0.0.0", method: "scram-sha-256", error: null })],
    ["6.9", (f) => (f.cryptoExtensions = [])],
    ["6.10", (f) => (f.settings.ssl_ciphers = "HIGH:MEDIUM:+3DES:!aNULL")],
    ["7.2", (f) => (f.settings.log_replication_commands = "off")],
    ["7.4", (f) => (f.settings.archive_mode = "off")],
    ["8.2", (f) => (f.pgbackrest = { code: 1, message: "missing stanza path" })],
  ])("fails %s when it is broken", (id, breakIt) => {
    const facts = goodFacts();
    breakIt(facts);
    expect(statusOf(facts, id).status).toBe("FAIL");
    // A waiver turns the FAIL into WAIVED, with its reason.
    expect(statusOf(facts, id, { [id]: "accepted for this test, with a reason" })).toMatchObject({ status: "WAIVED", reason: "accepted for this test, with a reason" });
  });

  it("reads the container's report", () => {
    const out = [
      "noise",
      "@@settings", JSON.stringify({ ssl: "on" }),
      "@@hba", "[]",
      "@@roles", "",
      "@@databases", "kryonix_saas|f|pgaudit,plpgsql|f", "postgres|t||t",
      "@@files", "data|/var/lib/postgresql/data|700|postgres|postgres", "hba|/x|missing||",
      "@@loose", "",
      "@@umask", "0077",
      "@@shellumask", "0077",
      "@@package", "17.7-3",
      "@@wallink", "",
      "@@crypto", "pgcrypto",
      "@@fips", "0",
      "@@keyheader", "-----BEGIN ENCRYPTED PRIVATE KEY-----",
      "@@pgbackrest", '[{"status":{"code":2,"message":"no valid backups"}}]',
    ].join("\n");
    const f = parseFacts(out.replace("@@roles\n", "@@roles\nnull\n"));
    expect(f.settings).toEqual({ ssl: "on" });
    expect(f.databases).toEqual([
      { name: "kryonix_saas", publicCreate: false, publicUsage: false, extensions: ["pgaudit", "plpgsql"] },
      { name: "postgres", publicCreate: true, publicUsage: true, extensions: [] },
    ]);
    expect(f).toMatchObject({ shellUmask: "0077", serverPackage: "17.7-3", walLink: null, cryptoExtensions: ["pgcrypto"], fips: "0", sslKeyHeader: "-----BEGIN ENCRYPTED PRIVATE KEY-----" });
    expect(f.files.data).toEqual({ path: "/var/lib/postgresql/data", mode: "700", owner: "postgres", group: "postgres" });
    expect(f.files.hba).toBeNull();
    expect(f.pgbackrest).toEqual({ code: 2, message: "no valid backups" });
    expect(() => parseFacts("x\n@@settings\n{}")).toThrow(/has no \w+ section/);
  });

  it("octal modes as pg_settings and stat print them", () => {
    expect(octal("0770")).toBe(0o770);
    expect(octal("700")).toBe(0o700);
    expect(octal("448")).toBe(448);
  });

  it("waivers need a known control and a written reason", () => {
    expect(waiverProblems(DEFAULT_WAIVERS)).toEqual([]);
    expect(waiverProblems({ "3.1.3": "short" })[0]).toMatch(/kryonix:cisWaivers\.3\.1\.3: .*written reason/);
    expect(waiverProblems({ "1.1": "a long enough reason, but no such control" })[0]).toMatch(/a control npm run audit checks/);
  });
});
