import * as pulumi from "@pulumi/pulumi";
import { invalid } from "../model/messages";
import { MINIO_REGION, bucketNameProblems, noncurrentLifecycle, noncurrentOnlyDays, type LifecycleRule } from "../model/minio-policy";
import { knownFailures } from "../model/unknown";

/**
 * An S3 bucket in the stack's MinIO, with versioning, made through the
 * dynamic-provider plugin with the MinIO JS client (`minio`) over TLS,
 * trusting only the stack's CA.
 *
 * Delete never takes data with it: an empty bucket is removed, a bucket that
 * still holds an object (or an object version, or a delete marker) is left
 * where it is and the refusal is logged. The resource leaves the state either
 * way, so `pulumi destroy` completes and the backups stay on the volume.
 */

/** The backup bucket (the seed's name); the same in every stack. */
export const BACKUP_BUCKET = "kryonix-backups";

export interface MinioBucketInputs {
  /** `https://127.0.0.1:<published api port>`. */
  endpoint: string;
  /** The CA the server certificate chains to (PEM): the only one trusted. */
  caCertificatePem: string;
  /** Root credentials, secrets in the inputs and the outputs. */
  accessKey: string;
  secretKey: string;
  bucket: string;
  versioning: boolean;
  /**
   * When set, the bucket's lifecycle is exactly one rule that expires versions this many days after
   * they stopped being current, and never touches a current one (model/minio-policy.ts).
   */
  noncurrentVersionDays?: number;
}

export interface MinioBucketOutputs extends MinioBucketInputs {
  /** The bucket's versioning status as last read: "Enabled", "Suspended" or "" (never set). */
  versioningStatus: string;
  /** As last read: the days of the noncurrent-only lifecycle rule, 0 when the bucket has no such rule (or more). */
  noncurrentDays?: number;
}

/** The part of the MinIO client the provider uses (injected by tests). */
export interface BucketClient {
  bucketExists(bucket: string): Promise<boolean>;
  makeBucket(bucket: string, region?: string): Promise<void>;
  getBucketVersioning(bucket: string): Promise<{ Status?: string } | undefined | null>;
  setBucketVersioning(bucket: string, config: { Status: "Enabled" | "Suspended" }): Promise<void>;
  listObjectsQuery(
    bucket: string,
    prefix: string,
    marker: string,
    opts: { Delimiter: string; MaxKeys: number; IncludeVersion: boolean },
  ): Promise<{ objects: unknown[] }>;
  removeBucket(bucket: string): Promise<void>;
  getBucketLifecycle(bucket: string): Promise<{ Rule?: LifecycleRule[] | LifecycleRule } | null>;
  setBucketLifecycle(bucket: string, config: { Rule: LifecycleRule[] }): Promise<void>;
}

export type BucketConnect = (inputs: MinioBucketInputs) => BucketClient;

export const MINIO_CLIENT_MISSING =
  "the MinIO client package `minio` is not installed: add it to package.json (npm install -E minio), then run the command again";

export { bucketNameProblems };

/** The problems with the inputs, as check failures; never shows a credential. A value not known yet is not judged. Pure. */
export function minioBucketInputProblems(inputs: Partial<MinioBucketInputs>): { property: string; reason: string }[] {
  const failures: { property: string; reason: string }[] = [];
  const report = (f: { property: string; reason: string }) => failures.push(f);
  let url: URL | undefined;
  try {
    url = new URL(String(inputs.endpoint));
  } catch {
    url = undefined;
  }
  if (!url || url.protocol !== "https:" || !url.hostname || url.pathname !== "/" || url.search || url.username || url.password) {
    report({ property: "endpoint", reason: invalid("MinioBucket endpoint", inputs.endpoint, "an https://host:port URL without a path") });
  }
  if (typeof inputs.caCertificatePem !== "string" || !inputs.caCertificatePem.includes("-----BEGIN CERTIFICATE-----")) {
    report({ property: "caCertificatePem", reason: "MinioBucket caCertificatePem: a PEM certificate is required" });
  }
  for (const key of ["accessKey", "secretKey"] as const) {
    if (typeof inputs[key] !== "string" || inputs[key] === "") report({ property: key, reason: `MinioBucket ${key}: required` });
  }
  for (const reason of bucketNameProblems(inputs.bucket, "MinioBucket bucket")) report({ property: "bucket", reason });
  const days = inputs.noncurrentVersionDays;
  if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 3650)) {
    report({ property: "noncurrentVersionDays", reason: invalid("MinioBucket noncurrentVersionDays", days, "an integer from 1 to 3650") });
  }
  if (typeof inputs.versioning !== "boolean") {
    report({ property: "versioning", reason: invalid("MinioBucket versioning", inputs.versioning, "true or false") });
  }
  return knownFailures(inputs, failures);
}

