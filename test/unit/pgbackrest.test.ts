import { describe, expect, it } from "vitest";
import { archiveParameters, postgresParameters, validateStackConfig } from "../../model/config";
import { PGBACKREST_CA_FILE, renderPgbackrestConf, renderPgbackrestSecrets } from "../../render/pgbackrest";
import { ARCHIVE_COMMAND, STANZA } from "../../model/backup";
import { renderPostgresqlConf } from "../../model/tuning";

const args = {
  s3Endpoint: "kryonix-dev-minio",
  s3Port: 9000,
  bucket: "kryonix-backups",
  region: "us-east-1",
  retentionDays: 30,
  pgDataDir: "/var/lib/postgresql/data",
};

/** The settings of one section, as pgBackRest reads them. */
function section(text: string, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  let current = "";
  for (const line of text.split("\n")) {
    const header = /^\[(.+)\]$/.exec(line);
    if (header) current = header[1];
    else if (current === name && line && !line.startsWith("#")) {
      const i = line.indexOf("=");
      out[line.slice(0, i)] = line.slice(i + 1);
    }
  }
  return out;
}

describe("pgbackrest.conf", () => {
  const conf = renderPgbackrestConf(args);

  it("points repo1 at the stack's MinIO over S3, path style, TLS verified against the stack CA", () => {
    expect(section(conf, "global")).toMatchObject({
      "repo1-type": "s3",
      "repo1-s3-endpoint": "kryonix-dev-minio",
      "repo1-s3-port": "9000",
      "repo1-s3-bucket": "kryonix-backups",
      "repo1-s3-region": "us-east-1",
      "repo1-s3-uri-style": "path",
      "repo1-storage-ca-file": PGBACKREST_CA_FILE,
      "repo1-path": "/pgbackrest",
    });
    expect(conf).not.toMatch(/verify-tls/);
  });

  it("encrypts, compresses with lz4 in bundles with block incremental, keeps full backups by time, runs two processes and starts fast", () => {
    expect(section(conf, "global")).toMatchObject({
      "repo1-cipher-type": "aes-256-cbc",
      "compress-type": "lz4",
      "repo1-bundle": "y",
      "repo1-block": "y",
      "repo1-retention-full-type": "time",
      "repo1-retention-full": "30",
      "process-max": "2",
      "start-fast": "y",
    });
    expect(renderPgbackrestConf({ ...args, retentionDays: 7 })).toContain("repo1-retention-full=7\n");
  });

  it("logs to the console only: no log file", () => {
    expect(section(conf, "global")).toMatchObject({ "log-level-file": "off", "log-level-console": "info" });
  });

  it("restores with four processes (a restore has its container to itself); backups keep two", () => {
    expect(section(conf, "global:restore")).toEqual({ "process-max": "4" });
    expect(section(conf, "global")["process-max"]).toBe("2");
  });

  it("gives archive-push alone a short io-timeout, so an unreachable MinIO fails a push in seconds, not minutes", () => {
    expect(section(conf, "global:archive-push")).toEqual({ "io-timeout": "5" });
    expect(section(conf, "global")).not.toHaveProperty("io-timeout");
  });

  it("has the stanza with the data directory, and no credential at all", () => {
    expect(section(conf, STANZA)).toEqual({ "pg1-path": "/var/lib/postgresql/data" });
    expect(conf).not.toMatch(/s3-key|cipher-pass/);
  });

  it("refuses arguments that cannot work, naming each", () => {
    expect(() => renderPgbackrestConf({ ...args, s3Endpoint: "minio\nrepo1-s3-verify-tls=n", retentionDays: 0, s3Port: 0 })).toThrow(
      /s3Endpoint.*s3Port.*retentionDays/s,
    );
  });
});

describe("the pgBackRest secrets file", () => {
  it("holds the S3 key pair and the cipher passphrase, in [global]", () => {
    const text = renderPgbackrestSecrets({ s3Key: "user1", s3KeySecret: "secret2", cipherPass: "pass3" });
    expect(section(text, "global")).toEqual({ "repo1-s3-key": "user1", "repo1-s3-key-secret": "secret2", "repo1-cipher-pass": "pass3" });
  });

  it("refuses a value that would break the file, without showing it", () => {
    expect(() => renderPgbackrestSecrets({ s3Key: "a", s3KeySecret: "b\nrepo1-type=posix", cipherPass: "c" })).toThrow(/s3KeySecret.*value not shown/);
    try {
      renderPgbackrestSecrets({ s3Key: "a", s3KeySecret: "b\nhunter2", cipherPass: "c" });
    } catch (err) {
      expect((err as Error).message).not.toContain("hunter2");
    }
  });
});

describe("WAL archiving in postgresql.conf", () => {
  it("is on, through pgBackRest, with archive_timeout from kryonix:archiveTimeoutSeconds", () => {
    const text = renderPostgresqlConf(postgresParameters(validateStackConfig({ "kryonix:archiveTimeoutSeconds": "120" }, "dev")));
    expect(text).toContain("archive_mode = on\n");
    expect(text).toContain(`archive_command = '${ARCHIVE_COMMAND}'\n`);
    expect(ARCHIVE_COMMAND).toBe("pgbackrest --stanza=kryonix archive-push %p");
    expect(text).toContain("archive_timeout = 120\n");
    expect(text).toContain("wal_level = 'replica'\n");
  });

  it("defaults to 60 s and keeps a logical wal_level override", () => {
    expect(archiveParameters({ archiveTimeoutSeconds: 60, postgresOverrides: {} })).toEqual({
      wal_level: "replica",
      archive_mode: "on",
      archive_command: ARCHIVE_COMMAND,
      archive_timeout: "60",
    });
    const config = validateStackConfig({ "kryonix:postgresOverrides": { wal_level: "logical" } }, "dev");
    expect(postgresParameters(config)).toMatchObject({ wal_level: "logical", archive_timeout: "60" });
  });
});
