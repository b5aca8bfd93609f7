import type { Input } from "@pulumi/pulumi";
import { checkServerIdentity, type ConnectionOptions } from "node:tls";
import { CONFIG_DIR, SECRETS_DIR } from "./containers";
import { invalid } from "./messages";

/**
 * TLS between every PostgreSQL client and server of the stack: the files the containers get, the
 * server settings, and the client options host programs use. Certificates come from the stack CA
 * (components/pki.ts). Pure.
 */

/**
 * Where PostgreSQL, PgBouncer, MinIO and the proxy (nginx) read their TLS files: a Docker volume
 * of each server's own, mounted read-only, which the stack writes from outside
 * (providers/tls-files.ts) and then asks the server to reload. A renewed certificate so reaches a
 * running server without replacing its container; a new container starts with the files already
 * there.
 */
export const TLS_DIR = `${CONFIG_DIR}/tls`;
export const TLS_CERT_FILE = `${TLS_DIR}/server.crt`;
export const TLS_CA_FILE = `${TLS_DIR}/ca.crt`;
/** Owned by the service's user (root for nginx, whose master reads it), 0600: PostgreSQL refuses a key that others can read (CIS 2.8). */
export const TLS_KEY_FILE = `${TLS_DIR}/server.key`;

/**
 * PostgreSQL's key is encrypted (model/tls-key.ts) under a generated passphrase, which the server
 * reads from this file, uploaded into its container apart from the key's volume (CIS 6.8): a copy
 * of the TLS volume, or of the key alone, is useless without it.
 */
export const POSTGRES_TLS_PASSPHRASE_FILE = `${SECRETS_DIR}/postgres-tls-key-passphrase`;

export const TLS_MIN_VERSION = "TLSv1.2";
/**
 * PostgreSQL's floor (CIS 6.8): its only clients are PgBouncer and the admin path (the provider,
 * the scripts, psql, pgAdmin, the exporter, the drill), all of them OpenSSL 3, Go or Node, which
 * speak TLS 1.3. PgBouncer still accepts TLS 1.2 from applications.
 */
export const POSTGRES_TLS_MIN_VERSION = "TLSv1.3";
/**
 * TLS 1.2 suites for the stack's ECDSA keys: forward secrecy and AEAD only (Mozilla "intermediate"
 * for ECDSA). TLS 1.3 suites are all AEAD and stay OpenSSL's defaults.
 */
export const TLS12_CIPHERS = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256";

export interface ServerTls {
  certificatePem: Input<string>;
  /** A secret. */
  privateKeyPem: Input<string>;
  caCertificate: Input<string>;
}

/** One file of a server's TLS volume: its name in TLS_DIR, content, mode and owning user (a name the service's image knows). */
export interface TlsVolumeFile {
  name: string;
  content: string;
  mode: number;
  owner: string;
}

/** The files of a server's TLS volume: certificate and CA readable, the key `owner`'s only. Pure. */
export function tlsVolumeFiles(tls: { certificatePem: string; privateKeyPem: string; caCertificate: string }, owner: string): TlsVolumeFile[] {
  const name = (file: string) => file.slice(TLS_DIR.length + 1);
  return [
    { name: name(TLS_CERT_FILE), content: tls.certificatePem, mode: 0o444, owner: "root" },
    { name: name(TLS_CA_FILE), content: tls.caCertificate, mode: 0o444, owner: "root" },
    { name: name(TLS_KEY_FILE), content: tls.privateKeyPem, mode: 0o600, owner },
  ];
}

/** postgresql.conf settings serving TLS only with the files of the TLS volume (pg_hba has hostssl lines only). */
export function postgresTlsParameters(): Record<string, string> {
  return {
    ssl: "on",
    ssl_cert_file: TLS_CERT_FILE,
    ssl_key_file: TLS_KEY_FILE,
    ssl_ca_file: TLS_CA_FILE,
    ssl_min_protocol_version: POSTGRES_TLS_MIN_VERSION,
    // TLS 1.2's suites, should a stack lower the floor; TLS 1.3's are OpenSSL's, all AEAD.
    ssl_ciphers: TLS12_CIPHERS,
    ssl_prefer_server_ciphers: "on",
    // The first line the command prints is the passphrase; a reload (a renewed certificate) runs it again.
    ssl_passphrase_command: `cat ${POSTGRES_TLS_PASSPHRASE_FILE}`,
    ssl_passphrase_command_supports_reload: "on",
  };
}

/**
 * pgbouncer.ini lines: TLS required from clients; with `server` (PostgreSQL reached over TCP),
 * PostgreSQL verified by name against the stack CA.
 */
export function pgbouncerTlsLines(options: { server: boolean } = { server: true }): string[] {
  const client = [
    "client_tls_sslmode = require",
    `client_tls_cert_file = ${TLS_CERT_FILE}`,
    `client_tls_key_file = ${TLS_KEY_FILE}`,
    `client_tls_ca_file = ${TLS_CA_FILE}`,
    "client_tls_protocols = tlsv1.2,tlsv1.3",
    `client_tls_ciphers = ${TLS12_CIPHERS}`,
  ];
  if (!options.server) return client;
  return [
    ...client,
    "server_tls_sslmode = verify-full",
    `server_tls_ca_file = ${TLS_CA_FILE}`,
    // PostgreSQL accepts TLS 1.3 only (POSTGRES_TLS_MIN_VERSION).
    "server_tls_protocols = tlsv1.3",
    `server_tls_ciphers = ${TLS12_CIPHERS}`,
  ];
}

/**
 * node-postgres `ssl` for verify-full: the server's chain must end at `ca` (the stack CA, stack
 * output caCertificate) and its certificate must name `host` (an IP address is checked against
 * the certificate's IP SANs, which node-postgres would otherwise leave to "localhost").
 */
export function pgSsl(ca: string, host: string): ConnectionOptions {
  if (typeof ca !== "string" || !ca.includes("-----BEGIN CERTIFICATE-----")) {
    throw new Error(invalid("PostgreSQL client CA", typeof ca === "string" ? `${ca.slice(0, 20)}...` : ca, "the stack CA in PEM (stack output caCertificate)"));
  }
  return {
    ca,
    rejectUnauthorized: true,
    minVersion: TLS_MIN_VERSION,
    checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert),
  };
}

/** libpq connection parameters for verify-full against a CA file (psql, pgAdmin, the postgresql provider). */
export function libpqTlsParams(caFile: string): Record<string, string> {
  return { sslmode: "verify-full", sslrootcert: caFile, ssl_min_protocol_version: TLS_MIN_VERSION };
}
