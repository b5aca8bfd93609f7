/**
 * The rules of the kryonix policy pack (policy/index.ts), as pure functions, so that they are
 * unit-tested here and the pack itself is only the @pulumi/policy wiring.
 *
 * The analyzer protocol gives a policy the new inputs of a resource, never the old state nor the
 * planned step, so "would this replace or delete the data volume" is answered from a plan that
 * scripts/preview.ts and scripts/up.ts write first (`pulumi preview --json`, checks/preview-summary.ts)
 * and hand to the pack in KRYONIX_POLICY_PLAN.
 */
import * as pulumiRuntime from "@pulumi/pulumi/runtime";

export const POLICY_PACK_NAME = "kryonix";

/** The rules, by the names the CLI prints and the allow mechanisms take. */
export const RULES = {
  statefulKept: "stateful-resources-kept",
  loopbackPorts: "ports-on-loopback",
  noPrivileged: "no-privileged-or-host-network",
  secretsSecret: "secrets-stay-secret",
} as const;
export type RuleName = (typeof RULES)[keyof typeof RULES];
export const RULE_NAMES: RuleName[] = Object.values(RULES);

/** What each rule asks for: the pack's policy descriptions, which also head each violation's message. */
export const DESCRIPTIONS: Record<RuleName, string> = {
  [RULES.statefulKept]: "A protected stack keeps its data volumes, database and PostgreSQL container: no replacement, no deletion.",
  [RULES.loopbackPorts]: "Every published container port binds 127.0.0.1 only.",
  [RULES.noPrivileged]: "No container runs privileged or with the host's network, PID or IPC namespace.",
  [RULES.secretsSecret]: "Passwords, keys and secret files are Pulumi secrets.",
};

/** The environment variable that allows resources for one run: `rule=name[,rule=name...]`. */
export const ALLOW_ENV = "KRYONIX_POLICY_ALLOW";
/** The environment variable that points the pack at the plan written before the run. */
export const PLAN_ENV = "KRYONIX_POLICY_PLAN";
/**
 * PLAN_ENV's value when the script that runs the preview checks stateful-resources-kept itself, on
 * the steps of that same preview (one preview instead of a plan and then a preview with the pack):
 * the pack then runs every other rule and leaves this one to the script (ops/guarded-run.ts).
 */
export const PLAN_CHECKED_BY_CALLER = "checked-by-caller";

/** What scripts/preview.ts and up.ts hand to the pack: the steps a preview without the pack planned. */
export interface PolicyPlan {
  stack: string;
  /** True when a resource of the stack is protected in the current state (prod: kryonix:protectData). */
  protectedStack: boolean;
  steps: { urn: string; op: string }[];
}

/** Steps that lose what a resource holds: the old resource goes away. */
export const DESTRUCTIVE_OPS = new Set(["replace", "create-replacement", "delete-replaced", "delete", "discard", "discard-replaced", "read-replacement", "import-replacement"]);

/** `urn:pulumi:stack::project::parent$type::name` → type chain and name. Pure. */
export function parseUrn(urn: string): { stack: string; types: string[]; type: string; name: string } {
  const parts = urn.split("::");
  const stack = (parts[0] ?? "").replace(/^urn:pulumi:/, "");
  const types = (parts[2] ?? "").split("$");
  return { stack, types, type: types[types.length - 1] ?? "", name: parts.slice(3).join("::") };
}

/**
 * The resources whose replacement or deletion loses data: every Docker volume, the PostgreSQL
 * container (its replacement restarts the server: sessions and in-flight work are lost), and the
 * database itself. Pure.
 */
export function isStateful(urn: string): boolean {
  const { types, type } = parseUrn(urn);
  if (type === "docker:index/volume:Volume") return true;
  if (type === "postgresql:index/database:Database") return true;
  return type === "docker:index/container:Container" && types.includes("kryonix:db:Postgres");
}

/** Parses KRYONIX_POLICY_ALLOW: `rule=name,rule=name` (a rule of RULE_NAMES, a resource name or URN). Pure. */
export function parseAllowEnv(value: string | undefined): { allow: Record<string, string[]>; problems: string[] } {
  const allow: Record<string, string[]> = {};
  const problems: string[] = [];
  for (const item of (value ?? "").split(",").map((s) => s.trim()).filter(Boolean)) {
    const eq = item.indexOf("=");
    const rule = eq > 0 ? item.slice(0, eq) : "";
    const target = eq > 0 ? item.slice(eq + 1).trim() : "";
    if (!RULE_NAMES.includes(rule as RuleName) || !target) {
      problems.push(`${ALLOW_ENV}: "${item}" is not rule=resource (rules: ${RULE_NAMES.join(", ")})`);
      continue;
    }
    (allow[rule] ??= []).push(target);
  }
  return { allow, problems };
}

