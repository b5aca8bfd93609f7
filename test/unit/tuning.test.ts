import { describe, expect, it } from "vitest";
import { ConfigError } from "../../model/messages";
import { GiB, MiB } from "../../model/size";
import {
  KNOWN_PARAMETERS,
  applyOverrides,
  checkOverrides,
  formatConfValue,
  renderPostgresqlConf,
  tunePostgres,
} from "../../model/tuning";
import { stackOwnedParameters } from "../../model/config";

// Settings that do not depend on memory, CPUs or storage.
const FIXED = {
  listen_addresses: "*",
  superuser_reserved_connections: "3",
  password_encryption: "scram-sha-256",
  min_wal_size: "1GB",
  max_wal_size: "4GB",
  checkpoint_completion_target: "0.9",
  default_statistics_target: "100",
  shared_preload_libraries: "pg_stat_statements,pgaudit,auth_delay",
  "pg_stat_statements.track": "top",
  "pg_stat_statements.track_utility": "off",
  "auth_delay.milliseconds": "500",
  authentication_timeout: "30s",
  // The seed's log_statement=mod, as pgaudit classes (which redact passwords); ddl for CIS 3.1.25.
  log_statement: "ddl",
  "pgaudit.log": "ddl,role,write",
  "pgaudit.log_catalog": "off",
  "pgaudit.log_parameter": "off",
  "pgaudit.log_relation": "off",
  log_min_error_statement: "error",
  log_parameter_max_length: "0",
  log_parameter_max_length_on_error: "0",
  log_error_verbosity: "verbose",
  log_replication_commands: "on",
  log_line_prefix: "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
  log_checkpoints: "on",
  log_connections: "on",
  log_disconnections: "on",
  log_min_duration_statement: "500",
  unix_socket_permissions: "0770",
};

