import { describe, expect, it } from "vitest";
import { HEADLINE_FIGURES, budgetComparison, chartRows, median, meets, ratio, renderComparisonsTable, renderRatioChart, renderRunsTable, upStepTimes } from "../../bench/report";
import { backupComparisons, summarizeBackupBench } from "../../bench/backup-report";

describe("bench helpers", () => {
  it("ratio and target", () => {
    expect(ratio(85, 100)).toBeCloseTo(0.85);
    expect(ratio(null, 100)).toBeNull();
    expect(ratio(10, 0)).toBeNull();
    expect(meets({ name: "a", subject: "p", baseline: "d", ratio: 0.84, target: 0.85 })).toBe(false);
    expect(meets({ name: "a", subject: "p", baseline: "d", ratio: 0.9, target: 0.85 })).toBe(true);
    expect(meets({ name: "a", subject: "p", baseline: "d", ratio: 0.9 })).toBeNull();
  });
  it("tables", () => {
    const runs = renderRunsTable([{ workload: "select-only 50 clients", variant: "direct", tps: 9201.4, processed: 100, failed: 0, errors: [], seconds: 15 }]);
    expect(runs).toContain("| select-only 50 clients | direct | 9201 | 100 | 0 | 0 |");
    const cmp = renderComparisonsTable([{ name: "x", subject: "pgbouncer", baseline: "direct", ratio: 0.72, target: 0.85 }]);
    expect(cmp).toContain("| x (pgbouncer / direct) | 0.72x | 0.85x | **no** |");
  });
  it("chart: one bar per ratio, red when a target is missed, escaped labels", () => {
    const svg = renderRatioChart(
      [
        { name: "a <b>", subject: "p", baseline: "d", ratio: 0.72, target: 0.85 },
        { name: "c", subject: "p", baseline: "d", ratio: 6, target: 5 },
        { name: "no data", subject: "p", baseline: "d", ratio: null },
      ],
      "t",
    );
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("a &lt;b&gt;");
    expect(svg).toContain('fill="#c0392b"');
    expect(svg).toContain('fill="#2e8b57"');
    expect(svg).not.toContain("no data");
  });
  it("chart: the label column grows with the longest name, so no label is cut off", () => {
    const width = (svg: string) => Number(/<svg [^>]*width="(\d+)"/.exec(svg)![1]);
    const short = renderRatioChart([{ name: "a", subject: "p", baseline: "d", ratio: 1 }], "t");
    const long = renderRatioChart([{ name: "x".repeat(100), subject: "p", baseline: "d", ratio: 1 }], "t");
    expect(width(short)).toBe(920);
    expect(width(long)).toBeGreaterThan(100 * 6.5 + 420);
    const label = /<text x="(\d+)" y="\d+" text-anchor="end">x{100}</.exec(long)!;
    expect(Number(label[1])).toBeGreaterThanOrEqual(100 * 6.5);
  });

  it("the stack's own speed: median, the steps up timed, a time budget as a ratio", () => {
    expect(median([])).toBeNull();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    const out = "[toolchain] x\n[up] toolchain (1.2 s)\n[up] the server is running: ...\n[up] plan: preview with the policy pack (7.9 s)\n[up] done in 10.4 s\n";
    expect(upStepTimes(out)).toEqual([
      { step: "toolchain", seconds: 1.2 },
      { step: "plan: preview with the policy pack", seconds: 7.9 },
    ]);
    const met = budgetComparison("no-op up", 10, 20, "median of 3");
    expect(met.ratio).toBe(2);
    expect(meets(met)).toBe(true);
    expect(meets(budgetComparison("preview", 12.5, 10, "median of 3"))).toBe(false);
    expect(renderComparisonsTable([met])).toContain("| no-op up (budget 20 s / measured) | 2.00x | 1x | yes |");
  });

  it("chart: every headline figure against its target, measured or not; skipped sections keep their last ratios", () => {
    const previous = [
      { section: "pooling", name: "select-only 50 clients, PgBouncer", subject: "pgbouncer", baseline: "direct", ratio: 0.63, target: 0.85 },
      { section: "tuning", name: "select-only, tuned vs defaults", subject: "tuned", baseline: "defaults", ratio: 1.18, target: 1 },
    ];
    const current = [
      { section: "pooling", name: "TPC-B 50 clients, PgBouncer", subject: "pgbouncer", baseline: "direct", ratio: 0.9, target: 0.85 },
      { section: "pooling", name: "select-only 10 clients, PgBouncer", subject: "pgbouncer", baseline: "direct", ratio: 0.8 },
    ];
    const rows = chartRows(previous, current);
    expect(rows.slice(0, HEADLINE_FIGURES.length).map((r) => [r.name, r.target])).toEqual(HEADLINE_FIGURES.map((h) => [h.name, h.target]));
    // This run's pooling section replaced the previous one: its select-only 50 is not measured now.
    expect(rows.find((r) => r.name === "select-only 50 clients, PgBouncer")).toMatchObject({ ratio: null, note: "not measured yet" });
    expect(rows.find((r) => r.name === "TPC-B 50 clients, PgBouncer")?.ratio).toBe(0.9);
    expect(rows.slice(HEADLINE_FIGURES.length).map((r) => r.name)).toEqual(["select-only, tuned vs defaults", "select-only 10 clients, PgBouncer"]);
    const svg = renderRatioChart(rows, "t");
    for (const h of HEADLINE_FIGURES) expect(svg).toContain(h.name.replace(/&/g, "&amp;"));
    expect(svg).toContain("not measured: not measured yet");
  });

  it("backup ratios for the chart: the events data set against 2x, others without a target", () => {
    const measures = (backupSeconds: number, dumpSeconds: number, restoreSeconds: number, pgRestoreSeconds: number) =>
      summarizeBackupBench({
        databaseBytes: 1.2e9, clusterBytes: 1.5e9, archiveTimeoutSeconds: 60, archiveLagSeconds: 61,
        pgbackrest: { backupSeconds, repositoryBytes: 5e8, restoreSeconds },
        pgDump: { dumpSeconds, dumpBytes: 4e8, restoreSeconds: pgRestoreSeconds },
      });
    const rows = backupComparisons([
      { name: "events", ...measures(10, 40, 12, 27) },
      { name: "pgbench", ...measures(5, 4, 7, 10) },
    ]);
    expect(rows.map((r) => [r.name, r.ratio, r.target])).toEqual([
      ["pgBackRest full backup vs pg_dump -Fc, events data set", 4, 2],
      ["pgBackRest restore vs pg_restore, events data set", 2.25, 2],
      ["pgBackRest full backup vs pg_dump -Fc, pgbench data set", 0.8, undefined],
      ["pgBackRest restore vs pg_restore, pgbench data set", 10 / 7, undefined],
    ]);
    expect(HEADLINE_FIGURES.filter((h) => h.section === "backup").map((h) => h.name)).toEqual(rows.slice(0, 2).map((r) => r.name));
    expect(rows.every((r) => r.section === "backup")).toBe(true);
  });
});
