import { createCipheriv, createHmac, createPrivateKey, pbkdf2Sync } from "node:crypto";

/**
 * PostgreSQL's private key, encrypted with a passphrase (PKCS#8, PBES2: PBKDF2-HMAC-SHA256 and
 * AES-256-CBC), which the server reads through ssl_passphrase_command (CIS 6.8). Pure.
 *
 * Deterministic: salt and IV are derived from the key and the passphrase, so the same pair always
 * gives the same file. The TLS volume's writer compares file digests with what the stack renders;
 * Node's own `export({ cipher })` draws a new salt each time and would rewrite the file (and reload
 * the server) on every `up`. A fresh salt per key is all PBES2 needs: no two keys share one.
 */
export const PBKDF2_ITERATIONS = 100_000;

const OID = {
  pbes2: "2a864886f70d01050d", // 1.2.840.113549.1.5.13
  pbkdf2: "2a864886f70d01050c", // 1.2.840.113549.1.5.12
  hmacWithSha256: "2a864886f70d0209", // 1.2.840.113549.2.9
  aes256Cbc: "60864801650304012a", // 2.16.840.1.101.3.4.1.42
} as const;

function der(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : n < 0x10000 ? Buffer.from([0x82, n >> 8, n & 0xff]) : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
const seq = (...items: Buffer[]) => der(0x30, Buffer.concat(items));
const octets = (b: Buffer) => der(0x04, b);
const oid = (hex: string) => der(0x06, Buffer.from(hex, "hex"));
const NULL = Buffer.from([0x05, 0x00]);
function integer(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  if (bytes.length === 0 || bytes[0] & 0x80) bytes.unshift(0);
  return der(0x02, Buffer.from(bytes));
}

/** The PEM of `privateKeyPem` (any form Node reads, unencrypted) as an ENCRYPTED PRIVATE KEY under `passphrase`. */
export function encryptPrivateKeyPem(privateKeyPem: string, passphrase: string): string {
  if (passphrase.length < 16) throw new Error("encryptPrivateKeyPem: the passphrase must have at least 16 characters");
  const plain = createPrivateKey(privateKeyPem).export({ type: "pkcs8", format: "der" });
  const derive = (label: string) => createHmac("sha256", passphrase).update(label).update(plain).digest().subarray(0, 16);
  const salt = derive("kryonix pbes2 salt");
  const iv = derive("kryonix pbes2 iv");
  const key = pbkdf2Sync(passphrase, salt, PBKDF2_ITERATIONS, 32, "sha256");
  const cipher = createCipheriv("aes-256-cbc", key, iv);
  const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
  const algorithm = seq(
    oid(OID.pbes2),
    seq(seq(oid(OID.pbkdf2), seq(octets(salt), integer(PBKDF2_ITERATIONS), seq(oid(OID.hmacWithSha256), NULL))), seq(oid(OID.aes256Cbc), octets(iv))),
  );
  const body = seq(algorithm, octets(encrypted)).toString("base64");
  return `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${body.match(/.{1,64}/g)!.join("\n")}\n-----END ENCRYPTED PRIVATE KEY-----\n`;
}