describe("tunePostgres", () => {
  it("reproduces the seed configuration exactly at 1 GiB, 2 CPUs, SSD", () => {
    expect(tunePostgres({ memoryBytes: GiB, cpus: 2, storage: "ssd" })).toEqual({
      ...FIXED,
      max_connections: "100",
      shared_buffers: "256MB",
      effective_cache_size: "1GB",
      maintenance_work_mem: "64MB",
      work_mem: "4MB",
      huge_pages: "off",
      wal_buffers: "16MB",
      random_page_cost: "1.1",
      effective_io_concurrency: "200",
      max_worker_processes: "8",
      max_parallel_workers: "2",
      max_parallel_workers_per_gather: "1",
      max_parallel_maintenance_workers: "1",
    });
  });

  it("tunes 512 MiB, 1 CPU, HDD", () => {
    expect(tunePostgres({ memoryBytes: 512 * MiB, cpus: 1, storage: "hdd" })).toEqual({
      ...FIXED,
      max_connections: "100",
      shared_buffers: "128MB",
      effective_cache_size: "512MB",
      maintenance_work_mem: "32MB",
      work_mem: "4MB",
      huge_pages: "off",
      wal_buffers: "8MB",
      random_page_cost: "4",
      effective_io_concurrency: "2",
      max_worker_processes: "8",
      max_parallel_workers: "1",
      max_parallel_workers_per_gather: "0",
      max_parallel_maintenance_workers: "0",
    });
  });

  it("tunes 8 GiB, 4 CPUs, SSD", () => {
    expect(tunePostgres({ memoryBytes: 8 * GiB, cpus: 4, storage: "ssd" })).toEqual({
      ...FIXED,
      max_connections: "100",
      shared_buffers: "2GB",
      effective_cache_size: "6GB",
      maintenance_work_mem: "512MB",
      // (8GiB - 2GiB) / (100 * 3) / 2 workers per gather = 10.24MB
      work_mem: "10MB",
      huge_pages: "off",
      wal_buffers: "16MB",
      random_page_cost: "1.1",
      effective_io_concurrency: "200",
      max_worker_processes: "8",
      max_parallel_workers: "4",
      max_parallel_workers_per_gather: "2",
      max_parallel_maintenance_workers: "2",
    });
  });

  it("tunes 64 GiB, 16 CPUs, SSD", () => {
    expect(tunePostgres({ memoryBytes: 64 * GiB, cpus: 16, storage: "ssd" })).toEqual({
      ...FIXED,
      max_connections: "100",
      shared_buffers: "16GB",
      effective_cache_size: "48GB",
      maintenance_work_mem: "2GB",
      // (64GiB - 16GiB) / (100 * 3) / 4 = 40.96MB
      work_mem: "40MB",
      huge_pages: "try",
      wal_buffers: "16MB",
      random_page_cost: "1.1",
      effective_io_concurrency: "200",
      max_worker_processes: "16",
      max_parallel_workers: "16",
      max_parallel_workers_per_gather: "4",
      max_parallel_maintenance_workers: "4",
    });
  });

  it("switches huge_pages to try at exactly 32 GiB", () => {
    expect(tunePostgres({ memoryBytes: 32 * GiB - MiB, cpus: 8, storage: "ssd" }).huge_pages).toBe("off");
    expect(tunePostgres({ memoryBytes: 32 * GiB, cpus: 8, storage: "ssd" }).huge_pages).toBe("try");
  });

  it("keeps effective_cache_size between 75% of memory and the memory itself", () => {
    expect(tunePostgres({ memoryBytes: 2 * GiB, cpus: 2, storage: "ssd" }).effective_cache_size).toBe("1536MB");
    expect(tunePostgres({ memoryBytes: 768 * MiB, cpus: 2, storage: "ssd" }).effective_cache_size).toBe("768MB");
  });

  it("gives fewer connections more work_mem", () => {
    const params = tunePostgres({ memoryBytes: 8 * GiB, cpus: 4, storage: "ssd", maxConnections: 20 });
    expect(params.max_connections).toBe("20");
    // (8GiB - 2GiB) / (20 * 3) / 2 = 51.2MB
    expect(params.work_mem).toBe("51MB");
  });

  it("treats a fractional CPU limit as one core without parallel query", () => {
    const params = tunePostgres({ memoryBytes: GiB, cpus: 0.5, storage: "ssd" });
    expect(params.max_parallel_workers).toBe("1");
    expect(params.max_parallel_workers_per_gather).toBe("0");
  });

  it("rejects inputs outside the supported range, naming the setting", () => {
    expect(() => tunePostgres({ memoryBytes: 128 * MiB, cpus: 2, storage: "ssd" })).toThrow(
      "kryonix:postgresMemory: 134217728 is invalid: a byte count of at least 256MiB",
    );
    expect(() => tunePostgres({ memoryBytes: GiB, cpus: 0.25, storage: "ssd" })).toThrow(
      "kryonix:postgresCpus: 0.25 is invalid: a number from 0.5 to 64",
    );
    expect(() => tunePostgres({ memoryBytes: GiB, cpus: 2, storage: "nvme" as "ssd" })).toThrow(
      'kryonix:storage: "nvme" is invalid: one of ssd, hdd',
    );
    expect(() => tunePostgres({ memoryBytes: GiB, cpus: 2, storage: "ssd", maxConnections: 5 })).toThrow(
      "kryonix:postgresOverrides.max_connections: 5 is invalid: an integer from 10 to 10000",
    );
  });

  it("only emits parameters that overrides may also set, or that the stack owns", () => {
    const params = tunePostgres({ memoryBytes: 64 * GiB, cpus: 16, storage: "hdd" });
    const owned = stackOwnedParameters();
    for (const name of Object.keys(params)) expect([...KNOWN_PARAMETERS, ...Object.keys(owned)]).toContain(name);
  });

  it("emits values that pass override validation unchanged (the ones an override may set)", () => {
    const owned = stackOwnedParameters();
    for (const storage of ["ssd", "hdd"] as const) {
      const params = Object.fromEntries(Object.entries(tunePostgres({ memoryBytes: 4 * GiB, cpus: 3, storage })).filter(([name]) => !(name in owned)));
      expect(checkOverrides(params, 4 * GiB)).toEqual({ params, problems: [] });
    }
  });
});

