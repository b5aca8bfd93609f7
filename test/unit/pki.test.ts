import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { describe, expect, it } from "vitest";
import { createCertificateAuthority, issueServerCertificate } from "../../lib/pki";

const NOW = new Date("2026-11-25T12:00:00Z");
const ca = createCertificateAuthority({ commonName: "kryonix-dev CA", organization: "KRYONIX", validityDays: 3650 });
const server = issueServerCertificate({
  ca,
  commonName: "kryonix-dev-minio",
  dnsNames: ["kryonix-dev-minio", "minio", "localhost"],
  ipAddresses: ["127.0.0.1", "::1"],
  validityDays: 825,
});

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("createCertificateAuthority", () => {
  it("makes a self-signed CA certificate", () => {
    const cert = new X509Certificate(ca.certificatePem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe("O=KRYONIX\nCN=kryonix-dev CA");
    expect(cert.checkIssued(cert)).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(ca.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it("spans the validity asked, from a little before now; GeneralizedTime from 2050", () => {
    const cert = createCertificateAuthority({ commonName: "x", validityDays: 9000, now: NOW });
    const parsed = new X509Certificate(cert.certificatePem);
    expect(new Date(parsed.validFrom).getTime()).toBe(NOW.getTime() - 5 * 60 * 1000);
    expect(new Date(parsed.validTo).toISOString()).toBe(cert.notAfter);
    expect(cert.notAfter).toBe(new Date(NOW.getTime() + 9000 * 24 * 3600 * 1000).toISOString());
    expect(cert.notAfter.slice(0, 4)).toBe("2051");
  });
});

describe("issueServerCertificate", () => {
  const cert = new X509Certificate(server.certificatePem);

  it("is signed by the CA and names the hosts and addresses", () => {
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(new X509Certificate(ca.certificatePem))).toBe(true);
    expect(cert.verify(new X509Certificate(ca.certificatePem).publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe(
      "DNS:kryonix-dev-minio, DNS:minio, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
    );
    expect(cert.checkHost("kryonix-dev-minio")).toBe("kryonix-dev-minio");
    expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(cert.checkHost("example.com")).toBeUndefined();
  });

  it("serves TLS that a client trusting only the CA accepts", async () => {
    const srv = tls.createServer({ key: server.privateKeyPem, cert: server.certificatePem }, (s) => s.end("ok"));
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
    const port = (srv.address() as { port: number }).port;
    try {
      for (const servername of ["minio", "kryonix-dev-minio"]) {
        const reply = await new Promise<string>((resolve, reject) => {
          const sock = tls.connect({ host: "127.0.0.1", port, ca: ca.certificatePem, servername }, () => {
            if (!sock.authorized) reject(sock.authorizationError);
          });
          sock.on("data", (d) => resolve(String(d)));
          sock.on("error", reject);
        });
        expect(reply).toBe("ok");
      }
      const other = createCertificateAuthority({ commonName: "other", validityDays: 1 });
      await expect(
        new Promise((resolve, reject) => {
          const sock = tls.connect({ host: "127.0.0.1", port, ca: other.certificatePem, servername: "minio" }, () => resolve(sock.authorized));
          sock.on("error", reject);
        }),
      ).rejects.toThrow(/certificate/);
    } finally {
      srv.close();
    }
  });

  it.skipIf(!hasOpenssl())("passes `openssl verify` for a TLS server", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "kryonix-pki-"));
    try {
      writeFileSync(path.join(dir, "ca.pem"), ca.certificatePem);
      writeFileSync(path.join(dir, "server.pem"), server.certificatePem);
      const out = execFileSync(
        "openssl",
        ["verify", "-CAfile", "ca.pem", "-purpose", "sslserver", "-verify_hostname", "minio", "-verify_ip", "127.0.0.1", "server.pem"],
        { cwd: dir, encoding: "utf8" },
      );
      expect(out.trim()).toBe("server.pem: OK");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names bad arguments", () => {
    const base = { ca, commonName: "x", dnsNames: ["minio"], ipAddresses: [], validityDays: 30 };
    expect(() => issueServerCertificate({ ...base, dnsNames: ["bad name"] })).toThrow(/certificate DNS name: "bad name" is invalid/);
    expect(() => issueServerCertificate({ ...base, ipAddresses: ["300.1.1.1"] })).toThrow(/certificate IP address/);
    expect(() => issueServerCertificate({ ...base, dnsNames: [] })).toThrow(/at least one DNS name or IP address/);
    expect(() => issueServerCertificate({ ...base, validityDays: 0 })).toThrow(/validity in days: 0/);
    expect(() => createCertificateAuthority({ commonName: "", validityDays: 1 })).toThrow(/common name/);
  });
});