/**
 * A MinIO client for `inputs.endpoint` that trusts only `inputs.caCertificatePem`.
 * `minio` and `https` are required here, when the provider first needs them
 * (the provider's code is serialized and runs in the dynamic-provider plugin).
 */
export function connectMinio(inputs: MinioBucketInputs): BucketClient {
  let minio: { Client: new (options: object) => BucketClient };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    minio = require("minio");
  } catch {
    throw new Error(MINIO_CLIENT_MISSING);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const https: typeof import("node:https") = require("node:https");
  const url = new URL(inputs.endpoint);
  return new minio.Client({
    endPoint: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port ? Number(url.port) : 443,
    useSSL: true,
    accessKey: inputs.accessKey,
    secretKey: inputs.secretKey,
    region: MINIO_REGION,
    pathStyle: true,
    // `ca` replaces Node's default trust store: only the stack's CA is trusted.
    transportAgent: new https.Agent({ ca: inputs.caCertificatePem, keepAlive: false }),
  });
}

/** Where the provider's messages go: the plugin's stderr, which the Pulumi CLI shows. */
export type Log = (message: string) => void;

/**
 * The dynamic provider; `connect` defaults to the MinIO client, `log` to stderr.
 * create: makeBucket if missing, then versioning as asked. read: bucketExists
 * and getBucketVersioning (a missing bucket reads as gone, so a refresh drops
 * it and the next up makes it again). diff: a new name replaces, anything else
 * (endpoint, CA, keys, versioning drift) updates in place.
 */
