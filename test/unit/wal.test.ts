import { describe, expect, it } from "vitest";
import { missingSegments, parseSegment, segmentName, segmentNames } from "../../model/wal";

describe("WAL segment names", () => {
  it("parses and renders positions across a log file boundary", () => {
    expect(parseSegment("0000000100000000000000FF")).toEqual({ timeline: 1, position: 255 });
    expect(segmentName(1, 256)).toBe("000000010000000100000000");
    expect(() => parseSegment("000000010000000000000100")).toThrow(/is invalid/);
    expect(() => parseSegment("00000001000000000000000g")).toThrow(/is invalid/);
  });

  it("finds the segment names in repository paths, skipping history and backup files", () => {
    const files = [
      "17-1/0000000100000000/000000010000000000000003-0123456789abcdef0123456789abcdef01234567.zst",
      "17-1/0000000100000000/000000010000000000000004-0123456789abcdef0123456789abcdef01234567.zst",
      "17-1/0000000100000000/000000010000000000000004.00000028.backup",
      "17-1/00000002.history",
      "17-1/0000000100000000",
    ];
    expect(segmentNames(files)).toEqual(["000000010000000000000003", "000000010000000000000004"]);
  });

  it("reports exactly the missing segments of a range, across a log boundary", () => {
    const present = ["0000000100000000000000FE", "000000010000000100000000", "000000010000000100000001"];
    expect(missingSegments(present, "0000000100000000000000FE", "000000010000000100000001")).toEqual(["0000000100000000000000FF"]);
    expect(missingSegments([...present, "0000000100000000000000FF"], "0000000100000000000000FE", "000000010000000100000001")).toEqual([]);
    expect(() => missingSegments(present, "000000020000000000000001", "000000010000000000000002")).toThrow(/not one timeline/);
  });
});
