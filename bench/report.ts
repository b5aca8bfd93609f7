/**
 * `npm run bench`: the pure parts. Result rows, ratios against the issue's targets, the table,
 * and the SVG chart of the ratios (drawn here, no charting library).
 */
export interface BenchRun {
  /** e.g. "select-only 50 clients". */
  workload: string;
  /** e.g. "direct", "pgbouncer", "tuned", "defaults". */
  variant: string;
  tps: number | null;
  /** Transactions processed, failed, and error lines (a refused connection, an aborted client). */
  processed: number | null;
  failed: number | null;
  errors: string[];
  seconds: number;
}

export interface Comparison {
  name: string;
  /** The run measured against the baseline, e.g. PgBouncer against direct. */
  subject: string;
  baseline: string;
  ratio: number | null;
  /** The target ratio (subject / baseline at least this), when the issue sets one. */
  target?: number;
  note?: string;
}

export function ratio(subject: number | null, baseline: number | null): number | null {
  if (subject === null || baseline === null || !(baseline > 0) || !Number.isFinite(subject)) return null;
  return subject / baseline;
}

export function meets(c: Comparison): boolean | null {
  if (c.target === undefined || c.ratio === null) return null;
  return c.ratio >= c.target;
}

/** The table `npm run bench` prints and BENCHMARKS.md shows. Pure. */
export function renderRunsTable(runs: readonly BenchRun[]): string {
  const lines = ["| workload | variant | tps | transactions | failed | errors |", "|---|---|---:|---:|---:|---|"];
  for (const r of runs) {
    const err = r.errors.length ? `${r.errors.length}: ${r.errors[0].replace(/\|/g, "/").slice(0, 80)}` : "0";
    lines.push(`| ${r.workload} | ${r.variant} | ${r.tps === null ? "—" : r.tps.toFixed(0)} | ${r.processed ?? "—"} | ${r.failed ?? "—"} | ${err} |`);
  }
  return lines.join("\n");
}

export function renderComparisonsTable(comparisons: readonly Comparison[]): string {
  const lines = ["| comparison | ratio | target | met |", "|---|---:|---:|---|"];
  for (const c of comparisons) {
    const m = meets(c);
    lines.push(
      `| ${c.name} (${c.subject} / ${c.baseline}) | ${c.ratio === null ? "—" : `${c.ratio.toFixed(2)}x`} | ${c.target === undefined ? "" : `${c.target}x`} | ${m === null ? (c.note ?? "") : m ? "yes" : `**no**${c.note ? `: ${c.note}` : ""}`} |`,
    );
  }
  return lines.join("\n");
}

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * A horizontal bar chart of the ratios (log scale, 1x in the middle), with each target as a tick
 * and the bar green when it meets it, red when it does not, grey without a target. Pure.
 */
