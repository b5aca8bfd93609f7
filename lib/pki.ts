import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { isIP } from "node:net";
import { invalid } from "./messages";

/**
 * A small certificate authority on node:crypto: ECDSA P-256 keys and X.509 v3
 * certificates (RFC 5280) encoded by hand in DER, because Node has no API to
 * create certificates (and @pulumi/tls would need one more provider plugin
 * built from source). Checked by Node's TLS stack and `openssl verify` in
 * test/unit/pki.test.ts. It makes exactly two
 * kinds of certificate: a self-signed CA, and a TLS server certificate signed
 * by it. Pure apart from the randomness of keys and serial numbers.
 */

export interface KeyAndCertificate {
  /** PKCS#8 PEM ("BEGIN PRIVATE KEY"). */
  privateKeyPem: string;
  /** X.509 PEM ("BEGIN CERTIFICATE"). */
  certificatePem: string;
  /** ISO 8601 validity end. */
  notAfter: string;
}

export interface CaOptions {
  commonName: string;
  organization?: string;
  validityDays: number;
  /** Defaults to now; tests pin it. */
  now?: Date;
}

export interface ServerCertificateOptions {
  ca: { privateKeyPem: string; certificatePem: string };
  commonName: string;
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
  validityDays: number;
  now?: Date;
}

// ---- DER encoding (X.690) -------------------------------------------------

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), lengthBytes(content.length), content]);
}

const sequence = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const octetString = (b: Buffer) => tlv(0x04, b);
const bitString = (b: Buffer, unusedBits = 0) => tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), b]));
const boolean = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
const utf8String = (s: string) => tlv(0x0c, Buffer.from(s, "utf8"));
const explicit = (n: number, content: Buffer) => tlv(0xa0 + n, content);

/** A non-negative INTEGER from its big-endian magnitude. */
function integer(magnitude: Buffer): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  let body = magnitude.subarray(i);
  if (body.length === 0) body = Buffer.from([0]);
  if (body[0] & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return tlv(0x02, body);
}

function objectIdentifier(dotted: string): Buffer {
  const arcs = dotted.split(".").map(Number);
  const out: number[] = [arcs[0] * 40 + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "");
  const year = date.getUTCFullYear();
  return year < 2050 ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, "ascii")) : tlv(0x18, Buffer.from(`${digits}Z`, "ascii"));
}

// ---- the minimal DER reading needed for key identifiers ---------------------

function readTlv(der: Buffer, offset: number): { tag: number; start: number; end: number } {
  const tag = der[offset];
  let len = der[offset + 1];
  let start = offset + 2;
  if (len & 0x80) {
    const count = len & 0x7f;
    len = 0;
    for (let i = 0; i < count; i++) len = len * 256 + der[start + i];
    start += count;
  }
  return { tag, start, end: start + len };
}

/** The subjectPublicKey bits of a SubjectPublicKeyInfo. */
function publicKeyBits(spki: Buffer): Buffer {
  const outer = readTlv(spki, 0);
  const algorithm = readTlv(spki, outer.start);
  const bits = readTlv(spki, algorithm.end);
  if (outer.tag !== 0x30 || algorithm.tag !== 0x30 || bits.tag !== 0x03) throw new Error("unexpected SubjectPublicKeyInfo encoding");
  return spki.subarray(bits.start + 1, bits.end);
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(publicKey: KeyObject): Buffer {
  return createHash("sha1")
    .update(publicKeyBits(publicKey.export({ type: "spki", format: "der" })))
    .digest();
}

// ---- X.509 ------------------------------------------------------------------

const OID = {
  ecPublicKey: "1.2.840.10045.2.1",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
};

const DAY_MS = 24 * 60 * 60 * 1000;
// Certificates start slightly in the past, so a client clock a little behind still accepts them.
const BACKDATE_MS = 5 * 60 * 1000;
const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function name(commonName: string, organization?: string): Buffer {
  const rdns = [];
  if (organization) rdns.push(set(sequence(objectIdentifier(OID.organization), utf8String(organization))));
  rdns.push(set(sequence(objectIdentifier(OID.commonName), utf8String(commonName))));
  return sequence(...rdns);
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return sequence(objectIdentifier(oid), ...(critical ? [boolean(true)] : []), octetString(value));
}

/** KeyUsage bits as a DER BIT STRING (bit 0 is the most significant bit of the first byte). */
function keyUsage(bits: number[]): Buffer {
  let byte = 0;
  for (const b of bits) byte |= 0x80 >> b;
  const unused = byte === 0 ? 7 : Math.min(...[0, 1, 2, 3, 4, 5, 6, 7].filter((i) => byte & (1 << i)));
  return bitString(Buffer.from([byte]), unused);
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

function fromPem(label: string, text: string): Buffer {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(text);
  if (!m) throw new Error(`expected a PEM ${label}`);
  return Buffer.from(m[1].replace(/\s+/g, ""), "base64");
}

/** The subject Name of a certificate, as DER (the issuer Name of the certificates it signs). */
function subjectOf(certificateDer: Buffer): Buffer {
  const cert = readTlv(certificateDer, 0);
  const tbs = readTlv(certificateDer, cert.start);
  let at = tbs.start;
  // version [0], serialNumber, signature, issuer, validity, subject
  const fields: Array<{ tag: number; start: number; end: number; offset: number }> = [];
  while (at < tbs.end && fields.length < 6) {
    const f = readTlv(certificateDer, at);
    fields.push({ ...f, offset: at });
    at = f.end;
  }
  const subject = fields[fields[0].tag === 0xa0 ? 5 : 4];
  return certificateDer.subarray(subject.offset, subject.end);
}

function checkValidity(days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > 3650 * 3) {
    throw new Error(invalid("certificate validity in days", days, "an integer from 1 to 10950"));
  }
}

function checkCommonName(cn: string): void {
  if (typeof cn !== "string" || cn.length < 1 || cn.length > 64 || /[\u0000-\u001f]/.test(cn)) {
    throw new Error(invalid("certificate common name", cn, "1 to 64 characters without control characters"));
  }
}

function newKey(): KeyObject {
  return generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
}

function certificate(opts: {
  subject: Buffer;
  issuer: Buffer;
  subjectKey: KeyObject;
  issuerKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  extensions: Buffer[];
}): Buffer {
  const algorithm = sequence(objectIdentifier(OID.ecdsaWithSha256));
  // 16 random bytes, top bit cleared: positive and unique (RFC 5280 4.1.2.2: at most 20 octets).
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    algorithm,
    opts.issuer,
    sequence(time(opts.notBefore), time(opts.notAfter)),
    opts.subject,
    createPublicKey(opts.subjectKey).export({ type: "spki", format: "der" }),
    explicit(3, sequence(...opts.extensions)),
  );
  const signature = sign("sha256", tbs, opts.issuerKey);
  return sequence(tbs, algorithm, bitString(signature));
}

