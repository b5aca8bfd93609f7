import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { scramSha256Secret } from "../../model/scram";

// RFC 7677 section 3: user "user", password "pencil".
const SALT = Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64");
const AUTH_MESSAGE = [
  "n=user,r=rOprNGfwEbeRWgbNEkqO",
  "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
  "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
].join(",");
const CLIENT_PROOF = Buffer.from("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "base64");
const SERVER_SIGNATURE = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

describe("scramSha256Secret", () => {
  it("has PostgreSQL's format", () => {
    expect(scramSha256Secret("pencil", SALT)).toMatch(/^SCRAM-SHA-256\$4096:W22ZaJ0SNY7soEsUEjb6gQ==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
  });

  it("verifies the RFC 7677 exchange: the server signature and the client proof", () => {
    const [, keys] = scramSha256Secret("pencil", SALT).split("$").slice(1);
    const [storedKey, serverKey] = keys.split(":").map((k) => Buffer.from(k, "base64"));
    expect(createHmac("sha256", serverKey).update(AUTH_MESSAGE).digest("base64")).toBe(SERVER_SIGNATURE);
    const clientSignature = createHmac("sha256", storedKey).update(AUTH_MESSAGE).digest();
    const clientKey = Buffer.from(CLIENT_PROOF.map((b, i) => b ^ clientSignature[i]));
    expect(createHash("sha256").update(clientKey).digest().equals(storedKey)).toBe(true);
  });

  it("refuses what it cannot hash like PostgreSQL, without echoing the password", () => {
    expect(() => scramSha256Secret("pässword", SALT)).toThrow(/printable ASCII/);
    expect(() => scramSha256Secret("with space", SALT)).not.toThrow(/with space/);
    expect(() => scramSha256Secret("", SALT)).toThrow(/printable ASCII/);
    expect(() => scramSha256Secret("pencil", Buffer.alloc(4))).toThrow(/at least 8 bytes/);
    expect(() => scramSha256Secret("pencil", SALT, 1000)).toThrow(/at least 4096/);
  });
});
