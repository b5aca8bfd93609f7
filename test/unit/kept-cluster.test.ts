/**
 * The kept-cluster probe (checks/kept-cluster.ts): its answer, the import/create split, the message a
 * preview shows, and the bash script itself, run here against fake PostgreSQL commands on a fake
 * data directory (what it copies, how it starts the server, what it prints).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { adoptionMessage, parseProbeOutput, PROBE_MARKER, renderProbeScript, splitByPresence, type KeptCluster } from "../../checks/kept-cluster";

describe("parseProbeOutput", () => {
  it("reads the marked line, names sorted, whatever else was printed", () => {
    const out = `some notice\n${PROBE_MARKER} clean {"roles":["postgres","kryonix_app"],"databases":["template1","kryonix_saas"]}\n`;
    expect(parseProbeOutput(out)).toEqual({ copy: "clean", roles: ["kryonix_app", "postgres"], databases: ["kryonix_saas", "template1"] });
  });

  it("reads an empty volume's answer and a whole copy's", () => {
    expect(parseProbeOutput(`${PROBE_MARKER} none {"roles":[],"databases":[]}`)).toEqual({ copy: "none", roles: [], databases: [] });
    expect(parseProbeOutput(`${PROBE_MARKER} whole {"roles":["a"],"databases":["b"]}`).copy).toBe("whole");
  });

  it("throws on no answer, an unknown copy, or names that are not a list of strings", () => {
    expect(() => parseProbeOutput("")).toThrow(/the probe printed no answer/);
    expect(() => parseProbeOutput(`${PROBE_MARKER} partial {"roles":[],"databases":[]}`)).toThrow(/no answer/);
    expect(() => parseProbeOutput(`${PROBE_MARKER} clean {"roles":null,"databases":[]}`)).toThrow(/the probe's roles: null is invalid: a list of names/);
    expect(() => parseProbeOutput(`${PROBE_MARKER} clean {"roles":[],"databases":[1]}`)).toThrow(/the probe's databases/);
  });
});

describe("splitByPresence and adoptionMessage", () => {
  const declared = { roles: ["kryonix_owner", "kryonix_app", "kryonix_drill", "kryonix_app_b"], databases: ["kryonix_saas"] };

  it("imports what the cluster has and creates what it lacks, in declared order", () => {
    expect(splitByPresence(declared.roles, ["postgres", "kryonix_app", "kryonix_owner"])).toEqual({
      imported: ["kryonix_owner", "kryonix_app"],
      created: ["kryonix_drill", "kryonix_app_b"],
    });
    expect(splitByPresence(declared.roles, [])).toEqual({ imported: [], created: declared.roles });
  });

  it("says which roles and databases are imported and which created", () => {
    const kept: KeptCluster = { copy: "clean", roles: ["kryonix_app", "kryonix_owner", "postgres"], databases: ["kryonix_saas", "postgres"] };
    expect(adoptionMessage("kryonix-dev-postgres", kept, declared)).toBe(
      "the data volume kryonix-dev-postgres outlived its container: its cluster is adopted; " +
        "imported (the cluster has them): roles kryonix_owner, kryonix_app; databases kryonix_saas; " +
        "created (the cluster lacks them): roles kryonix_drill, kryonix_app_b; databases none",
    );
    expect(adoptionMessage("v", { copy: "none", roles: [], databases: [] }, declared)).toMatch(/holds no cluster yet: its first start runs initdb, and every role and database is created/);
  });
});

/** The probe script against fakes of pg_controldata, pg_ctl, psql, setpriv and chown. */
describe("the probe script", () => {
  let root: string;
  let kept: string;
  let work: string;
  let bin: string;

  const fake = (name: string, body: string) => {
    writeFileSync(path.join(bin, name), `#!/bin/bash\n${body}\n`);
    chmodSync(path.join(bin, name), 0o755);
  };
  const file = (rel: string, content = "x") => {
    mkdirSync(path.dirname(path.join(kept, rel)), { recursive: true });
    writeFileSync(path.join(kept, rel), content);
  };
  const run = (env: Record<string, string> = {}) => {
    const r = spawnSync("bash", ["-c", renderProbeScript({ kept, work })], { encoding: "utf8", env: { ...process.env, ...env, PATH: `${bin}:${process.env.PATH}` } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const copied = (rel: string) => readdirSync(path.join(work, "data", rel)).sort();

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), "kryonix-probe-"));
    kept = path.join(root, "kept");
    work = path.join(root, "work");
    bin = path.join(root, "bin");
    mkdirSync(kept);
    mkdirSync(bin);
    fake(
      "pg_controldata",
      `echo "pg_control version number:            1700"
echo "Database cluster state:               \${FAKE_STATE:-shut down}"
echo "Latest checkpoint's REDO WAL file:    000000010000000000000003"`,
    );
    fake("setpriv", `while [ "$1" != -- ]; do shift; done; shift; exec "$@"`);
    fake("chown", "exit 0");
    fake("pg_ctl", `printf '%s\\n' "$*" >> "${root}/pg_ctl.calls"; [ "$1" = start ] && { echo "FATAL:  could not start" > "$8"; exit "\${FAKE_START:-0}"; }; exit 0`);
    fake("psql", `printf '%s\\n' "$*" >> "${root}/psql.calls"; echo '{"roles" : ["postgres", "kryonix_app"], "databases" : ["postgres", "kryonix_saas"]}'`);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function cluster() {
    file("PG_VERSION", "17\n");
    for (const f of ["global/pg_control", "global/1260", "base/1/1259", "base/5/1259", "base/16384/16385", "pg_xact/0000", "pg_multixact/offsets/0000"]) file(f);
    for (const f of ["000000010000000000000002", "000000010000000000000003", "000000010000000000000004", "00000002.history"]) file(`pg_wal/${f}`);
    for (const f of ["postgresql.conf", "postgresql.auto.conf", "pg_hba.conf", "pg_ident.conf", "postmaster.opts"]) file(f);
  }

  it("answers none on an empty volume, without starting anything", () => {
    const r = run();
    expect(r.code, r.stderr).toBe(0);
    expect(parseProbeOutput(r.stdout)).toEqual({ copy: "none", roles: [], databases: [] });
    expect(existsSync(path.join(root, "pg_ctl.calls"))).toBe(false);
  });

  it("refuses a volume that is not empty and holds no cluster", () => {
    file("lost-file");
    const r = run();
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/holds no cluster \(no PG_VERSION\)/);
  });

  it("after a clean shutdown copies the shared catalogs, template1 and the checkpoint's segment only, and starts a server with no listener, TLS, archiving or library", () => {
    cluster();
    const r = run();
    expect(r.code, r.stderr).toBe(0);
    expect(parseProbeOutput(r.stdout)).toEqual({ copy: "clean", roles: ["kryonix_app", "postgres"], databases: ["kryonix_saas", "postgres"] });
    expect(copied("base")).toEqual(["1"]);
    expect(copied("pg_wal")).toEqual(["000000010000000000000003", "00000002.history", "archive_status"]);
    expect(copied(".")).toEqual(["PG_VERSION", "base", "global", "pg_hba.conf", "pg_ident.conf", "pg_multixact", "pg_wal", "pg_xact", "postgresql.conf"]);
    const pgCtl = readFileSync(path.join(root, "pg_ctl.calls"), "utf8").trim().split("\n");
    expect(pgCtl[0]).toContain(`start -w -t 300 -D ${work}/data -l ${work}/log -o `);
    for (const setting of [`config_file=${work}/probe.conf`, `hba_file=${work}/hba.conf`, "listen_addresses=''", "archive_mode=off", "ssl=off", "shared_preload_libraries=''"]) {
      expect(pgCtl[0]).toContain(`-c ${setting}`);
    }
    expect(pgCtl[1]).toBe(`stop -D ${work}/data -m immediate`);
    expect(readFileSync(path.join(work, "hba.conf"), "utf8")).toBe("local all all trust\n");
    // Names only: never rolpassword, never pg_authid.
    const psql = readFileSync(path.join(root, "psql.calls"), "utf8");
    expect(psql).toContain("-d template1");
    expect(psql).not.toMatch(/pg_authid|rolpassword/);
    // The volume is as it was.
    expect(existsSync(path.join(kept, "postgresql.auto.conf"))).toBe(true);
  });

  it("copies the whole directory when the cluster was not shut down cleanly (crash recovery reads any relation)", () => {
    cluster();
    const r = run({ FAKE_STATE: "in production" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/not shut down cleanly \(state: in production\)/);
    expect(parseProbeOutput(r.stdout).copy).toBe("whole");
    expect(copied("base")).toEqual(["1", "16384", "5"]);
    expect(copied("pg_wal")).toHaveLength(4);
    expect(existsSync(path.join(work, "data", "postgresql.auto.conf"))).toBe(false);
    expect(existsSync(path.join(work, "data", "postmaster.opts"))).toBe(false);
  });

  it("fails with the server log's tail when PostgreSQL does not start on the copy", () => {
    cluster();
    const r = run({ FAKE_START: "1" });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/PostgreSQL did not start on the copy of the kept cluster:\nFATAL: {2}could not start/);
    expect(r.stdout).not.toContain(PROBE_MARKER);
  });
});