/** A self-signed CA certificate (basicConstraints CA:TRUE, pathlen 0) and its key. */
export function createCertificateAuthority(options: CaOptions): KeyAndCertificate {
  checkCommonName(options.commonName);
  if (options.organization !== undefined) checkCommonName(options.organization);
  checkValidity(options.validityDays);
  const now = options.now ?? new Date();
  const key = newKey();
  const publicKey = createPublicKey(key);
  const subject = name(options.commonName, options.organization);
  const keyId = keyIdentifier(publicKey);
  const notAfter = new Date(now.getTime() + options.validityDays * DAY_MS);
  const der = certificate({
    subject,
    issuer: subject,
    subjectKey: key,
    issuerKey: key,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    extensions: [
      extension(OID.basicConstraints, true, sequence(boolean(true), integer(Buffer.from([0])))),
      // digitalSignature(0), keyCertSign(5), cRLSign(6)
      extension(OID.keyUsage, true, keyUsage([0, 5, 6])),
      extension(OID.subjectKeyIdentifier, false, octetString(keyId)),
    ],
  });
  return {
    privateKeyPem: key.export({ type: "pkcs8", format: "pem" }).toString(),
    certificatePem: pem("CERTIFICATE", der),
    notAfter: notAfter.toISOString(),
  };
}

/** A TLS server certificate for the given DNS names and IP addresses, signed by `ca`. */
export function issueServerCertificate(options: ServerCertificateOptions): KeyAndCertificate {
  checkCommonName(options.commonName);
  checkValidity(options.validityDays);
  if (options.dnsNames.length + options.ipAddresses.length === 0) {
    throw new Error(invalid("certificate subjectAltName", [], "at least one DNS name or IP address"));
  }
  for (const dns of options.dnsNames) {
    if (typeof dns !== "string" || !DNS_NAME.test(dns)) {
      throw new Error(invalid("certificate DNS name", dns, "a host name of letters, digits, '-' and '.'"));
    }
  }
  for (const ip of options.ipAddresses) {
    if (isIP(ip) === 0 || (isIP(ip) === 6 && ip.includes("."))) {
      throw new Error(invalid("certificate IP address", ip, "an IPv4 address, or an IPv6 address without an embedded IPv4 part"));
    }
  }
  const caKey = createPrivateKey(options.ca.privateKeyPem);
  const caDer = fromPem("CERTIFICATE", options.ca.certificatePem);
  const now = options.now ?? new Date();
  const key = newKey();
  const notAfter = new Date(now.getTime() + options.validityDays * DAY_MS);
  const altNames = [
    ...options.dnsNames.map((d) => tlv(0x82, Buffer.from(d, "ascii"))), // [2] dNSName
    ...options.ipAddresses.map((ip) => tlv(0x87, ipBytes(ip))), // [7] iPAddress
  ];
  const der = certificate({
    subject: name(options.commonName),
    issuer: subjectOf(caDer),
    subjectKey: key,
    issuerKey: caKey,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    extensions: [
      extension(OID.basicConstraints, true, sequence()),
      // digitalSignature(0), keyEncipherment(2): what TLS servers are checked for.
      extension(OID.keyUsage, true, keyUsage([0, 2])),
      extension(OID.extKeyUsage, false, sequence(objectIdentifier(OID.serverAuth))),
      extension(OID.subjectAltName, false, sequence(...altNames)),
      extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(createPublicKey(key)))),
      extension(OID.authorityKeyIdentifier, false, sequence(tlv(0x80, keyIdentifier(createPublicKey(caKey))))),
    ],
  });
  return {
    privateKeyPem: key.export({ type: "pkcs8", format: "pem" }).toString(),
    certificatePem: pem("CERTIFICATE", der),
    notAfter: notAfter.toISOString(),
  };
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split(".").map(Number));
  // Expand "::" and write eight 16-bit groups.
  const [head, tail = ""] = ip.includes("::") ? ip.split("::") : [ip, undefined as unknown as string];
  const h = head ? head.split(":") : [];
  const t = ip.includes("::") && tail ? tail.split(":") : [];
  const groups = ip.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
