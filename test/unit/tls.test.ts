import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { renderPgHbaConf } from "../../render/pg-hba";
import { renderPgbouncerIni } from "../../render/pgbouncer";
import { TLS12_CIPHERS, pgSsl, pgbouncerTlsLines, postgresTlsParameters, tlsVolumeFiles } from "../../model/tls";
import { caFilePath, caFileUsable, writeCaFile } from "../../io/ca-file";
import { renderPostgresqlConf } from "../../model/tuning";

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
/** A self-signed P-256 certificate made for this test (openssl req -x509; its key was thrown away). */
const REAL_CA = `-----BEGIN CERTIFICATE-----
MIIBlTCCATugAwIBAgIUAogwJjAAUaFVcvmYA33Gop+8fvUwCgYIKoZIzj0EAwIw
HzEdMBsGA1UEAwwUa3J5b25peCB1bml0IHRlc3QgQ0EwIBcNMjYxMTI5MjEyMjU2
WhgPMjEyNjExMDUyMTIyNTZaMB8xHTAbBgNVBAMMFGtyeW9uaXggdW5pdCB0ZXN0
IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEgaHq8rdUCwum1FZybJHX27FN
s3R+3IBx20gb6fefgiEWyNnU7aQH29ot01zEJ5JDUcKNWgBqupeqKvBVkI2C46NT
MFEwHQYDVR0OBBYEFCCpqZQlYj2dBy4SUHEpBK1bOibzMB8GA1UdIwQYMBaAFCCp
qZQlYj2dBy4SUHEpBK1bOibzMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID
SAAwRQIhAOlKcsdA+h7WYxAh10sR9UJVBaQfUfqz+sUqdFyf4+xAAiA2qIWAL5IX
7w0dY+b2fguVZm8+S1mADZ2lSZ3AFsFuJA==
-----END CERTIFICATE-----
`;

