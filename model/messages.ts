// Shared wording for validation problems, so every module reports a bad
// setting the same way: which setting, which value, and what would be accepted.

/** Renders a user-supplied value for an error message, quoted and bounded. */
export function showValue(value: unknown): string {
  let text: string;
  if (value === undefined) {
    text = "undefined";
  } else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      // Cyclic objects and BigInts cannot be JSON-encoded; a rough rendering
      // is still better than losing the whole report.
      text = String(value);
    }
  }
  // A pasted blob should not bury the other problems in the report.
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** One problem line: `<setting>: <value> is invalid: <allowed>`. */
export function invalid(setting: string, value: unknown, allowed: string): string {
  return `${setting}: ${showValue(value)} is invalid: ${allowed}`;
}

/**
 * An Error carrying every problem found, one per line, so an operator fixes a
 * stack file in one pass instead of one `pulumi up` per mistake.
 */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(header: string, problems: readonly string[]) {
    super([header, ...problems].join("\n"));
    this.name = "ConfigError";
    this.problems = [...problems];
  }
}