/**
 * Whether `allowed` (from the pack's config file or KRYONIX_POLICY_ALLOW) names this resource: its
 * URN, its URN name (e.g. `postgres-data`) or its Docker name (e.g. `kryonix-prod-proxy`). Pure.
 */
export function isAllowed(allowed: readonly string[] | undefined, urn: string, dockerName?: string): boolean {
  if (!allowed?.length) return false;
  const { name } = parseUrn(urn);
  return allowed.some((a) => a === urn || a === name || (dockerName !== undefined && a === dockerName));
}

const howToAllow = (rule: RuleName, name: string, stack: string) =>
  `to do it on purpose, allow it for one run with ${ALLOW_ENV}=${rule}=${name}, or for the stack in policy/allow.${stack}.json ({"${rule}": {"allow": ["${name}"]}})`;

/** Violations of stateful-resources-kept for a plan: stateful resources the run would replace or delete in a protected stack. Pure. */
export function statefulViolations(plan: PolicyPlan, allowed: readonly string[] = []): { urn: string; message: string }[] {
  if (!plan.protectedStack) return [];
  const seen = new Set<string>();
  const out: { urn: string; message: string }[] = [];
  for (const s of plan.steps) {
    if (!DESTRUCTIVE_OPS.has(s.op) || !isStateful(s.urn) || seen.has(s.urn) || isAllowed(allowed, s.urn)) continue;
    seen.add(s.urn);
    const { name, type } = parseUrn(s.urn);
    const what = s.op === "delete" || s.op === "discard" ? "delete" : "replace";
    out.push({
      urn: s.urn,
      message:
        `this run would ${what} ${name} (${type}) in the protected stack ${plan.stack}: its data (or the running server) would be lost. ` +
        `Find what changed (npm run preview -- --stack ${plan.stack} --diff), undo it, or take a backup first (npm run backup -- --stack ${plan.stack}); ` +
        howToAllow(RULES.statefulKept, name, plan.stack),
    });
  }
  return out;
}

export type EnforcementLevel = "mandatory" | "advisory" | "disabled";

/**
 * A rule's settings in a policy-pack config file (policy/allow.<stack>.json, Pulumi's format:
 * `{"rule": "disabled"}`, `{"rule": {"enforcementLevel": "advisory", "allow": [...]}}`, `{"all": "..."}`),
 * as the CLI applies them to the pack: the rule's own level over `all`'s over the pack's mandatory. Pure.
 */
export function ruleConfig(config: unknown, rule: RuleName): { level: EnforcementLevel; allow: string[] } {
  const c = (config ?? {}) as Record<string, unknown>;
  const levelOf = (v: unknown): EnforcementLevel | undefined => {
    const l = typeof v === "string" ? v : (v as { enforcementLevel?: unknown } | undefined)?.enforcementLevel;
    return l === "mandatory" || l === "advisory" || l === "disabled" ? l : undefined;
  };
  const own = c[rule];
  const allow = own && typeof own === "object" && Array.isArray((own as { allow?: unknown }).allow) ? ((own as { allow: unknown[] }).allow.filter((a) => typeof a === "string") as string[]) : [];
  return { level: levelOf(own) ?? levelOf(c.all) ?? "mandatory", allow };
}

interface PortMapping {
  internal?: number;
  external?: number;
  ip?: string;
}

/** Violations of ports-on-loopback for a docker container's inputs: a published port bound beyond 127.0.0.1. Pure. */
export function portViolations(urn: string, props: { name?: string; ports?: PortMapping[] }, stack: string): string[] {
  return (props.ports ?? [])
    .filter((p) => (p.ip ?? "0.0.0.0") !== "127.0.0.1")
    .map(
      (p) =>
        `${props.name ?? parseUrn(urn).name} publishes port ${p.external ?? p.internal} on ${p.ip ?? "0.0.0.0 (every address)"}: ` +
        `publish on 127.0.0.1 only (model/containers.ts LOOPBACK); ` +
        howToAllow(RULES.loopbackPorts, props.name ?? parseUrn(urn).name, stack),
    );
}

