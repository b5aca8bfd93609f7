import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { programDigest } from "../../toolchain/program-digest";
import { canonicalJson } from "../../model/canonical-json";

const root = mkdtempSync(path.join(os.tmpdir(), "kryonix-digest-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const write = (rel: string, text: string) => {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(path.join(root, rel), text);
};

describe("program digest (toolchain/program-digest.ts)", () => {
  it("changes with a source file or the stack's settings, not with the salt the CLI writes and removes", () => {
    write("index.ts", "export const a = 1;\n");
    write("components/x.ts", "x\n");
    write("sql/001.sql", "select 1;\n");
    write("Pulumi.s.yaml", "config:\n  kryonix:port: \"1\"\n  kryonix:key:\n    secure: v1:abc\n");
    const first = programDigest(root, "s");
    expect(first).toMatch(/^[0-9a-f]{16}$/);
    write("Pulumi.s.yaml", "encryptionsalt: v1:salt\nconfig:\n  kryonix:key:\n    secure: v1:abc\n  kryonix:port: \"1\"\n");
    expect(programDigest(root, "s")).toBe(first);
    write("Pulumi.s.yaml", "config:\n  kryonix:port: \"1\"\n  kryonix:key:\n    secure: v1:def\n");
    const resecured = programDigest(root, "s");
    expect(resecured).not.toBe(first);
    write("components/x.ts", "y\n");
    expect(programDigest(root, "s")).not.toBe(resecured);
    // Files outside the program (scripts, tests) do not count.
    const before = programDigest(root, "s");
    write("scripts/up.ts", "z\n");
    expect(programDigest(root, "s")).toBe(before);
  });

  it("canonical JSON ignores key order", () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: 3 } })).toBe(canonicalJson({ a: { c: 3, d: [2, { e: 0, f: 1 }] }, b: 1 }));
  });
});