describe("TLS settings", () => {
  it("PostgreSQL serves TLS 1.3 only (1.2's suites ECDHE-ECDSA AEAD should the floor be lowered) from the uploaded files", () => {
    const p = postgresTlsParameters();
    expect(p).toMatchObject({
      ssl: "on",
      ssl_cert_file: "/etc/kryonix/tls/server.crt",
      ssl_key_file: "/etc/kryonix/tls/server.key",
      ssl_min_protocol_version: "TLSv1.3",
      ssl_prefer_server_ciphers: "on",
    });
    for (const cipher of TLS12_CIPHERS.split(":")) expect(cipher).toMatch(/^ECDHE-ECDSA-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
    const conf = renderPostgresqlConf(p);
    expect(conf).toContain("ssl = on\n");
    expect(conf).toContain("ssl_min_protocol_version = 'TLSv1.3'\n");
  });

  it("pg_hba.conf: TCP only with TLS, SCRAM, from the server's own networks", () => {
    const lines = renderPgHbaConf().split("\n").filter((l) => l.trim() && !l.startsWith("#"));
    expect(lines.map((l) => l.split(/\s+/))).toEqual([
      ["local", "all", "postgres", "peer"],
      // The drill's role: the compared database and postgres (its run records) only.
      ["hostssl", "kryonix_saas,postgres", "kryonix_drill", "samenet", "scram-sha-256"],
      ["hostssl", "all", "kryonix_drill", "all", "reject"],
      ["hostssl", "all", "all", "samenet", "scram-sha-256"],
    ]);
  });

  it("PgBouncer requires TLS from clients and verifies PostgreSQL by name", () => {
    const lines = pgbouncerTlsLines();
    expect(lines).toContain("client_tls_sslmode = require");
    expect(lines).toContain("server_tls_sslmode = verify-full");
    expect(lines).toContain("server_tls_ca_file = /etc/kryonix/tls/ca.crt");
    expect(lines).toContain("client_tls_key_file = /etc/kryonix/tls/server.key");
    const ini = renderPgbouncerIni({
      listenPort: 6432, dbHost: "kryonix-dev-postgres", dbPort: 5432, dbName: "kryonix_saas", authUser: "kryonix_pgbouncer",
      authQuery: "SELECT usename, passwd FROM pgbouncer.get_auth($1)",
      pools: { default_pool_size: 10, min_pool_size: 2, reserve_pool_size: 2, max_db_connections: 40, max_client_conn: 500 },
    });
    expect(ini).not.toContain("server_tls_sslmode = disable");
    for (const l of lines) expect(ini).toContain(`${l}\n`);
  });

  it("pg_hba.conf: PgBouncer's users over the shared socket with SCRAM, never postgres or the drill's role", () => {
    const lines = renderPgHbaConf({ database: "kryonix_saas", users: ["kryonix_pgbouncer", "kryonix_app"] }).split("\n").filter((l) => l.trim() && !l.startsWith("#"));
    expect(lines.map((l) => l.split(/\s+/)).slice(0, 3)).toEqual([
      ["local", "all", "postgres", "peer"],
      ["local", "kryonix_saas", "kryonix_pgbouncer,kryonix_app", "scram-sha-256"],
      ["hostssl", "kryonix_saas,postgres", "kryonix_drill", "samenet", "scram-sha-256"],
    ]);
    expect(() => renderPgHbaConf({ database: "kryonix_saas", users: ["kryonix_app", "kryonix_drill"] })).toThrow(/pg_hba.conf pooled users: .*never postgres or kryonix_drill/);
    expect(() => renderPgHbaConf({ database: "kryonix_saas", users: ["postgres"] })).toThrow(/never postgres/);
    expect(() => renderPgHbaConf({ database: "kryonix_saas", users: [] })).toThrow(/at least PgBouncer's auth_user/);
    expect(() => renderPgHbaConf({ database: "all", users: ["x y"] })).toThrow(/pg_hba.conf pooled login: "x y" is invalid/);
  });

  it("PgBouncer over PostgreSQL's Unix socket: no server TLS lines (PgBouncer asks for none there), TLS from clients", () => {
    const ini = renderPgbouncerIni({
      listenPort: 6432, dbHost: "/run/kryonix-pgsocket", dbPort: 5432, dbName: "kryonix_saas", authUser: "kryonix_pgbouncer",
      authQuery: "SELECT usename, passwd FROM pgbouncer.get_auth($1)",
      pools: { default_pool_size: 10, min_pool_size: 2, reserve_pool_size: 2, max_db_connections: 40, max_client_conn: 500 },
    });
    expect(ini).toContain("kryonix_saas = host=/run/kryonix-pgsocket port=5432 dbname=kryonix_saas\n");
    expect(ini).not.toContain("server_tls");
    for (const l of pgbouncerTlsLines({ server: false })) expect(ini).toContain(`${l}\n`);
    expect(ini).toContain("client_tls_sslmode = require\n");
    expect(() => renderPgbouncerIni({
      listenPort: 6432, dbHost: "/run/x y", dbPort: 5432, dbName: "kryonix_saas", authUser: "kryonix_pgbouncer",
      authQuery: "SELECT usename, passwd FROM pgbouncer.get_auth($1)",
      pools: { default_pool_size: 10, min_pool_size: 2, reserve_pool_size: 2, max_db_connections: 40, max_client_conn: 500 },
    })).toThrow(/\[databases\] host/);
  });

  it("puts the key in the TLS volume for the server's user only, the certificates readable", () => {
    expect(tlsVolumeFiles({ certificatePem: "c", privateKeyPem: "k", caCertificate: "a" }, "postgres")).toEqual([
      { name: "server.crt", content: "c", mode: 0o444, owner: "root" },
      { name: "ca.crt", content: "a", mode: 0o444, owner: "root" },
      { name: "server.key", content: "k", mode: 0o600, owner: "postgres" },
    ]);
  });

  it("node-postgres verify-full: the CA, TLS 1.2+, and the host checked even when it is an IP", () => {
    const ssl = pgSsl(CA, "127.0.0.1");
    expect(ssl).toMatchObject({ ca: CA, rejectUnauthorized: true, minVersion: "TLSv1.2" });
    const cert = { subject: { CN: "x" }, subjectaltname: "DNS:localhost, IP Address:127.0.0.1" } as any;
    expect(ssl.checkServerIdentity!("localhost", cert)).toBeUndefined();
    const other = { subject: { CN: "x" }, subjectaltname: "DNS:localhost" } as any;
    // node-postgres passes no servername for an IP; pgSsl still checks the IP, not "localhost".
    expect(ssl.checkServerIdentity!("localhost", other)).toBeInstanceOf(Error);
    expect(() => pgSsl("", "127.0.0.1")).toThrow(/stack CA in PEM/);
  });

  it("writes the CA file for path-only clients, per stack, rewriting a changed CA", () => {
    const root = mkdtempSync(path.join(tmpdir(), "kryonix-ca-"));
    const dirFromEnv = process.env.KRYONIX_TLS_DIR;
    delete process.env.KRYONIX_TLS_DIR;
    try {
      const file = writeCaFile("dev", CA, root);
      expect(file).toBe(caFilePath("dev", root));
      expect(file).toBe(path.join(root, ".pulumi-state", "tls", "dev-ca.pem"));
      expect(readFileSync(file, "utf8")).toBe(CA);
      writeCaFile("dev", `${CA}x`, root);
      expect(readFileSync(file, "utf8")).toBe(`${CA}x`);
      expect(statSync(file).mode & 0o777).toBe(0o644);
      expect(() => caFilePath("../etc", root)).toThrow(/bad stack name/);
      // A file that is not a certificate is unusable: scripts/up.ts writes it again from the stack output.
      expect(caFileUsable("dev", root)).toBe(false);
      writeCaFile("dev", REAL_CA, root);
      expect(caFileUsable("dev", root)).toBe(true);
      expect(caFileUsable("prod", root)).toBe(false);
      process.env.KRYONIX_TLS_DIR = path.join(root, "elsewhere");
      expect(caFilePath("dev", root)).toBe(path.join(root, "elsewhere", "dev-ca.pem"));
    } finally {
      if (dirFromEnv === undefined) delete process.env.KRYONIX_TLS_DIR;
      else process.env.KRYONIX_TLS_DIR = dirFromEnv;
      rmSync(root, { recursive: true, force: true });
    }
  });
});
