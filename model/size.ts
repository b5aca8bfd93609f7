import { invalid } from "./messages";

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

// Both PostgreSQL ("256MB") and Docker ("256m") mean powers of 1024, so the
// decimal-looking spellings are read as binary too: "1GB" and "1GiB" must give
// the same container limit, or shared_buffers = 25% would silently drift.
const UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: KiB,
  kb: KiB,
  kib: KiB,
  m: MiB,
  mb: MiB,
  mib: MiB,
  g: GiB,
  gb: GiB,
  gib: GiB,
  t: TiB,
  tb: TiB,
  tib: TiB,
};

const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

export const SIZE_ALLOWED =
  "a whole number of bytes, or a number followed by kB, MB, GB, TB (or KiB, MiB, GiB, TiB; all powers of 1024), e.g. 512MiB";

/**
 * Parses a size such as "512MiB", "1GiB", "256MB", "1gb" or a byte count.
 * `setting` names the config key in the error so the operator knows where to look.
 */
export function parseSize(value: string | number, setting = "size"): number {
  if (typeof value === "number") {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    throw new Error(invalid(setting, value, SIZE_ALLOWED));
  }
  if (typeof value !== "string") {
    throw new Error(invalid(setting, value, SIZE_ALLOWED));
  }
  const match = SIZE_PATTERN.exec(value.trim());
  const multiplier = match ? UNITS[match[2].toLowerCase()] : undefined;
  if (!match || multiplier === undefined) {
    throw new Error(invalid(setting, value, SIZE_ALLOWED));
  }
  const bytes = Number(match[1]) * multiplier;
  // "0.3kB" is 307.2 bytes: refuse rather than round, the intent is unclear.
  if (!Number.isSafeInteger(bytes)) {
    throw new Error(invalid(setting, value, `${SIZE_ALLOWED}; it must come to a whole number of bytes`));
  }
  return bytes;
}

const PG_UNITS: ReadonlyArray<readonly [string, number]> = [
  ["TB", TiB],
  ["GB", GiB],
  ["MB", MiB],
  ["kB", KiB],
];

/**
 * Formats bytes the way postgresql.conf spells memory: the largest unit that
 * divides exactly (PostgreSQL units are case-sensitive and powers of 1024, so
 * "GiB" or "gb" would be rejected at server start).
 */
export function formatPgSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    throw new Error(invalid("size in bytes", bytes, "a non-negative whole number of bytes"));
  }
  if (bytes === 0) return "0";
  for (const [unit, factor] of PG_UNITS) {
    if (bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return `${bytes}B`;
}
