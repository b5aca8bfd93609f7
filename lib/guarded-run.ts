/**
 * Previews and updates with the policy pack (policy/): the plan the pack needs is taken first by a
 * preview without it (lib/policy.ts explains why), then the real run gets `--policy-pack` and the
 * plan in KRYONIX_POLICY_PLAN. Used by scripts/preview.ts and scripts/up.ts.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PLAN_ENV } from "./policy";
import { parsePreviewEvents, policyPlan, type PreviewReport } from "./preview-summary";
import { stackCli } from "./stack-run";
import { repoRoot } from "./versions";

export const POLICY_DIR = path.join(repoRoot, "policy");

/** A stack's allow file: `policy/allow.<stack>.json`, Pulumi's policy-pack config format. */
export const allowFile = (stack: string) => path.join(POLICY_DIR, `allow.${stack}.json`);

/** `--policy-pack policy [--policy-pack-config policy/allow.<stack>.json]`. */
export function policyArgs(stack: string): string[] {
  return ["--policy-pack", POLICY_DIR, ...(existsSync(allowFile(stack)) ? ["--policy-pack-config", allowFile(stack)] : [])];
}

/** Flags of `pulumi up` that change what is planned, with their values: the plan's preview takes them too. Pure. */
export function planningFlags(upArgs: string[]): string[] {
  const withValue = new Set(["--target", "-t", "--replace", "--exclude", "--target-replace", "--parallel", "-p", "--config", "-c", "--config-file"]);
  const flags = new Set(["--target-dependents", "--exclude-dependents", "--refresh", "-r"]);
  const out: string[] = [];
  for (let i = 0; i < upArgs.length; i++) {
    const a = upArgs[i];
    const name = a.split("=")[0];
    if (withValue.has(name)) {
      out.push(a);
      if (!a.includes("=") && i + 1 < upArgs.length) out.push(upArgs[++i]);
    } else if (flags.has(name)) out.push(a);
  }
  return out;
}

/** Runs `pulumi preview --json` with streaming events and parses them. */
export function streamingPreview(stack: string, args: string[], env: NodeJS.ProcessEnv = {}): { code: number; report: PreviewReport; stderr: string } {
  const cli = stackCli(stack, { ...process.env, ...env, PULUMI_ENABLE_STREAMING_JSON_PREVIEW: "1" });
  const r = cli.capture(["preview", "--json", "--non-interactive", "--stack", stack, ...args]);
  return { code: r.code, report: parsePreviewEvents(stack, r.stdout), stderr: r.stderr };
}

export interface Plan {
  /** The environment that hands the plan to the pack. */
  env: NodeJS.ProcessEnv;
  report: PreviewReport;
  dispose(): void;
}

/**
 * The plan for the pack: a preview without the pack. Throws with the preview's errors when it
 * fails (bad configuration, say): nothing would run anyway.
 */
export function planForPolicy(stack: string, args: string[]): Plan {
  const r = streamingPreview(stack, args);
  if (r.code !== 0) {
    const why = [...r.report.errors.filter((e) => e !== "preview failed"), r.stderr.trim()].filter(Boolean).join("\n");
    throw new Error(`the preview of stack ${stack} failed:\n${why}`);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), "kryonix-plan-"));
  const file = path.join(dir, "plan.json");
  writeFileSync(file, JSON.stringify(policyPlan(r.report)));
  return { env: { [PLAN_ENV]: file }, report: r.report, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
