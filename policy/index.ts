/**
 * The kryonix policy pack, run by every `npm run preview` and `npm run up` (--policy-pack policy).
 * The rules are pure functions in checks/policy.ts; this file wires them to @pulumi/policy.
 */
import { PolicyPack, type ResourceValidationArgs, type ReportViolation } from "@pulumi/policy";
import { readFileSync } from "node:fs";
import {
  ALLOW_ENV,
  DESCRIPTIONS,
  PLAN_CHECKED_BY_CALLER,
  PLAN_ENV,
  POLICY_PACK_NAME,
  RULES,
  isAllowed,
  parseAllowEnv,
  parseUrn,
  portViolations,
  privilegeViolations,
  secretMessage,
  secretViolations,
  statefulViolations,
  type PolicyPlan,
} from "../checks/policy";

// The analyzer unwraps secrets before a policy sees the properties; the raw ones (secrets still
// marked) are kept here as they are deserialized, synchronously just before each validation runs:
// the resource's properties, then (when it has one) its provider's.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const deserialize = require("@pulumi/policy/deserialize");
const raws: unknown[] = [];
const original = deserialize.deserializeProperties;
deserialize.deserializeProperties = (struct: { toJavaScript(): unknown }, proxySecrets: boolean) => {
  raws.push(struct?.toJavaScript?.());
  if (raws.length > 4) raws.shift();
  return original(struct, proxySecrets);
};
const rawProps = (args: ResourceValidationArgs): unknown => raws[raws.length - (args.provider ? 2 : 1)];

const fromEnv = parseAllowEnv(process.env[ALLOW_ENV]);
const allowSchema = { allow: { type: "array" as const, items: { type: "string" as const }, default: [] as string[] } };
const allowed = (args: ResourceValidationArgs, rule: string): string[] => [...(args.getConfig<{ allow?: string[] }>().allow ?? []), ...(fromEnv.allow[rule] ?? [])];

function readPlan(): PolicyPlan | typeof PLAN_CHECKED_BY_CALLER | undefined {
  const file = process.env[PLAN_ENV];
  if (!file) return undefined;
  if (file === PLAN_CHECKED_BY_CALLER) return PLAN_CHECKED_BY_CALLER;
  return JSON.parse(readFileSync(file, "utf8")) as PolicyPlan;
}

const CONTAINER = "docker:index/container:Container";

new PolicyPack(POLICY_PACK_NAME, {
  enforcementLevel: "mandatory",
  policies: [
    {
      name: RULES.statefulKept,
      description: DESCRIPTIONS[RULES.statefulKept],
      configSchema: { properties: allowSchema },
      // Checked once, when the stack resource registers (first), against the plan written before the
      // run; or, in a preview whose own steps the calling script checks (ops/guarded-run.ts), there.
      validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
        if (args.type !== "pulumi:pulumi:Stack") return;
        for (const p of fromEnv.problems) report(p);
        const plan = readPlan();
        if (plan === PLAN_CHECKED_BY_CALLER) return;
        if (!plan) {
          report(`no plan in ${PLAN_ENV}: run through \`npm run preview\` or \`npm run up\`, which plan first, so this rule can see replacements and deletions`);
          return;
        }
        for (const v of statefulViolations(plan, allowed(args, RULES.statefulKept))) report(v.message, v.urn);
      },
    },
    {
      name: RULES.loopbackPorts,
      description: DESCRIPTIONS[RULES.loopbackPorts],
      configSchema: { properties: allowSchema },
      validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
        if (args.type !== CONTAINER || isAllowed(allowed(args, RULES.loopbackPorts), args.urn, args.props.name)) return;
        for (const m of portViolations(args.urn, args.props, parseUrn(args.urn).stack)) report(m);
      },
    },
    {
      name: RULES.noPrivileged,
      description: DESCRIPTIONS[RULES.noPrivileged],
      configSchema: { properties: allowSchema },
      validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
        if (args.type !== CONTAINER || isAllowed(allowed(args, RULES.noPrivileged), args.urn, args.props.name)) return;
        for (const m of privilegeViolations(args.urn, args.props, parseUrn(args.urn).stack)) report(m);
      },
    },
    {
      name: RULES.secretsSecret,
      description: DESCRIPTIONS[RULES.secretsSecret],
      configSchema: { properties: allowSchema },
      validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
        const raw = rawProps(args);
        if (isAllowed(allowed(args, RULES.secretsSecret), args.urn, typeof args.props?.name === "string" ? args.props.name : undefined)) return;
        const problems = secretViolations(args.type, raw);
        if (problems.length) report(secretMessage(args.urn, problems, parseUrn(args.urn).stack));
      },
    },
  ],
});
