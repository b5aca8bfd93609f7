/**
 * The import rules of this repository (`npm run lint:arch`). Floors, top to bottom:
 *   index.ts -> components/ -> providers/ -> io/ -> model/, render/, checks/ (pure)
 *   scripts/, bench/ -> ops/ -> io/, toolchain/ -> pure
 * Imports only run downhill; the pure folders import nothing of ours but each other and do no I/O.
 */
const PURE = "^(model|render|checks)/";
const OURS = "^(index\\.ts|components|providers|io|ops|toolchain|scripts|bench|policy|model|render|checks)(/|$)";

/** `from` may import nothing of ours but the folders in `allowed` (a regex of folder names). */
const onlyFrom = (name, from, allowed, comment) => ({
  name,
  comment,
  severity: "error",
  from: { path: `^${from}/` },
  to: { path: OURS, pathNot: `^(${allowed})/` },
});

module.exports = {
  forbidden: [
    { name: "no-circular", comment: "no circle anywhere, type-only imports included", severity: "error", from: {}, to: { circular: true } },
    { name: "nothing-imports-index", comment: "index.ts is the composition root: nothing imports it", severity: "error", from: {}, to: { path: "^index\\.ts$" } },
    onlyFrom("model-is-the-bottom", "model", "model", "the model imports only the model"),
    onlyFrom("render-reads-the-model", "render", "model|render", "renderers import the model and each other"),
    onlyFrom("checks-are-pure", "checks", "model|render|checks", "checks judge facts they are handed: pure modules only"),
    {
      name: "pure-does-no-io",
      comment: "model/, render/ and checks/ do no I/O: no fs, process, network or database client",
      severity: "error",
      from: { path: PURE },
      to: { dependencyTypes: ["core", "npm"], path: "^(fs|fs/promises|node:fs|node:fs/promises|child_process|node:child_process|net|node:net|http|node:http|https|node:https|dgram|node:dgram|worker_threads|node:worker_threads|pg|minio)$" },
    },
    {
      name: "pure-no-resource-code",
      comment: "pure modules may name Pulumi's types, never create resources",
      severity: "error",
      from: { path: PURE },
      to: { path: "^@pulumi/(docker|postgresql|random|tls)", dependencyTypesNot: ["type-only"] },
    },
    onlyFrom("io-reaches-down", "io", "io|model|render|checks", "io/ is the plumbing: it imports only the pure folders"),
    onlyFrom("toolchain-reaches-down", "toolchain", "toolchain|io|model|render|checks", "the toolchain never reads resource code or the operations"),
    onlyFrom("providers-stay-below-components", "providers", "providers|io|model|render|checks", "dynamic providers never import components, operations, scripts or bench"),
    onlyFrom("components-are-resource-code", "components", "components|providers|io|toolchain|model|render|checks", "components never import operations, scripts or bench"),
    onlyFrom("ops-stay-below-scripts", "ops", "ops|io|toolchain|model|render|checks", "operations never import resource code, scripts or bench"),
    onlyFrom("scripts-call-operations", "scripts", "scripts|ops|io|toolchain|model|render|checks", "scripts never import resource code or bench"),
    onlyFrom("bench-calls-operations", "bench", "bench|ops|io|toolchain|model|render|checks", "benchmarks never import resource code or scripts"),
    onlyFrom("policy-is-pure", "policy", "checks|model", "the policy pack runs the pure rules"),
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|test/smoke/fixtures)" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"], extensions: [".ts", ".js", ".json"] },
    reporterOptions: { dot: { collapsePattern: "^(node_modules/(@[^/]+/)?[^/]+|[^/]+/)" } },
  },
};
