import { describe, expect, it } from "vitest";
import { budgetComparison, median, meets, ratio, renderComparisonsTable, renderRatioChart, renderRunsTable, upStepTimes } from "../../bench/report";

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
});