export function makeMinioBucketProvider(connect: BucketConnect = connectMinio, log: Log = (m) => console.warn(m)): pulumi.dynamic.ResourceProvider {
  /** An Error whose message names the operation and holds no credential. */
  function failure(inputs: MinioBucketInputs, what: string, err: unknown): Error {
    const e = err as { code?: string; message?: string };
    let message = `${e?.code ? `${e.code}: ` : ""}${e?.message ?? String(err)}`;
    for (const secret of [inputs.accessKey, inputs.secretKey]) {
      if (typeof secret === "string" && secret.length > 0) message = message.split(secret).join("[secret]");
    }
    return new Error(`MinIO bucket ${inputs.bucket} at ${inputs.endpoint}: ${what} failed: ${message}`);
  }

  async function step<T>(inputs: MinioBucketInputs, what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw failure(inputs, what, err);
    }
  }

  async function versioningStatus(client: BucketClient, inputs: MinioBucketInputs): Promise<string> {
    const config = await step(inputs, "getBucketVersioning", () => client.getBucketVersioning(inputs.bucket));
    return typeof config?.Status === "string" ? config.Status : "";
  }

  /** The noncurrent-only rule's days as the bucket has it now; 0 without a lifecycle configuration. */
  async function lifecycleDays(client: BucketClient, inputs: MinioBucketInputs): Promise<number> {
    try {
      return noncurrentOnlyDays(await client.getBucketLifecycle(inputs.bucket));
    } catch (err) {
      if ((err as { code?: string })?.code === "NoSuchLifecycleConfiguration") return 0;
      throw failure(inputs, "getBucketLifecycle", err);
    }
  }

  /** Makes the bucket if missing and sets versioning as asked; idempotent. */
  async function ensure(inputs: MinioBucketInputs): Promise<MinioBucketOutputs> {
    const client = connect(inputs);
    if (!(await step(inputs, "bucketExists", () => client.bucketExists(inputs.bucket)))) {
      await step(inputs, "makeBucket", () => client.makeBucket(inputs.bucket, MINIO_REGION));
    }
    const current = await versioningStatus(client, inputs);
    if (inputs.versioning && current !== "Enabled") {
      await step(inputs, "setBucketVersioning Enabled", () => client.setBucketVersioning(inputs.bucket, { Status: "Enabled" }));
    } else if (!inputs.versioning && current === "Enabled") {
      // A bucket cannot go back to unversioned: Suspended keeps the existing versions.
      await step(inputs, "setBucketVersioning Suspended", () => client.setBucketVersioning(inputs.bucket, { Status: "Suspended" }));
    }
    const days = inputs.noncurrentVersionDays;
    if (days !== undefined && (await lifecycleDays(client, inputs)) !== days) {
      await step(inputs, "setBucketLifecycle", () => client.setBucketLifecycle(inputs.bucket, noncurrentLifecycle(days)));
    }
    return {
      ...inputs,
      versioningStatus: await versioningStatus(client, inputs),
      ...(days !== undefined ? { noncurrentDays: await lifecycleDays(client, inputs) } : {}),
    };
  }

  return {
    async check(_olds: MinioBucketInputs, news: MinioBucketInputs) {
      return { inputs: news, failures: minioBucketInputProblems(news) };
    },
    async diff(_id: string, olds: MinioBucketOutputs, news: MinioBucketInputs) {
      const replaces = olds.bucket !== news.bucket ? ["bucket"] : [];
      const changed: string[] = (["endpoint", "caCertificatePem", "accessKey", "secretKey", "versioning"] as const).filter((k) => olds[k] !== news[k]);
      // Drift a refresh found: versioning switched off (or never on) behind our back.
      const drift = news.versioning ? olds.versioningStatus !== "Enabled" : olds.versioningStatus === "Enabled";
      if (drift) changed.push("versioning");
      // A lifecycle rule changed or removed behind our back (or one that also touches current versions).
      if (news.noncurrentVersionDays !== undefined && olds.noncurrentDays !== news.noncurrentVersionDays) changed.push("noncurrentVersionDays");
      return { changes: replaces.length + changed.length > 0, replaces, deleteBeforeReplace: false };
    },
    async create(inputs: MinioBucketInputs) {
      const outs = await ensure(inputs);
      return { id: inputs.bucket, outs };
    },
    async update(_id: string, _olds: MinioBucketOutputs, news: MinioBucketInputs) {
      return { outs: await ensure(news) };
    },
    async read(id: string, props: MinioBucketOutputs) {
      const client = connect(props);
      if (!(await step(props, "bucketExists", () => client.bucketExists(props.bucket)))) {
        // Gone: an empty id tells the engine, so a refresh removes it from the state.
        return { id: "", props: {} };
      }
      const days = props.noncurrentVersionDays !== undefined ? { noncurrentDays: await lifecycleDays(client, props) } : {};
      return { id, props: { ...props, versioningStatus: await versioningStatus(client, props), ...days } };
    },
    async delete(_id: string, props: MinioBucketOutputs) {
      const client = connect(props);
      if (!(await step(props, "bucketExists", () => client.bucketExists(props.bucket)))) return;
      // Versions and delete markers count: a versioned bucket whose objects were "deleted" still holds them.
      const { objects } = await step(props, "list object versions", () =>
        client.listObjectsQuery(props.bucket, "", "", { Delimiter: "", MaxKeys: 1, IncludeVersion: true }),
      );
      const kept = `MinIO bucket ${props.bucket} at ${props.endpoint} is not empty: left in place (backups must outlive a destroy); it is no longer managed by this stack`;
      if (objects.length > 0) {
        log(kept);
        return;
      }
      try {
        await client.removeBucket(props.bucket);
      } catch (err) {
        // An object written between the listing and the removal.
        if ((err as { code?: string })?.code === "BucketNotEmpty") {
          log(kept);
          return;
        }
        throw failure(props, "removeBucket", err);
      }
    },
  };
}

const minioBucketProvider = makeMinioBucketProvider();

export type MinioBucketArgs = { [K in keyof MinioBucketInputs]: pulumi.Input<MinioBucketInputs[K]> };

/** See makeMinioBucketProvider. The credentials are secrets in the inputs and in the state. */
export class MinioBucket extends pulumi.dynamic.Resource {
  declare public readonly bucket: pulumi.Output<string>;
  declare public readonly versioningStatus: pulumi.Output<string>;
  declare public readonly noncurrentDays: pulumi.Output<number | undefined>;

  constructor(name: string, args: MinioBucketArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      minioBucketProvider,
      name,
      { ...args, accessKey: pulumi.secret(args.accessKey), secretKey: pulumi.secret(args.secretKey), versioningStatus: undefined, noncurrentDays: undefined },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "accessKey", "secretKey"] },
      "kryonix",
      "MinioBucket",
    );
  }
}
