/**
 * test/support/pki.ts, which the MinIO smoke test uses for its CA and server certificate (with the
 * `openssl` CLI): checked here, where it runs on every unit run, rather than first in a smoke run.
 */
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createCertificateAuthority, issueServerCertificate } from "../support/pki";

describe("the smoke tests' PKI (openssl)", () => {
  const ca = createCertificateAuthority({ commonName: "kryonix-test CA", organization: "KRYONIX", validityDays: 30 });
  const server = issueServerCertificate({
    ca,
    commonName: "kryonix-test-minio",
    dnsNames: ["kryonix-test-minio", "minio", "localhost"],
    ipAddresses: ["127.0.0.1"],
    validityDays: 7,
  });

  it("makes an ECDSA P-256 CA", () => {
    const cert = new X509Certificate(ca.certificatePem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toContain("CN=kryonix-test CA");
    expect(cert.subject).toContain("O=KRYONIX");
    expect(cert.checkIssued(cert)).toBe(true);
    expect(ca.privateKeyPem).toMatch(/^-----BEGIN EC PRIVATE KEY-----\n/);
    const key = createPrivateKey(ca.privateKeyPem);
    expect(key.asymmetricKeyDetails).toMatchObject({ namedCurve: "prime256v1" });
    expect(createPublicKey(key).export({ type: "spki", format: "pem" })).toBe(cert.publicKey.export({ type: "spki", format: "pem" }));
  });

  it("issues a server certificate signed by it, for the given names and 127.0.0.1", () => {
    const caCert = new X509Certificate(ca.certificatePem);
    const cert = new X509Certificate(server.certificatePem);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    for (const name of ["kryonix-test-minio", "minio", "localhost"]) expect(cert.checkHost(name)).toBe(name);
    expect(cert.checkHost("example.com")).toBeUndefined();
    expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    expect(createPrivateKey(server.privateKeyPem).asymmetricKeyDetails).toMatchObject({ namedCurve: "prime256v1" });
    expect(createPublicKey(server.privateKeyPem).export({ type: "spki", format: "pem" })).toBe(cert.publicKey.export({ type: "spki", format: "pem" }));
    expect(new Date(cert.validTo).getTime() - Date.now()).toBeLessThanOrEqual(7 * 24 * 3600 * 1000 + 60_000);
  });

  it("gives each CA its own key", () => {
    const other = createCertificateAuthority({ commonName: "not ours", validityDays: 30 });
    expect(other.privateKeyPem).not.toBe(ca.privateKeyPem);
    expect(new X509Certificate(server.certificatePem).checkIssued(new X509Certificate(other.certificatePem))).toBe(false);
  });

  it("refuses names an openssl config could misread", () => {
    expect(() => createCertificateAuthority({ commonName: "x\n[v3_ca]", validityDays: 1 })).toThrow(/test PKI/);
    expect(() => issueServerCertificate({ ca, commonName: "m", dnsNames: ["bad name"], ipAddresses: [], validityDays: 1 })).toThrow(/not a DNS name/);
    expect(() => issueServerCertificate({ ca, commonName: "m", dnsNames: [], ipAddresses: ["127.0.0.300"], validityDays: 1 })).toThrow(/not an IP/);
  });
});
