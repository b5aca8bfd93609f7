/**
 * `npm run preview`'s reviewer summary, read from the CLI's streaming JSON events
 * (`PULUMI_ENABLE_STREAMING_JSON_PREVIEW=1 pulumi preview --json`): the resources to create, update,
 * replace and delete, stateful replacements and deletions first, and the policies that passed or
 * failed. Also the plan the policy pack reads (checks/policy.ts). Pure.
 */
import { canonicalJson } from "../model/canonical-json";
import { DESCRIPTIONS, POLICY_PACK_NAME, RULES, isStateful, parseUrn, type EnforcementLevel, type PolicyPlan } from "./policy";

export interface PreviewStep {
  op: string;
  urn: string;
  type: string;
  name: string;
  stateful: boolean;
  /** Properties that differ (top-level names). */
  diffs: string[];
  /** Properties whose change forces the replacement. */
  replaceKeys: string[];
  protect: boolean;
}

export interface PolicyResult {
  pack: string;
  version: string;
  passed: string[];
  failed: { policy: string; level: string; urn?: string; message: string }[];
}

export interface PreviewReport {
  stack: string;
  steps: PreviewStep[];
  counts: Record<string, number>;
  policies: PolicyResult[];
  errors: string[];
  /** What the program itself said (pulumi.log.info on no resource), e.g. which roles a kept cluster gets imported and which created. */
  notes: string[];
  result: "succeeded" | "failed" | "unknown";
}

/** The buckets of the summary, in the order a reviewer reads them. */
export const KINDS = ["replace", "delete", "create", "update"] as const;
export type Kind = (typeof KINDS)[number];

/** The kind of a step, or undefined for steps that change nothing (same, read, refresh). Pure. */
export function kindOf(op: string): Kind | undefined {
  if (op === "replace" || op === "create-replacement" || op === "delete-replaced" || op === "discard-replaced" || op === "import-replacement") return "replace";
  if (op === "delete" || op === "discard") return "delete";
  if (op === "create" || op === "import") return "create";
  if (op === "update") return "update";
  return undefined;
}

interface StepMetadata {
  op: string;
  urn: string;
  type: string;
  old?: { protect?: boolean } | null;
  new?: { protect?: boolean } | null;
  diffs?: string[];
  keys?: string[];
  detailedDiff?: Record<string, { kind: string }> | null;
}

/** The streaming JSON events: one JSON object per line; anything else ignored. Pure. */
function events(text: string): Record<string, any>[] {
  const out: Record<string, any>[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // a line of another kind that happens to start with a brace
    }
  }
  return out;
}