describe("applyOverrides", () => {
  const tuned = tunePostgres({ memoryBytes: GiB, cpus: 2, storage: "ssd" });

  function problemsOf(overrides: Record<string, unknown>, memory = GiB): string[] {
    try {
      applyOverrides(tuned, overrides, memory);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return [...(error as ConfigError).problems];
    }
    throw new Error("expected applyOverrides to throw");
  }

  it("merges overrides over tuned values and keeps the rest", () => {
    const merged = applyOverrides(tuned, { work_mem: "16MB", log_min_duration_statement: "1s", jit: false }, GiB);
    expect(merged).toEqual({ ...tuned, work_mem: "16MB", log_min_duration_statement: "1s", jit: "off" });
    expect(tuned.work_mem).toBe("4MB");
  });

  it("normalises names, units, numbers and booleans to postgresql.conf spelling", () => {
    const merged = applyOverrides(
      tuned,
      {
        Shared_Buffers: "384MiB",
        maintenance_work_mem: "1gb",
        max_connections: 200,
        random_page_cost: "1.50",
        log_lock_waits: "true",
        log_statement: "NONE",
        checkpoint_timeout: "15 min",
        wal_buffers: "-1",
      },
      GiB,
    );
    expect(merged).toMatchObject({
      shared_buffers: "384MB",
      maintenance_work_mem: "1GB",
      max_connections: "200",
      random_page_cost: "1.5",
      log_lock_waits: "on",
      log_statement: "none",
      checkpoint_timeout: "15min",
      wal_buffers: "-1",
    });
    expect(merged).not.toHaveProperty("Shared_Buffers");
  });

  it("rejects unknown parameter names with the allow-list", () => {
    const [problem] = problemsOf({ shared_bufers: "256MB" });
    expect(problem).toMatch(/^kryonix:postgresOverrides: "shared_bufers" is invalid: not a parameter the stack manages; allowed: .*shared_buffers/);
    expect(problemsOf({ ssl_passphrase_command: "echo x" })[0]).toMatch(/"ssl_passphrase_command" is invalid/);
  });

  it("rejects shared_buffers above 40% of memory, naming value, memory and limit", () => {
    expect(problemsOf({ shared_buffers: "512MB" })).toEqual([
      'kryonix:postgresOverrides.shared_buffers: "512MB" is invalid: shared_buffers 512MB exceeds 40% of the 1GB postgres memory limit (at most 409MB); raise kryonix:postgresMemory instead',
    ]);
    expect(applyOverrides(tuned, { shared_buffers: "409MB" }, GiB).shared_buffers).toBe("409MB");
    expect(applyOverrides(tuned, { shared_buffers: "3GB" }, 8 * GiB).shared_buffers).toBe("3GB");
    expect(problemsOf({ shared_buffers: "4GB" }, 8 * GiB)[0]).toContain("exceeds 40% of the 8GB postgres memory limit (at most 3276MB)");
  });

  it("rejects sizes that are not sizes", () => {
    expect(problemsOf({ work_mem: "lots" })[0]).toMatch(/^kryonix:postgresOverrides\.work_mem: "lots" is invalid: .*e\.g\. 512MiB/);
    expect(problemsOf({ work_mem: "4096" })[0]).toContain('work_mem: "4096" is invalid: a size with a unit');
    expect(problemsOf({ max_wal_size: "-1" })[0]).toContain("max_wal_size");
    expect(applyOverrides(tuned, { temp_file_limit: "-1", log_temp_files: 0 }, GiB)).toMatchObject({
      temp_file_limit: "-1",
      log_temp_files: "0",
    });
  });

  it("rejects values of the wrong kind", () => {
    expect(problemsOf({ max_connections: "lots" })[0]).toBe(
      'kryonix:postgresOverrides.max_connections: "lots" is invalid: an integer from 10 to 10000',
    );
    expect(problemsOf({ max_connections: 20.5 })[0]).toContain("an integer from 10 to 10000");
    expect(problemsOf({ checkpoint_completion_target: 1.5 })[0]).toContain("a number from 0 to 1");
    expect(problemsOf({ log_checkpoints: "maybe" })[0]).toContain("on or off");
    expect(problemsOf({ statement_timeout: "soon" })[0]).toContain("us, ms, s, min, h or d");
    expect(problemsOf({ huge_pages: "always" })[0]).toContain("one of off, on, try");
    expect(problemsOf({ work_mem: { size: 4 } })[0]).toContain("a string, number or boolean");
  });

  it("keeps security-relevant settings fixed", () => {
    expect(problemsOf({ password_encryption: "md5" })[0]).toContain("one of scram-sha-256 (md5 password hashes are not accepted)");
    expect(problemsOf({ listen_addresses: "localhost" })[0]).toContain("listen_addresses");
    expect(problemsOf({ shared_preload_libraries: "pg_stat_statements" })[0]).toContain("shared_preload_libraries");
  });

  it("rejects values that would inject lines into postgresql.conf", () => {
    expect(problemsOf({ log_line_prefix: "%t\nfsync = off" })[0]).toContain("a single line of at most 1024 characters");
  });

  it("rejects the same parameter twice in different case", () => {
    expect(problemsOf({ work_mem: "8MB", WORK_MEM: "16MB" })[0]).toContain("work_mem is set more than once");
  });

  it("reports every problem at once", () => {
    const problems = problemsOf({ bogus: 1, work_mem: "x", shared_buffers: "1GB" });
    expect(problems).toHaveLength(3);
    expect(() => applyOverrides(tuned, { bogus: 1, work_mem: "x" }, GiB)).toThrow(
      /^kryonix:postgresOverrides has 2 invalid setting\(s\):\nkryonix:postgresOverrides: "bogus".*\nkryonix:postgresOverrides\.work_mem/,
    );
  });
});

