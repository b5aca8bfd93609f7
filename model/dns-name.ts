// RFC 1123 host names: dot-separated labels of letters, digits and '-', at least two labels.
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** True for a DNS name a certificate can carry: two labels or more, each 1-63 of [a-z0-9-] (not at an end), 253 at most, not all-numeric at the end (an IP). Pure. */
export function isDnsName(name: unknown): name is string {
  if (typeof name !== "string" || name.length > 253 || name !== name.toLowerCase()) return false;
  const labels = name.split(".");
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return false;
  return !/^[0-9]+$/.test(labels[labels.length - 1]);
}
