import * as pulumi from "@pulumi/pulumi";

/**
 * The stack's kryonix:* settings as validateStackConfig expects them: every
 * key of the namespace, known or not (so a typo is reported, not ignored),
 * with values as Pulumi stores them (strings; objects as JSON). A value set
 * with `pulumi config set --secret` is replaced by `{secure: ...}`, so
 * validation reports the key as a secret without ever echoing the value.
 * Pure: the config map and the secret test are passed in.
 */
export function kryonixConfigValues(all: Readonly<Record<string, string>>, isSecret: (key: string) => boolean): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(all)) {
    if (!key.startsWith("kryonix:")) continue;
    values[key] = isSecret(key) ? { secure: "[secret]" } : value;
  }
  return values;
}

/** kryonixConfigValues over the running program's configuration. */
export function readKryonixConfig(): Record<string, unknown> {
  // isConfigSecret is exported by the runtime but missing from its typings.
  const runtime = pulumi.runtime as typeof pulumi.runtime & { isConfigSecret?: (key: string) => boolean };
  return kryonixConfigValues(pulumi.runtime.allConfig(), (key) => runtime.isConfigSecret?.(key) ?? false);
}