describe("checkOverrides", () => {
  it("skips the shared_buffers ratio when memory is unknown", () => {
    expect(checkOverrides({ shared_buffers: "64GB" }, undefined).problems).toEqual([]);
  });

  it("rejects overrides that are not an object", () => {
    expect(checkOverrides(["work_mem"], GiB).problems).toEqual([
      'kryonix:postgresOverrides: ["work_mem"] is invalid: an object mapping PostgreSQL parameter names to values, e.g. {"work_mem": "16MB"}',
    ]);
    expect(checkOverrides(undefined, GiB)).toEqual({ params: {}, problems: [] });
  });
});

describe("renderPostgresqlConf", () => {
  it("renders the seed configuration with PostgreSQL quoting, keys sorted", () => {
    const text = renderPostgresqlConf(tunePostgres({ memoryBytes: GiB, cpus: 2, storage: "ssd" }));
    // Whoever reads a CIS checker's report, then this file, finds how log_statement keeps passwords out.
    expect(text).toMatch(/^# ddl \(CIS 3\.1\.25\), besides pgaudit .*PGOPTIONS='-c log_statement=none'.*\nlog_statement = 'ddl'$/m);
    const settings = text.split("\n").filter((line) => line && !line.startsWith("#"));
    expect(settings).toEqual([
      "auth_delay.milliseconds = 500",
      "authentication_timeout = 30s",
      "checkpoint_completion_target = 0.9",
      "default_statistics_target = 100",
      "effective_cache_size = 1GB",
      "effective_io_concurrency = 200",
      "huge_pages = off",
      "listen_addresses = '*'",
      "log_checkpoints = on",
      "log_connections = on",
      "log_disconnections = on",
      "log_error_verbosity = 'verbose'",
      "log_line_prefix = '%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h '",
      "log_min_duration_statement = 500",
      "log_min_error_statement = 'error'",
      "log_parameter_max_length = 0",
      "log_parameter_max_length_on_error = 0",
      "log_replication_commands = on",
      "log_statement = 'ddl'",
      "maintenance_work_mem = 64MB",
      "max_connections = 100",
      "max_parallel_maintenance_workers = 1",
      "max_parallel_workers = 2",
      "max_parallel_workers_per_gather = 1",
      "max_wal_size = 4GB",
      "max_worker_processes = 8",
      "min_wal_size = 1GB",
      "password_encryption = 'scram-sha-256'",
      "pg_stat_statements.track = 'top'",
      "pg_stat_statements.track_utility = off",
      "pgaudit.log = 'ddl,role,write'",
      "pgaudit.log_catalog = off",
      "pgaudit.log_parameter = off",
      "pgaudit.log_relation = off",
      "random_page_cost = 1.1",
      "shared_buffers = 256MB",
      "shared_preload_libraries = 'pg_stat_statements,pgaudit,auth_delay'",
      "superuser_reserved_connections = 3",
      "unix_socket_permissions = 0770",
      "wal_buffers = 16MB",
      "work_mem = 4MB",
    ]);
    expect(text.endsWith("\n")).toBe(true);
    expect(text).toMatch(/^# .*\n# .*\n# Secrets never go in this file/);
  });

  it("is deterministic whatever the insertion order", () => {
    expect(renderPostgresqlConf({ work_mem: "4MB", jit: "off" })).toBe(renderPostgresqlConf({ jit: "off", work_mem: "4MB" }));
  });

  it("quotes string parameters even when they look like numbers", () => {
    expect(formatConfValue("timezone", "UTC")).toBe("'UTC'");
    expect(formatConfValue("pgaudit.log", "1")).toBe("'1'");
    expect(formatConfValue("statement_timeout", "30s")).toBe("30s");
    expect(formatConfValue("temp_file_limit", "-1")).toBe("-1");
  });

  it("escapes quotes and backslashes", () => {
    expect(formatConfValue("log_line_prefix", "it's \\ %m")).toBe("'it''s \\\\ %m'");
  });

  it("refuses names and values that would break the file", () => {
    expect(() => renderPostgresqlConf({ "work_mem = 1GB\nfsync": "off" })).toThrow(/postgresql.conf parameter name: .* is invalid/);
    expect(() => renderPostgresqlConf({ log_line_prefix: "a\nfsync = off" })).toThrow(/log_line_prefix: .* is invalid: a single line/);
  });
});
