import { execFileSync, spawnSync } from "node:child_process";
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { encryptPrivateKeyPem } from "../../model/tls-key";

const PASSPHRASE = "Q2wE3rT4yU5iO6pA7sD8fG9hJ0kL1zX2";

describe("encryptPrivateKeyPem", () => {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const sec1 = privateKey.export({ type: "sec1", format: "pem" }) as string;
  const pkcs8 = privateKey.export({ type: "pkcs8", format: "der" });

  it("encrypts as PKCS#8 PBES2 that Node and the openssl CLI (as PostgreSQL's OpenSSL) open with the passphrase only", () => {
    const pem = encryptPrivateKeyPem(sec1, PASSPHRASE);
    expect(pem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END ENCRYPTED PRIVATE KEY-----\n$/);
    expect(createPrivateKey({ key: pem, passphrase: PASSPHRASE }).export({ type: "pkcs8", format: "der" })).toEqual(pkcs8);
    expect(() => createPrivateKey({ key: pem, passphrase: "not-the-passphrase-at-all" })).toThrow();
    expect(() => createPrivateKey(pem)).toThrow();
    const dir = mkdtempSync(path.join(os.tmpdir(), "kryonix-tls-key-"));
    const file = path.join(dir, "server.key");
    writeFileSync(file, pem, { mode: 0o600 });
    const parsed = execFileSync("openssl", ["asn1parse", "-in", file], { encoding: "utf8" });
    for (const part of ["PBES2", "PBKDF2", "hmacWithSHA256", "aes-256-cbc", ":0186A0"]) expect(parsed).toContain(part);
    const opened = execFileSync("openssl", ["pkey", "-in", file, "-passin", `pass:${PASSPHRASE}`, "-outform", "DER"]);
    expect(Buffer.from(opened)).toEqual(privateKey.export({ type: "sec1", format: "der" }));
    const refused = spawnSync("openssl", ["pkey", "-in", file, "-passin", "pass:not-the-passphrase-at-all", "-noout"]);
    expect(refused.status).not.toBe(0);
  });

  it("is deterministic for one key and passphrase (the TLS volume's digest holds still), and differs for another", () => {
    const a = encryptPrivateKeyPem(sec1, PASSPHRASE);
    expect(encryptPrivateKeyPem(sec1, PASSPHRASE)).toBe(a);
    // The same key in another PEM form is the same key.
    expect(encryptPrivateKeyPem(privateKey.export({ type: "pkcs8", format: "pem" }) as string, PASSPHRASE)).toBe(a);
    expect(encryptPrivateKeyPem(sec1, PASSPHRASE.replace("Q", "q"))).not.toBe(a);
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "sec1", format: "pem" }) as string;
    expect(encryptPrivateKeyPem(other, PASSPHRASE)).not.toBe(a);
  });

  it("refuses a short passphrase", () => {
    expect(() => encryptPrivateKeyPem(sec1, "short")).toThrow(/at least 16 characters/);
  });
});
