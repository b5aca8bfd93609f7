import { describe, expect, it } from "vitest";
import { GiB, KiB, MiB, TiB, formatPgSize, parseSize } from "../../model/size";

describe("parseSize", () => {
  it.each([
    ["512MiB", 512 * MiB],
    ["1GiB", GiB],
    ["256MB", 256 * MiB],
    ["1gb", GiB],
    ["64GiB", 64 * GiB],
    ["16kB", 16 * KiB],
    ["2TiB", 2 * TiB],
    ["512m", 512 * MiB],
    ["1.5GiB", 1536 * MiB],
    [" 1 GiB ", GiB],
    ["1073741824", GiB],
    ["100B", 100],
    ["0", 0],
  ])("parses %j", (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it("accepts a byte count as a number", () => {
    expect(parseSize(268435456)).toBe(256 * MiB);
    expect(parseSize(0)).toBe(0);
  });

  it.each(["", "abc", "1 GiBs", "1PB", "-1GiB", "GiB", "1e9", "1,5GiB", "1GiB extra"])("rejects %j", (text) => {
    expect(() => parseSize(text, "kryonix:postgresMemory")).toThrow(
      new RegExp(`^kryonix:postgresMemory: ${JSON.stringify(text).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is invalid: .*KiB, MiB, GiB, TiB`),
    );
  });

  it("rejects sizes that are not a whole number of bytes", () => {
    expect(() => parseSize("0.3kB", "work_mem")).toThrow('work_mem: "0.3kB" is invalid: ');
    expect(() => parseSize("0.3kB")).toThrow(/whole number of bytes/);
  });

  it("rejects negative, fractional and non-finite numbers", () => {
    for (const value of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
      expect(() => parseSize(value, "kryonix:minioMemory")).toThrow(/^kryonix:minioMemory: .* is invalid: /);
    }
  });

  it("rejects values that are neither strings nor numbers", () => {
    expect(() => parseSize(true as unknown as string)).toThrow("size: true is invalid: ");
  });
});

describe("formatPgSize", () => {
  it.each([
    [256 * MiB, "256MB"],
    [4 * GiB, "4GB"],
    [16 * KiB, "16kB"],
    [GiB, "1GB"],
    [1536 * MiB, "1536MB"],
    [2 * TiB, "2TB"],
    [1024 * TiB, "1024TB"],
    [1000, "1000B"],
    [0, "0"],
  ])("formats %d as %s", (bytes, text) => {
    expect(formatPgSize(bytes)).toBe(text);
  });

  it("round-trips through parseSize", () => {
    for (const bytes of [KiB, 3 * MiB, 768 * MiB, 48 * GiB, 123 * KiB]) {
      expect(parseSize(formatPgSize(bytes))).toBe(bytes);
    }
  });

  it("rejects negative and fractional byte counts", () => {
    expect(() => formatPgSize(-1)).toThrow("size in bytes: -1 is invalid: a non-negative whole number of bytes");
    expect(() => formatPgSize(1.5)).toThrow(/1.5 is invalid/);
  });
});
