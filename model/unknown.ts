/**
 * Values a dynamic provider's check is handed before they are known: during a preview, an input
 * computed from a resource still to be created or changed (a CA, a renewed certificate) arrives as
 * this placeholder. It is @pulumi/pulumi's runtime.unknownValue, spelled out because a provider's
 * code is serialized with what it reaches and must not load the SDK for it.
 */
export const UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Whether a provider input is not known yet (a preview). Pure. */
export function isUnknown(value: unknown): boolean {
  return value === UNKNOWN_VALUE;
}

/** The failures a check may report: none for a property whose value is not known yet, it is judged at the up. Pure. */
export function knownFailures<F extends { property: string }>(inputs: object, failures: readonly F[]): F[] {
  const values = inputs as Record<string, unknown>;
  return failures.filter((f) => !isUnknown(values[f.property]));
}