/** Parses the streaming JSON events into the report. Pure. */
export function parsePreviewEvents(stack: string, text: string): PreviewReport {
  const byUrn = new Map<string, PreviewStep>();
  const policies = new Map<string, PolicyResult>();
  const failedBy = new Map<string, Set<string>>();
  const errors: string[] = [];
  const notes: string[] = [];
  let counts: Record<string, number> = {};
  let result: PreviewReport["result"] = "unknown";
  const pack = (name: string, version: string) => {
    const key = `${name}@${version}`;
    if (!policies.has(key)) policies.set(key, { pack: name, version, passed: [], failed: [] });
    return policies.get(key)!;
  };
  for (const e of events(text)) {
    if (e.resourcePreEvent) {
      const m = e.resourcePreEvent.metadata as StepMetadata;
      const { name } = parseUrn(m.urn);
      const prev = byUrn.get(m.urn);
      // A replacement shows as several steps (create-replacement, replace, delete-replaced): keep one.
      if (prev && kindOf(prev.op) === "replace") continue;
      // An import whose inputs differ from what it read is updated right after (in an adopting
      // preview always: the provider reads nothing before the server runs): still an import.
      const importThenUpdate = prev?.op === "import" && m.op === "update";
      const detailed = m.detailedDiff ?? {};
      const replaceKeys = Object.entries(detailed)
        .filter(([, d]) => /-replace$/.test(d.kind))
        .map(([k]) => k.split(/[.[]/)[0]);
      byUrn.set(m.urn, {
        op: importThenUpdate ? "import" : m.op,
        urn: m.urn,
        type: m.type,
        name,
        stateful: isStateful(m.urn),
        diffs: [...new Set([...(m.diffs ?? []), ...Object.keys(detailed).map((k) => k.split(/[.[]/)[0])])].sort(),
        replaceKeys: [...new Set(replaceKeys)].sort(),
        protect: Boolean(m.old?.protect || m.new?.protect),
      });
    } else if (e.policyEvent) {
      const p = e.policyEvent;
      const r = pack(p.policyPackName, p.policyPackVersion);
      r.failed.push({ policy: p.policyName, level: p.enforcementLevel, urn: p.resourceUrn || undefined, message: String(p.message ?? "").trim() });
    } else if (e.policyAnalyzeSummaryEvent || e.policyAnalyzeStackSummaryEvent) {
      const s = e.policyAnalyzeSummaryEvent ?? e.policyAnalyzeStackSummaryEvent;
      const key = `${s.policyPackName}@${s.policyPackVersion}`;
      const r = pack(s.policyPackName, s.policyPackVersion);
      for (const n of s.passed ?? []) if (!r.passed.includes(n)) r.passed.push(n);
      const f = failedBy.get(key) ?? new Set<string>();
      for (const n of s.failed ?? []) f.add(n);
      failedBy.set(key, f);
    } else if (e.diagnosticEvent) {
      const d = e.diagnosticEvent;
      if (d.severity === "error") errors.push(`${d.urn ? `${parseUrn(d.urn).name}: ` : ""}${String(d.message ?? "").trim()}`);
      else if (d.severity === "info" && (!d.urn || parseUrn(d.urn).type === "pulumi:pulumi:Stack")) notes.push(String(d.message ?? "").trim());
    } else if (e.summaryEvent) {
      counts = e.summaryEvent.resourceChanges ?? {};
      result = e.summaryEvent.result === "failed" ? "failed" : e.summaryEvent.result === "succeeded" ? "succeeded" : result;
    }
  }
  // A policy passed when it passed on every resource it looked at: any failure anywhere wins.
  for (const [key, r] of policies) {
    const failed = new Set([...(failedBy.get(key) ?? []), ...r.failed.map((f) => f.policy)]);
    r.passed = r.passed.filter((n) => !failed.has(n)).sort();
  }
  if (result === "unknown" && errors.length) result = "failed";
  return { stack, steps: [...byUrn.values()], counts, policies: [...policies.values()], errors: [...new Set(errors)], notes: [...new Set(notes)], result };
}

/** The plan handed to the policy pack (KRYONIX_POLICY_PLAN). Pure. */
export function policyPlan(report: PreviewReport): PolicyPlan {
  return {
    stack: report.stack,
    protectedStack: report.steps.some((s) => s.protect),
    steps: report.steps.filter((s) => kindOf(s.op) !== undefined).map((s) => ({ urn: s.urn, op: s.op })),
  };
}

/**
 * The report with stateful-resources-kept decided by the caller on the preview's own steps
 * (PLAN_CHECKED_BY_CALLER): its violations are recorded as the CLI records the pack's (the rule's
 * description, then the message), the rule leaves the passed list, and a mandatory violation fails
 * the preview. A disabled rule, or a preview in which the pack did not run, is left as it is. Pure.
 */
export function withStatefulVerdict(report: PreviewReport, violations: { urn: string; message: string }[], level: EnforcementLevel): PreviewReport {
  const rule = RULES.statefulKept;
  if (level === "disabled" || !violations.length) return report;
  const pack = report.policies.find((p) => p.pack === POLICY_PACK_NAME);
  if (!pack) return report;
  const failed = violations.map((v) => ({ policy: rule, level, urn: v.urn, message: `${DESCRIPTIONS[rule]}\n${v.message}` }));
  return {
    ...report,
    policies: report.policies.map((p) => (p === pack ? { ...p, passed: p.passed.filter((n) => n !== rule), failed: [...p.failed, ...failed] } : p)),
    result: level === "mandatory" ? "failed" : report.result,
  };
}

/** Keys of a detailed diff that are the engine's bookkeeping, not a property. */
const internalKey = (k: string) => k.startsWith("__");

/**
 * Whether a preview's streaming events show nothing to do: it succeeded, every step is `same`, and
 * (with --refresh) every resource read back without a difference its provider reports: no drift
 * `npm run drift` would see (it reads the same diff, checks/drift.ts refreshFindings), nothing gone.
 * The stack's outputs must be the same too: an output added or changed by new code is written only
 * by an update. A secret output's value is masked in the events; index.ts's programDigest output
 * (toolchain/program-digest.ts) changes with the code and settings, and so stands in for it. Pure.
 */
export function nothingToDo(text: string): boolean {
  let steps = 0;
  let succeeded = false;
  for (const e of events(text)) {
    const m = (e.resourcePreEvent ?? e.resOutputsEvent)?.metadata as (StepMetadata & { new?: { outputs?: unknown } | null; old?: { outputs?: unknown } | null }) | undefined;
    if (m) {
      steps++;
      if (m.op === "refresh") {
        const keys = [...(m.diffs ?? []), ...Object.keys(m.detailedDiff ?? {})].filter((k) => !internalKey(k));
        if (keys.length || (e.resOutputsEvent && m.old && !m.new)) return false;
      } else if (m.op !== "same") return false;
      if (e.resOutputsEvent && m.type === "pulumi:pulumi:Stack" && canonicalJson(m.old?.outputs ?? {}) !== canonicalJson(m.new?.outputs ?? {})) return false;
    } else if (e.diagnosticEvent?.severity === "error") return false;
    else if (e.summaryEvent) succeeded = e.summaryEvent.result === "succeeded" && Object.keys(e.summaryEvent.resourceChanges ?? {}).every((k) => k === "same");
  }
  return succeeded && steps > 0;
}

/** The steps of each kind, stateful ones first within a kind. Pure. */
export function grouped(report: PreviewReport): Record<Kind, PreviewStep[]> {
  const out = Object.fromEntries(KINDS.map((k) => [k, [] as PreviewStep[]])) as Record<Kind, PreviewStep[]>;
  for (const s of report.steps) {
    const k = kindOf(s.op);
    if (k) out[k].push(s);
  }
  for (const k of KINDS) out[k].sort((a, b) => Number(b.stateful) - Number(a.stateful) || a.urn.localeCompare(b.urn));
  return out;
}

/** Markdown folds a kind's list longer than this. */
const FOLD_AFTER = 15;

const label = (s: PreviewStep) => `${s.name} (${s.type})`;
// An import (a kept cluster's role or database, components/database.ts) is listed with the creates,
// marked: the reviewer sees which objects are taken over as they are and which are made new.
const detail = (s: PreviewStep) =>
  (s.op === "import" ? " — imported: it exists already" : "") +
  (s.replaceKeys.length ? ` — replaced because of: ${s.replaceKeys.join(", ")}` : s.diffs.length ? ` — changes: ${s.diffs.join(", ")}` : "");

/** The summary as plain text (terminal) or GitHub markdown (a pull-request comment). Pure. */
export function renderSummary(report: PreviewReport, format: "text" | "markdown"): string {
  const g = grouped(report);
  const md = format === "markdown";
  const lines: string[] = [];
  const h = (t: string) => lines.push(md ? `### ${t}` : `== ${t}`);
  const item = (t: string) => lines.push(md ? `- ${t}` : `  ${t}`);
  const code = (t: string) => (md ? `\`${t}\`` : t);
  lines.push(md ? `## Pulumi preview: stack \`${report.stack}\`` : `Preview of stack ${report.stack}`);
  const n = (k: Kind) => g[k].length;
  const imports = g.create.filter((s) => s.op === "import").length;
  lines.push(
    `${n("create")} to create${imports ? ` (${imports} of them imported)` : ""}, ${n("update")} to update, ${n("replace")} to replace, ${n("delete")} to delete; preview ${report.result}.`,
  );
  const risky = [...g.replace, ...g.delete].filter((s) => s.stateful);
  lines.push("");
  h("Stateful resources replaced or deleted (data or a running server at stake)");
  if (!risky.length) item("none");
  for (const s of risky) item(`${md ? "**" : ""}${kindOf(s.op)!.toUpperCase()}${md ? "**" : ""} ${code(label(s))}${detail(s)}${s.protect ? " (protected)" : ""}`);
  for (const k of KINDS) {
    lines.push("");
    h(`${k[0].toUpperCase()}${k.slice(1)} (${n(k)})`);
    if (!n(k)) item("none");
    // A long list (a new stack creates about a hundred resources) folds away in a comment.
    const fold = md && n(k) > FOLD_AFTER;
    if (fold) lines.push("<details><summary>the list</summary>", "");
    for (const s of g[k]) item(`${code(label(s))}${detail(s)}${s.stateful ? " [stateful]" : ""}`);
    if (fold) lines.push("", "</details>");
  }
  lines.push("");
  h("Policies");
  if (!report.policies.length) item("no policy pack ran");
  for (const p of report.policies) {
    item(`pack ${code(`${p.pack}@${p.version}`)}: passed ${p.passed.length ? p.passed.map(code).join(", ") : "none"}`);
    for (const f of p.failed) item(`${md ? "**FAILED**" : "FAILED"} ${code(f.policy)} [${f.level}]${f.urn ? ` on ${code(parseUrn(f.urn).name)}` : ""}: ${f.message.split("\n").slice(-1)[0]}`);
  }
  if (report.notes?.length) {
    lines.push("");
    h("Notes from the program");
    for (const note of report.notes) item(note);
  }
  const errors = report.errors.filter((e) => e !== "preview failed");
  if (errors.length) {
    lines.push("");
    h("Errors");
    for (const e of errors) item(e);
  }
  return lines.join("\n") + "\n";
}
