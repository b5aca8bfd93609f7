/**
 * WAL segment names (pure): which segments of a range are missing from a list, e.g. from the
 * archive in pgBackRest's repository. With 16 MB segments (our clusters), a log file holds 256 of
 * them: TTTTTTTT LLLLLLLL SSSSSSSS (timeline, log, segment, hex).
 */
import { invalid } from "./messages";

const SEGMENT = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;
/** Segments per log file with 16 MB segments. */
export const SEGMENTS_PER_LOG = 256;

/** A segment's timeline and its position (log * 256 + segment). Pure; throws on a bad name. */
export function parseSegment(name: string): { timeline: number; position: number } {
  const m = SEGMENT.exec(name);
  if (!m || parseInt(m[3], 16) >= SEGMENTS_PER_LOG) throw new Error(invalid("WAL segment name", name, "24 upper-case hex digits of a 16 MB segment"));
  return { timeline: parseInt(m[1], 16), position: parseInt(m[2], 16) * SEGMENTS_PER_LOG + parseInt(m[3], 16) };
}

/** The segment name at a position on a timeline. Pure. */
export function segmentName(timeline: number, position: number): string {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, "0");
  return `${hex(timeline)}${hex(Math.floor(position / SEGMENTS_PER_LOG))}${hex(position % SEGMENTS_PER_LOG)}`;
}

/**
 * The 24-character segment names in `files` (paths or file names such as
 * `000000010000000000000003-<sha1>.zst`; history and backup files are skipped). Pure.
 */
export function segmentNames(files: readonly string[]): string[] {
  const names = new Set<string>();
  for (const f of files) {
    const m = /(?:^|\/)([0-9A-F]{24})(?:-[0-9a-f]{40})?(?:\.\w+)?$/.exec(f);
    if (m) names.add(m[1]);
  }
  return [...names].sort();
}

/** The segments from `first` to `last` (same timeline, both included) that are not in `present`. Pure. */
export function missingSegments(present: readonly string[], first: string, last: string): string[] {
  const a = parseSegment(first);
  const b = parseSegment(last);
  if (a.timeline !== b.timeline || b.position < a.position) throw new Error(`WAL range ${first}..${last}: not one timeline in order`);
  const have = new Set(present);
  const missing: string[] = [];
  for (let p = a.position; p <= b.position; p++) {
    const name = segmentName(a.timeline, p);
    if (!have.has(name)) missing.push(name);
  }
  return missing;
}