export function renderRatioChart(comparisons: readonly Comparison[], title: string): string {
  // A figure with a target is drawn even when it was not measured, so that no target drops out.
  const rows = comparisons.filter((c) => (c.ratio !== null && c.ratio > 0) || c.target !== undefined);
  // Wide enough for the longest name (about 6.5 px a character at 12 px sans-serif) and the title.
  const labelWidth = Math.max(420, Math.ceil(Math.max(0, ...rows.map((c) => c.name.length)) * 6.5) + 20);
  const barWidth = 420;
  const rowHeight = 26;
  const top = 40;
  const width = Math.max(labelWidth + barWidth + 80, Math.ceil(title.length * 8.5) + 20);
  const height = top + rows.length * rowHeight + 40;
  // log10 from 0.1x to 10x across the bar area.
  const x = (r: number) => labelWidth + ((Math.log10(Math.min(10, Math.max(0.1, r))) + 1) / 2) * barWidth;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${escape(title)}</text>`,
  ];
  for (const tick of [0.1, 0.5, 1, 2, 5, 10]) {
    out.push(`<line x1="${x(tick)}" y1="${top - 6}" x2="${x(tick)}" y2="${height - 30}" stroke="${tick === 1 ? "#333" : "#ddd"}"/>`);
    out.push(`<text x="${x(tick)}" y="${height - 14}" text-anchor="middle" fill="#555">${tick}x</text>`);
  }
  rows.forEach((c, i) => {
    const y = top + i * rowHeight;
    if (c.ratio === null || !(c.ratio > 0)) {
      out.push(`<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escape(`${c.name}`)}</text>`);
      out.push(`<text x="${x(1) + 4}" y="${y + 15}" fill="#c0392b">${escape(`not measured${c.note ? `: ${c.note.slice(0, 60)}` : ""}`)}</text>`);
      out.push(`<line x1="${x(c.target!)}" y1="${y + 1}" x2="${x(c.target!)}" y2="${y + rowHeight - 3}" stroke="black" stroke-width="2"/>`);
      return;
    }
    const m = meets(c);
    const color = m === null ? "#8a8a8a" : m ? "#2e8b57" : "#c0392b";
    const x0 = x(1);
    const x1 = x(c.ratio!);
    out.push(`<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escape(`${c.name}`)}</text>`);
    out.push(`<rect x="${Math.min(x0, x1)}" y="${y + 4}" width="${Math.max(1, Math.abs(x1 - x0))}" height="${rowHeight - 10}" fill="${color}"/>`);
    out.push(`<text x="${Math.max(x0, x1) + 4}" y="${y + 15}">${c.ratio!.toFixed(2)}x</text>`);
    if (c.target !== undefined) out.push(`<line x1="${x(c.target)}" y1="${y + 1}" x2="${x(c.target)}" y2="${y + rowHeight - 3}" stroke="black" stroke-width="2"/>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

/** The median of some timings (the mean of the middle two for an even count); null for none. Pure. */
export function median(values: readonly number[]): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The steps `npm run up` timed (`[up] step (1.2 s)` lines, scripts/up.ts), in order. Pure. */
export function upStepTimes(output: string): { step: string; seconds: number }[] {
  return [...output.matchAll(/^\[up\] (.+) \((\d+(?:\.\d+)?) s\)$/gm)].map((m) => ({ step: m[1], seconds: Number(m[2]) }));
}

/**
 * A time budget as a comparison: the budget over the time measured, so 1x or more meets it and the
 * chart draws it with the ratios. Pure.
 */
export function budgetComparison(name: string, seconds: number, budgetSeconds: number, note: string): Comparison {
  return { name, subject: `budget ${budgetSeconds} s`, baseline: "measured", ratio: ratio(budgetSeconds, seconds), target: 1, note: `${seconds.toFixed(1)} s; ${note}` };
}

/** A comparison as the chart keeps it: with the section of the bench that measured it. */
export type ChartComparison = Comparison & { section?: string };

/**
 * The figures every chart shows, each against its target, whether or not the run measured them:
 * the database layer's performance targets (BENCHMARKS.md). `name` is the comparison's name as the
 * section that measures it pushes it.
 */
export const HEADLINE_FIGURES: readonly { section: string; name: string; subject: string; baseline: string; target: number }[] = [
  { section: "statements", name: "pgaudit to a file (serverLog file) on vs off, TPC-B, medians", subject: "on", baseline: "off", target: 0.9 },
  { section: "pooling", name: "select-only 50 clients, PgBouncer", subject: "pgbouncer", baseline: "direct", target: 0.85 },
  { section: "pooling", name: "TPC-B 50 clients, PgBouncer", subject: "pgbouncer", baseline: "direct", target: 0.85 },
  { section: "backup", name: "pgBackRest full backup vs pg_dump -Fc, events data set", subject: "pg_dump time", baseline: "pgBackRest time", target: 2 },
  { section: "backup", name: "pgBackRest restore vs pg_restore, events data set", subject: "pg_restore time", baseline: "pgBackRest time", target: 2 },
  { section: "statements", name: "pg_stat_statements on vs off, select-only, medians", subject: "on", baseline: "off", target: 0.97 },
];

/**
 * The chart's rows after a run: the sections this run measured replace their previous rows,
 * sections it skipped keep the previous run's, and the headline figures come first, each against
 * its target ("not measured" when no run has measured it yet). Pure.
 */
export function chartRows(previous: readonly ChartComparison[], current: readonly ChartComparison[]): ChartComparison[] {
  const ran = new Set(current.map((c) => c.section));
  const rows = [...previous.filter((c) => !ran.has(c.section)), ...current];
  const byName = new Map(rows.map((c) => [c.name, c]));
  const headlines = HEADLINE_FIGURES.map(
    (h): ChartComparison => ({ ...(byName.get(h.name) ?? { name: h.name, subject: h.subject, baseline: h.baseline, ratio: null, note: "not measured yet", section: h.section }), target: h.target }),
  );
  const names = new Set(HEADLINE_FIGURES.map((h) => h.name));
  return [...headlines, ...rows.filter((c) => !names.has(c.name))];
}
