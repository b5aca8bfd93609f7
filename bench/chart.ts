/**
 * bench/results/chart.json and ratios.svg: the latest ratio of every comparison any bench measured
 * (npm run bench's sections and npm run bench:backup), redrawn after each run, the headline figures
 * first against their targets (report.ts chartRows).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { type ChartComparison, chartRows, renderRatioChart } from "./report";
import { repoRoot } from "../toolchain/versions";

export const RESULTS_DIR = path.join(repoRoot, "bench", "results");

/** Merges this run's comparisons into chart.json and redraws ratios.svg; returns the rows drawn. */
export function updateChart(current: readonly ChartComparison[], started: Date): ChartComparison[] {
  mkdirSync(RESULTS_DIR, { recursive: true });
  let previous: ChartComparison[] = [];
  try {
    previous = (JSON.parse(readFileSync(path.join(RESULTS_DIR, "chart.json"), "utf8")) as { comparisons: ChartComparison[] }).comparisons;
  } catch {
    previous = [];
  }
  const rows = chartRows(previous, current);
  writeFileSync(path.join(RESULTS_DIR, "chart.json"), `${JSON.stringify({ comparisons: rows }, null, 2)}\n`);
  writeFileSync(path.join(RESULTS_DIR, "ratios.svg"), renderRatioChart(rows, `kryonix-db bench ${started.toISOString().slice(0, 16)}Z: ratios (log scale; tick = target)`));
  return rows;
}
