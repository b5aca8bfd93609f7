/**
 * The stack's job schedules (backups, the partitions job, the restore drill): cron expressions,
 * parsed and checked here so that a schedule that cannot run fails `pulumi preview` naming its key,
 * never a crontab line that cron or pg_cron silently skips. Pure.
 *
 * Accepted: the five classic fields "minute hour day-of-month month day-of-week" (numbers, `*`,
 * ranges `a-b`, steps `/n`, lists `a,b`), or one of @hourly @daily @weekly @monthly. This is the
 * subset that Debian's cron and pg_cron read alike, so one parser serves both. Times are UTC: the
 * containers run in UTC and pg_cron's cron.timezone defaults to GMT.
 */

export const SCHEDULE_ALLOWED =
  'a cron schedule in UTC: five fields "minute hour day-of-month month day-of-week" made of numbers, *, ranges a-b, steps /n and lists a,b (e.g. "0 1 * * *" for 01:00 every day), or @hourly, @daily, @weekly, @monthly';

/** "off": the job is not scheduled (only where a key allows it). */
export const SCHEDULE_OFF = "off";

const MACROS: Readonly<Record<string, string>> = {
  "@hourly": "0 * * * *",
  "@daily": "0 0 * * *",
  "@weekly": "0 0 * * 0",
  "@monthly": "0 0 1 * *",
};

const FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  // 0 and 7 are both Sunday, as in cron.
  { name: "day-of-week", min: 0, max: 7 },
] as const;

/** The set of values one field matches; throws a message naming the field. */
function parseField(text: string, field: (typeof FIELDS)[number]): number[] {
  const values = new Set<number>();
  const num = (s: string): number => {
    if (!/^\d{1,2}$/.test(s)) throw new Error(`${field.name} "${text}": "${s}" is not a number`);
    const n = Number(s);
    if (n < field.min || n > field.max) throw new Error(`${field.name} "${text}": ${n} is outside ${field.min}-${field.max}`);
    return n;
  };
  for (const part of text.split(",")) {
    const m = /^([^/]+)(?:\/(\d{1,2}))?$/.exec(part);
    if (!m) throw new Error(`${field.name} "${text}": "${part}" is not *, a number, a range a-b or a step /n`);
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (step < 1 || step > field.max) throw new Error(`${field.name} "${text}": step ${m[2]} is outside 1-${field.max}`);
    let lo: number;
    let hi: number;
    if (m[1] === "*") {
      [lo, hi] = [field.min, field.max];
    } else if (m[1].includes("-")) {
      const [a, b, ...rest] = m[1].split("-");
      if (rest.length) throw new Error(`${field.name} "${text}": "${m[1]}" is not a range a-b`);
      [lo, hi] = [num(a), num(b)];
      if (lo > hi) throw new Error(`${field.name} "${text}": range ${lo}-${hi} runs backwards`);
    } else {
      lo = num(m[1]);
      // "5/15" is cron's "from 5 to the end, every 15".
      hi = m[2] === undefined ? lo : field.max;
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

export interface CronSchedule {
  /** As configured, trimmed (a macro stays a macro). */
  text: string;
  /** The five fields, a macro expanded. */
  fields: string;
  minutes: number[];
  hours: number[];
  daysOfMonth: number[];
  months: number[];
  /** 0-6, Sunday = 0 (7 folded into 0). */
  daysOfWeek: number[];
}

/** Parses a schedule; throws an Error whose message says what is wrong (without the key). Pure. */
export function parseSchedule(raw: unknown): CronSchedule {
  if (typeof raw !== "string") throw new Error("not a string");
  const text = raw.trim().replace(/\s+/g, " ");
  const fields = MACROS[text.toLowerCase()] ?? text;
  if (fields.startsWith("@")) throw new Error(`unknown macro ${text}`);
  const parts = fields.split(" ");
  if (parts.length !== 5) throw new Error(`${parts.length} field(s), not 5`);
  const [minutes, hours, daysOfMonth, months, dow] = parts.map((p, i) => parseField(p, FIELDS[i]));
  // Day 30 of February only: a schedule that never fires.
  const maxDay = Math.max(...months.map((m) => [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]));
  if (parts[2] !== "*" && parts[4] === "*" && Math.min(...daysOfMonth) > maxDay) throw new Error(`day-of-month ${parts[2]} never occurs in month ${parts[3]}`);
  return { text, fields, minutes, hours, daysOfMonth, months, daysOfWeek: [...new Set(dow.map((d) => d % 7))].sort((a, b) => a - b) };
}

/** The schedule's problem for a config key, or undefined; "off" allowed when `offAllowed`. Pure. */
export function scheduleProblem(raw: unknown, offAllowed: boolean): string | undefined {
  if (offAllowed && typeof raw === "string" && raw.trim().toLowerCase() === SCHEDULE_OFF) return undefined;
  try {
    parseSchedule(raw);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
