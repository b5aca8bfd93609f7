import { describe, expect, it } from "vitest";
import { DEFAULT_THRESHOLDS } from "../../model/thresholds";
import { prometheusRules, renderExporterQueries } from "../../render/prometheus";
import { MIN_SERVER_LOG_MAX_BYTES, SERVER_LOG_DIR, serverLogCleanupCronLine, serverLogParameters, serverLogRotationKb } from "../../model/server-log";

describe("the server log (kryonix:serverLog)", () => {
  it("file: the collector writes 0600 files outside the data directory, rotated daily and by size", () => {
    expect(serverLogParameters("file", 2 * 1024 ** 3)).toEqual({
      logging_collector: "on",
      log_destination: "stderr",
      log_directory: SERVER_LOG_DIR,
      log_filename: "postgresql-%Y-%m-%d_%H%M%S.log",
      log_file_mode: "0600",
      log_rotation_age: "1d",
      log_rotation_size: "104857kB",
      log_truncate_on_rotation: "on",
    });
    expect(serverLogParameters("docker", 2 * 1024 ** 3)).toEqual({ logging_collector: "off", log_destination: "stderr" });
    expect(() => serverLogParameters("syslog" as "file", 2 * 1024 ** 3)).toThrow(/kryonix:serverLog.*file or docker/);
  });

  it("rotates at a twentieth of the cap, from 4 MiB to 256 MiB", () => {
    expect(serverLogRotationKb(MIN_SERVER_LOG_MAX_BYTES)).toBe(4096);
    expect(serverLogRotationKb(1024 ** 4)).toBe(256 * 1024);
    expect(() => serverLogRotationKb(1024)).toThrow(/at least/);
  });

  it("deletes only its own files past the retention, every hour", () => {
    expect(serverLogCleanupCronLine(14)).toBe(
      "17 * * * * root find /var/log/postgresql -maxdepth 1 -type f -name 'postgresql-*.log' -mmin +20160 -delete >>/proc/1/fd/1 2>&1",
    );
    for (const bad of [0, 1.5, 4000]) expect(() => serverLogCleanupCronLine(bad)).toThrow(/kryonix:serverLogRetentionDays/);
  });

  it("Prometheus reads the files' size and warns before the cap, then pages at it", () => {
    expect(renderExporterQueries()).toContain("pg_ls_logdir()");
    const alerts = prometheusRules({ ...DEFAULT_THRESHOLDS, serverLogMaxBytes: 1024 ** 3 }).groups.flatMap((g) => g.rules);
    expect(alerts.find((r) => r.alert === "KryonixServerLogFilling")).toMatchObject({ expr: "max by (stack) (kryonix_health_server_log_bytes) > 858993459" });
    expect(alerts.find((r) => r.alert === "KryonixServerLogFull")).toMatchObject({ expr: "max by (stack) (kryonix_health_server_log_bytes) >= 1073741824" });
  });
});
