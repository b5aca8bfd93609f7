/**
 * A CA and TLS server certificates for the real (smoke) tests, made with the `openssl` CLI in a
 * temp directory: ECDSA P-256 keys (SEC 1 "EC PRIVATE KEY" PEMs, as @pulumi/tls writes them) and
 * the extensions components/pki.ts asks @pulumi/tls for: the CA with basicConstraints CA:TRUE and
 * keyCertSign/cRLSign/digitalSignature, the server certificate with digitalSignature/
 * keyEncipherment, serverAuth, and its DNS names and IP addresses as subjectAltName.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { sh } from "./process";

export interface KeyAndCertificate {
  certificatePem: string;
  /** A secret. */
  privateKeyPem: string;
}

export interface CaOptions {
  commonName: string;
  organization?: string;
  validityDays: number;
}

export interface ServerCertificateOptions {
  ca: KeyAndCertificate;
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
  validityDays: number;
}

const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
// What may go into an openssl config value unquoted: no line breaks, no '$' (variable expansion) or '#'.
const CONFIG_VALUE = /^[A-Za-z0-9 ._-]{1,64}$/;

function checkValue(what: string, value: string): void {
  if (!CONFIG_VALUE.test(value)) throw new Error(`test PKI: ${what} ${JSON.stringify(value)} must be 1 to 64 letters, digits, spaces, '.', '_' or '-'`);
}

function checkDays(days: number): void {
  if (!Number.isInteger(days) || days < 1) throw new Error(`test PKI: validity ${days} must be a whole number of days`);
}

/** Runs `openssl` in a fresh temp directory with `files` written into it; returns the named outputs, then removes it. */
function withOpenssl(files: Record<string, string>, steps: string[][], outputs: string[]): Record<string, string> {
  const dir = mkdtempSync(path.join(tmpdir(), "kryonix-test-pki-"));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content, { mode: 0o600 });
    for (const args of steps) {
      const r = sh("openssl", args, { cwd: dir });
      if (r.code !== 0) throw new Error(`openssl ${args.join(" ")} failed (is openssl installed?): ${r.out}`);
    }
    return Object.fromEntries(outputs.map((name) => [name, readFileSync(path.join(dir, name), "utf8")]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `openssl ecparam` writes the curve's parameters first unless -noout: only the key remains. */
const NEW_KEY = (file: string) => ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", file];

/** 16 random bytes, top bit cleared: positive and unique (RFC 5280 4.1.2.2). */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f;
  return `0x${bytes.toString("hex")}`;
}

/** A self-signed CA certificate and its key. */
export function createCertificateAuthority(options: CaOptions): KeyAndCertificate {
  checkValue("CA common name", options.commonName);
  if (options.organization !== undefined) checkValue("CA organization", options.organization);
  checkDays(options.validityDays);
  const config = [
    "[req]",
    "distinguished_name = dn",
    "prompt = no",
    "[dn]",
    ...(options.organization ? [`O = ${options.organization}`] : []),
    `CN = ${options.commonName}`,
    "[v3_ca]",
    "basicConstraints = critical, CA:TRUE",
    "keyUsage = critical, digitalSignature, keyCertSign, cRLSign",
    "subjectKeyIdentifier = hash",
    "",
  ].join("\n");
  const out = withOpenssl(
    { "ca.cnf": config },
    [
      NEW_KEY("ca.key"),
      ["req", "-x509", "-new", "-config", "ca.cnf", "-extensions", "v3_ca", "-key", "ca.key", "-sha256", "-days", String(options.validityDays), "-set_serial", serial(), "-out", "ca.crt"],
    ],
    ["ca.key", "ca.crt"],
  );
  return { certificatePem: out["ca.crt"], privateKeyPem: out["ca.key"] };
}

/** A TLS server certificate for the given DNS names and IP addresses, signed by `ca`. */
export function issueServerCertificate(options: ServerCertificateOptions): KeyAndCertificate {
  checkValue("server common name", options.commonName);
  checkDays(options.validityDays);
  if (options.dnsNames.length + options.ipAddresses.length === 0) throw new Error("test PKI: a server certificate needs a DNS name or an IP address");
  for (const dns of options.dnsNames) if (!DNS_NAME.test(dns)) throw new Error(`test PKI: ${JSON.stringify(dns)} is not a DNS name`);
  for (const ip of options.ipAddresses) if (isIP(ip) === 0) throw new Error(`test PKI: ${JSON.stringify(ip)} is not an IP address`);
  const altNames = [...options.dnsNames.map((d) => `DNS:${d}`), ...options.ipAddresses.map((ip) => `IP:${ip}`)].join(", ");
  const config = [
    "[req]",
    "distinguished_name = dn",
    "prompt = no",
    "[dn]",
    `CN = ${options.commonName}`,
    "[v3_server]",
    "basicConstraints = critical, CA:FALSE",
    "keyUsage = critical, digitalSignature, keyEncipherment",
    "extendedKeyUsage = serverAuth",
    `subjectAltName = ${altNames}`,
    "subjectKeyIdentifier = hash",
    "authorityKeyIdentifier = keyid",
    "",
  ].join("\n");
  const out = withOpenssl(
    { "server.cnf": config, "ca.crt": options.ca.certificatePem, "ca.key": options.ca.privateKeyPem },
    [
      NEW_KEY("server.key"),
      ["req", "-new", "-config", "server.cnf", "-key", "server.key", "-sha256", "-out", "server.csr"],
      [
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", serial(),
        "-days", String(options.validityDays), "-sha256", "-extfile", "server.cnf", "-extensions", "v3_server", "-out", "server.crt",
      ],
    ],
    ["server.key", "server.crt"],
  );
  return { certificatePem: out["server.crt"], privateKeyPem: out["server.key"] };
}