/** Violations of no-privileged-or-host-network for a docker container's inputs. Pure. */
export function privilegeViolations(urn: string, props: { name?: string; privileged?: boolean; networkMode?: string; pidMode?: string; ipcMode?: string }, stack: string): string[] {
  const name = props.name ?? parseUrn(urn).name;
  const out: string[] = [];
  if (props.privileged === true) out.push(`${name} runs privileged: give it only the capabilities it needs (capabilities.adds)`);
  if (props.networkMode === "host") out.push(`${name} uses the host network: put it on the stack network and publish its ports on 127.0.0.1`);
  if (props.pidMode === "host") out.push(`${name} shares the host's PID namespace`);
  if (props.ipcMode === "host") out.push(`${name} shares the host's IPC namespace`);
  return out.map((m) => `${m}; ${howToAllow(RULES.noPrivileged, name, stack)}`);
}

/** Pulumi's wire markers: the key that tags a special value, a secret's tag, and a value not known until the update. */
const SIG_KEY = pulumiRuntime.specialSigKey;
const SECRET_SIG = pulumiRuntime.specialSecretSig;
export const UNKNOWN = pulumiRuntime.unknownValue;

export type Path = (string | number)[];

/**
 * Every leaf of a resource's raw (wire) properties, with whether it sits inside a secret. The
 * analyzer unwraps secrets before a policy sees them, so the pack reads the raw properties. Pure.
 */
export function leaves(raw: unknown, path: Path = [], secret = false): { path: Path; value: unknown; secret: boolean }[] {
  if (Array.isArray(raw)) return raw.flatMap((v, i) => leaves(v, [...path, i], secret));
  if (raw && typeof raw === "object") {
    const o = raw as Record<string, unknown>;
    if (o[SIG_KEY] === SECRET_SIG) return leaves(o.value, path, true);
    if (typeof o[SIG_KEY] === "string") return [{ path, value: o, secret }];
    return Object.entries(o).flatMap(([k, v]) => leaves(v, [...path, k], secret));
  }
  return [{ path, value: raw, secret }];
}

/** Property names that carry a secret. */
const SECRET_KEY = /(password|passphrase|secret|private_?key|privatekeypem|token|credential)/i;
/** Files (container uploads) whose content is a secret. */
const SECRET_FILE = /(password|passphrase|secret|\.key$|pgpass|credential|token)/i;
/** `NAME=value` environment entries whose name says secret. */
const SECRET_ENV = /^[A-Z0-9_]*(PASSWORD|PASSPHRASE|SECRET|TOKEN|PRIVATE_KEY)[A-Z0-9_]*=(.+)$/i;
/**
 * Names that look secret-bearing but hold a setting, not a secret (a length, a file path, a flag,
 * PostgreSQL's password_encryption: the hashing method, as in Patroni's dynamic configuration).
 */
const NOT_A_SECRET = /(length|_?file$|path$|count$|special$|upper$|lower$|numeric$|min|override|keepers|algorithm|rsaBits|ecdsaCurve|^password_encryption$)/i;

/**
 * Violations of secrets-stay-secret for one resource's raw inputs: a non-empty string under a
 * secret-bearing name, a container upload of a secret file, or a secret-looking environment entry,
 * that is not a Pulumi secret. Pure.
 */
export function secretViolations(type: string, raw: unknown): string[] {
  const all = leaves(raw);
  const out: string[] = [];
  for (const l of all) {
    if (l.secret || typeof l.value !== "string" || l.value === "" || l.value === UNKNOWN) continue;
    const keys = l.path.filter((p): p is string => typeof p === "string");
    const key = keys[keys.length - 1] ?? "";
    const where = l.path.join(".");
    if (type === "docker:index/container:Container" && l.path[0] === "uploads" && key === "content") {
      const file = all.find((f) => f.path.length === 3 && f.path[0] === "uploads" && f.path[1] === l.path[1] && f.path[2] === "file")?.value;
      if (typeof file === "string" && SECRET_FILE.test(file)) out.push(`${where} (the file ${file}) is not a secret`);
      continue;
    }
    if (type === "docker:index/container:Container" && l.path[0] === "envs") {
      if (SECRET_ENV.test(l.value)) out.push(`${where} (environment ${l.value.split("=")[0]}) holds a secret in clear: upload it as a file, a Pulumi secret`);
      continue;
    }
    if (SECRET_KEY.test(key) && !NOT_A_SECRET.test(key)) out.push(`${where} is not a secret`);
  }
  return out;
}

/** The message of a secrets-stay-secret violation. Pure. */
export function secretMessage(urn: string, problems: string[], stack: string): string {
  const { name } = parseUrn(urn);
  return `${name}: ${problems.join("; ")}: wrap the value in pulumi.secret() (or take it from @pulumi/random / a config secret); ${howToAllow(RULES.secretsSecret, name, stack)}`;
}
