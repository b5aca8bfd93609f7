/**
 * What the stack asks of MinIO for backups, as data (pure): the bucket name rules MinIO enforces,
 * the IAM policy of pgBackRest's own MinIO user (only its repository path in its bucket), and the
 * bucket's lifecycle rule, which only ever expires noncurrent versions so that it never removes a
 * file pgBackRest still counts on (pgBackRest's own retention decides what current files go).
 */
import { invalid } from "./messages";

/** MinIO's default region: passed to every client so it never asks for a bucket's location. */
export const MINIO_REGION = "us-east-1";

export const BUCKET_NAME_ALLOWED =
  "3 to 63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit, no '..', '.-' or '-.', not an IP address, not starting with 'xn--' or 'sthree-', not ending with '-s3alias' or '--ol-s3'";

/**
 * S3 bucket naming rules (what MinIO and AWS refuse): 3-63 characters of a-z 0-9 . -, starting and
 * ending alphanumeric, no `..` (nor a label starting or ending with '-'), not an IPv4 address, and
 * not the prefixes and suffixes S3 reserves. `setting` names the setting in the message. Pure.
 */
export function bucketNameProblems(name: unknown, setting = "bucket"): string[] {
  const ok =
    typeof name === "string" &&
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) &&
    !/\.\.|\.-|-\./.test(name) &&
    !/^\d{1,3}(\.\d{1,3}){3}$/.test(name) &&
    !/^(xn--|sthree-)/.test(name) &&
    !/(-s3alias|--ol-s3)$/.test(name);
  return ok ? [] : [invalid(setting, name, BUCKET_NAME_ALLOWED)];
}

/** pgBackRest's MinIO user (its access key: a name, not a secret; the secret key is generated). */
export const PGBACKREST_MINIO_USER = "kryonix-pgbackrest";
/** The policy attached to it. */
export const PGBACKREST_MINIO_POLICY = "kryonix-pgbackrest";
/** The restore drill's MinIO user and policy: the same repository, read only (restore and verify write nothing there). */
export const DRILL_MINIO_USER = "kryonix-drill";
export const DRILL_MINIO_POLICY = "kryonix-drill";

/**
 * The IAM policy (JSON text, stable key order so it never shows as a change) that lets pgBackRest
 * work on `<bucket>/<prefix>/` and nothing else: list that prefix, read, write and delete objects
 * under it, abort its own multipart uploads. No bucket creation or deletion, no versioning or
 * lifecycle change, no other bucket, no admin API. With `readOnly` (the restore drill's user):
 * list and read only. Pure.
 */
export function pgbackrestPolicy(bucket: string, repoPath: string, readOnly = false): string {
  const problems = bucketNameProblems(bucket, "pgbackrestPolicy bucket");
  const prefix = repoPath.replace(/^\/+|\/+$/g, "");
  if (!/^[a-zA-Z0-9._-]+(\/[a-zA-Z0-9._-]+)*$/.test(prefix)) problems.push(invalid("pgbackrestPolicy repoPath", repoPath, "a path such as /pgbackrest"));
  if (problems.length) throw new Error(problems.join("; "));
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Action: ["s3:ListBucket"],
        Resource: [`arn:aws:s3:::${bucket}`],
        Condition: { StringLike: { "s3:prefix": [prefix, `${prefix}/*`] } },
      },
      {
        Effect: "Allow",
        Action: readOnly ? ["s3:GetObject"] : ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        Resource: [`arn:aws:s3:::${bucket}/${prefix}/*`],
      },
    ],
  });
}

/** The lifecycle rule's ID in the bucket. */
export const NONCURRENT_RULE_ID = "kryonix-expire-noncurrent";
/**
 * How long a version that is no longer current (a file pgBackRest deleted when it expired a backup,
 * or overwrote, like backup.info) is kept before MinIO removes it: a window to undo a mistaken
 * delete, without keeping every old version for ever.
 */
export const NONCURRENT_VERSION_DAYS = 7;

/** One rule, as the `minio` client reads and writes it. */
export interface LifecycleRule {
  ID: string;
  Status?: string;
  Filter?: { Prefix?: string };
  Prefix?: string;
  Expiration?: unknown;
  Transition?: unknown;
  NoncurrentVersionExpiration?: { NoncurrentDays: number | string; NewerNoncurrentVersions?: number };
  NoncurrentVersionTransition?: unknown;
  AbortIncompleteMultipartUpload?: unknown;
}

/** The bucket's whole lifecycle configuration: one rule, noncurrent versions only, whole bucket. Pure. */
export function noncurrentLifecycle(days: number): { Rule: LifecycleRule[] } {
  if (!Number.isInteger(days) || days < 1 || days > 3650) throw new Error(invalid("noncurrent version days", days, "an integer from 1 to 3650"));
  return { Rule: [{ ID: NONCURRENT_RULE_ID, Status: "Enabled", Filter: { Prefix: "" }, NoncurrentVersionExpiration: { NoncurrentDays: days } }] };
}

/**
 * The days after which the bucket's lifecycle expires noncurrent versions, when that is all it
 * does (exactly our rule: enabled, no expiration of current objects, no transition); 0 otherwise
 * (no configuration, another rule, or a rule that also touches current versions). Pure.
 */
export function noncurrentOnlyDays(config: { Rule?: LifecycleRule[] | LifecycleRule } | null | undefined): number {
  const rules = config?.Rule === undefined ? [] : Array.isArray(config.Rule) ? config.Rule : [config.Rule];
  if (rules.length !== 1) return 0;
  const [rule] = rules;
  const touchesCurrent = rule.Expiration !== undefined || rule.Transition !== undefined || rule.NoncurrentVersionTransition !== undefined;
  const days = Number(rule.NoncurrentVersionExpiration?.NoncurrentDays);
  const prefix = rule.Filter?.Prefix ?? rule.Prefix ?? "";
  if (rule.ID !== NONCURRENT_RULE_ID || rule.Status !== "Enabled" || touchesCurrent || prefix !== "" || !Number.isInteger(days) || days < 1) return 0;
  return days;
}
