import * as pulumi from "@pulumi/pulumi";
import { SECRET_CONFIG_KEYS } from "../model/config";

/**
 * The stack's kryonix:* settings as validateStackConfig expects them: every
 * key of the namespace, known or not (so a typo is reported, not ignored),
 * with values as Pulumi stores them (strings; objects as JSON). A value set
 * with `pulumi config set --secret` is replaced by `{secure: ...}`, so
 * validation reports the key as a secret without ever echoing the value; the keys that are
 * meant to be secrets (SECRET_CONFIG_KEYS: the proxy's certificate and key) carry their value
 * too, as `{secure, value}`.
 * Pure: the config map and the secret test are passed in.
 */
export function kryonixConfigValues(all: Readonly<Record<string, string>>, isSecret: (key: string) => boolean): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(all)) {
    if (!key.startsWith("kryonix:")) continue;
    const meant = (SECRET_CONFIG_KEYS as readonly string[]).includes(key.slice("kryonix:".length));
    values[key] = isSecret(key) ? (meant ? { secure: "[secret]", value } : { secure: "[secret]" }) : value;
  }
  return values;
}

/** kryonixConfigValues over the running program's configuration. */
export function readKryonixConfig(): Record<string, unknown> {
  // isConfigSecret is exported by the runtime but missing from its typings.
  const runtime = pulumi.runtime as typeof pulumi.runtime & { isConfigSecret?: (key: string) => boolean };
  return kryonixConfigValues(pulumi.runtime.allConfig(), (key) => runtime.isConfigSecret?.(key) ?? false);
}
