/**
 * Previews and updates with the policy pack (policy/). A policy cannot see the planned steps
 * (checks/policy.ts), so stateful-resources-kept is checked on them from outside the pack:
 *  - a guarded preview (scripts/preview.ts, and the plan of scripts/up.ts) is one `pulumi preview`
 *    with the pack, which runs every other rule, while this script checks stateful-resources-kept on
 *    that preview's own steps (KRYONIX_POLICY_PLAN=checked-by-caller);
 *  - `pulumi up` (scripts/up.ts) gets the pack and those steps as its plan, in a file named by
 *    KRYONIX_POLICY_PLAN, so the pack stops it before any change.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PLAN_CHECKED_BY_CALLER, PLAN_ENV, ALLOW_ENV, RULES, parseAllowEnv, ruleConfig, statefulViolations } from "../checks/policy";
import { nothingToDo, parsePreviewEvents, policyPlan, withStatefulVerdict, type PreviewReport } from "../checks/preview-summary";
import { stackCli } from "./stack-run";
import { repoRoot } from "../toolchain/versions";

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

export interface GuardedPreview {
  /** 0 when the preview and every policy passed. */
  code: number;
  report: PreviewReport;
  stderr: string;
  /** Nothing to apply: every step `same`, no drift read back, the same stack outputs (checks/preview-summary.ts nothingToDo). */
  nothingToDo: boolean;
}

/**
 * stateful-resources-kept's level and allow list for this run, as the pack would take them: the
 * stack's policy/allow.<stack>.json, plus KRYONIX_POLICY_ALLOW (whose mistakes the pack reports).
 */
function statefulSettings(stack: string) {
  const file = allowFile(stack);
  const { level, allow } = ruleConfig(existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {}, RULES.statefulKept);
  return { level, allow: [...allow, ...(parseAllowEnv(process.env[ALLOW_ENV]).allow[RULES.statefulKept] ?? [])] };
}

/**
 * One `pulumi preview --json` (streaming events) with the policy pack: the pack runs every rule but
 * stateful-resources-kept, which is checked here on this preview's own steps. `showSecrets` lets
 * nothingToDo compare secret stack outputs by value; the events stay in memory, never printed.
 */
export function guardedPreview(stack: string, args: string[], opts: { showSecrets?: boolean } = {}): GuardedPreview {
  const cli = stackCli(stack, { ...process.env, [PLAN_ENV]: PLAN_CHECKED_BY_CALLER, PULUMI_ENABLE_STREAMING_JSON_PREVIEW: "1" });
  const r = cli.capture(["preview", "--json", "--non-interactive", "--stack", stack, ...(opts.showSecrets ? ["--show-secrets"] : []), ...args, ...policyArgs(stack)]);
  const parsed = parsePreviewEvents(stack, r.stdout);
  const { level, allow } = statefulSettings(stack);
  const report = withStatefulVerdict(parsed, statefulViolations(policyPlan(parsed), allow), level);
  const code = r.code !== 0 ? r.code : report.result === "failed" ? 1 : 0;
  return { code, report, stderr: r.stderr, nothingToDo: code === 0 && nothingToDo(r.stdout) };
}

/** The plan for the pack in `pulumi up`: the steps of a guarded preview, in a temporary file named by KRYONIX_POLICY_PLAN. */
export function writePlan(report: PreviewReport): { env: NodeJS.ProcessEnv; dispose(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "kryonix-plan-"));
  const file = path.join(dir, "plan.json");
  writeFileSync(file, JSON.stringify(policyPlan(report)));
  return { env: { [PLAN_ENV]: file }, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
