import { isDeepStrictEqual } from "node:util";
import { load } from "js-yaml";

/**
 * Pulumi.<stack>.yaml as committed, kept so. The passphrase secrets provider writes an
 * `encryptionsalt` into the stack file on every command, and rewrites it without its comments.
 * Our passphrase is generated per machine (.secrets/, toolchain/pulumi-env.ts) and the state keeps its
 * own salt, so a committed salt would only lock every other clone out. After each command the
 * salt is taken out again, and when nothing else changed the committed text comes back as it was.
 * A stack whose config holds a `secure:` value keeps its salt: that value cannot be read without it.
 */

const SALT_LINE = /^encryptionsalt:.*(\r?\n|$)/m;

/** The stack file's settings, without its encryptionsalt, with an absent `config` read as empty. Pure. */
export function stackSettings(text: string): Record<string, unknown> {
  const doc = (load(text) ?? {}) as Record<string, unknown>;
  const { encryptionsalt: _salt, ...rest } = doc;
  return { ...rest, config: (rest.config as Record<string, unknown> | null) ?? {} };
}

/** What the stack file should hold after a command: `before` and `after` are its text then and now (undefined: no file). Pure. */
export function settleStackFile(before: string | undefined, after: string | undefined): string | undefined {
  // Removed by the command (`pulumi stack rm`): stays removed.
  if (after === undefined) return undefined;
  if (after.includes("secure:")) return after;
  const cleaned = after.replace(SALT_LINE, "");
  if (before !== undefined && isDeepStrictEqual(stackSettings(cleaned), stackSettings(before))) return before;
  return cleaned.trim() === "" ? "config: {}\n" : cleaned;
}
