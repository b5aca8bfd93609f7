import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { resourceName } from "../model/config";
import {
  CONFIG_DIR,
  LOOPBACK,
  SECRETS_DIR,
  UPLOAD_MODE,
  healthcheck,
  labels,
  portProblems,
  throwProblems,
  type ServiceContainerArgs,
  serviceContainerArgs,
  serviceArgsProblems,
} from "../model/containers";
import { invalid } from "../model/messages";
import { MiB } from "../model/size";
import { DRILL_MINIO_POLICY, DRILL_MINIO_USER, NONCURRENT_VERSION_DAYS, PGBACKREST_MINIO_POLICY, PGBACKREST_MINIO_USER, bucketNameProblems, pgbackrestPolicy } from "../model/minio-policy";
import { MinioBucket } from "../providers/minio-bucket";
import { MinioUser } from "../providers/minio-user";
import { serverTlsVolume } from "../providers/tls-files";

/** MinIO inside the container (the image's contract). */
export const MINIO_PORT = 9000;
export const MINIO_CONSOLE_PORT = 9001;
export const MINIO_ROOT_USER_FILE = `${SECRETS_DIR}/minio-root-user`;
export const MINIO_ROOT_PASSWORD_FILE = `${SECRETS_DIR}/minio-root-password`;
/**
 * The image's own certificates folder, when its certificate is not in a TLS volume (model/tls.ts
 * TLS_DIR, which the stack mounts): public.crt, private.key and CAs/.
 */
export const MINIO_CERTS_DIR = `${CONFIG_DIR}/minio-certs`;
/** Where the image keeps its data (the volume kryonix-<stack>-minio is mounted here). */
export const MINIO_DATA_DIR = "/data";
/** The image's check: GET /minio/health/live over TLS on https://localhost:9000 (the certificate must name localhost). */
export const MINIO_HEALTHCHECK = "/usr/local/bin/kryonix-minio-healthcheck";

export interface MinioArgs extends ServiceContainerArgs {
  /** S3 API and console, published on 127.0.0.1. */
  apiPort: number;
  consolePort: number;
  /**
   * The server certificate (PEM); its names must include the container name and 127.0.0.1. With
   * its key and the CA, files in a TLS volume of MinIO's own (providers/tls-files.ts), rewritten on
   * renewal, after which MinIO reloads them (SIGHUP): no restart.
   */
  tlsCertificate: pulumi.Input<string>;
  /** The server certificate's private key (PEM), a secret. */
  tlsKey: pulumi.Input<string>;
  /** The CA that signed it (PEM): MinIO trusts it, and clients get it from the outputs. */
  caCertificate: pulumi.Input<string>;
  /** Protect the data volume (backups live here). It is retained on delete either way. */
  protectData: boolean;
  /** Root credentials (Secrets), handed over as files. */
  rootUser: pulumi.Input<string>;
  rootPassword: pulumi.Input<string>;
  /** The backup bucket (kryonix:backupBucket): versioned, noncurrent versions expired after NONCURRENT_VERSION_DAYS. */
  bucket: string;
  /** pgBackRest's own user: its secret key (Secrets) and the repository path in the bucket, all its policy allows. */
  pgbackrest: { secretKey: pulumi.Input<string>; repoPath: string };
  /** The restore drill's user (Secrets): the same path, read only. */
  drill: { secretKey: pulumi.Input<string> };
}

/** Throws one error naming every argument that cannot work. Pure. */
export function checkMinioArgs(args: MinioArgs): void {
  const problems = serviceArgsProblems(args, "minio", "Minio", 128 * MiB);
  problems.push(...portProblems("Minio apiPort", args.apiPort));
  problems.push(...portProblems("Minio consolePort", args.consolePort));
  if (args.apiPort === args.consolePort) problems.push(invalid("Minio consolePort", args.consolePort, "a port other than apiPort"));
  for (const key of ["tlsCertificate", "tlsKey", "caCertificate"] as const) {
    if (args[key] === undefined || args[key] === null || args[key] === "") problems.push(invalid(`Minio ${key}`, args[key], "a PEM"));
  }
  if (typeof args.protectData !== "boolean") problems.push(invalid("Minio protectData", args.protectData, "true or false"));
  problems.push(...bucketNameProblems(args.bucket, "Minio bucket"));
  throwProblems("Minio", problems);
}

/**
 * MinIO over TLS only, published on 127.0.0.1, with generated root
 * credentials handed over as files (so `docker inspect` shows none) and its
 * data on a named volume.
 */
export class Minio extends pulumi.ComponentResource {
  public readonly containerName: string;
  public readonly apiPort: number;
  public readonly consolePort: number;
  public readonly rootUser: pulumi.Output<string>;
  public readonly rootPassword: pulumi.Output<string>;
  public readonly volume: docker.Volume;
  public readonly container: docker.Container;
  /** The backup bucket (args.bucket), versioned, made once the container is healthy. */
  public readonly bucket: MinioBucket;
  public readonly bucketName: pulumi.Output<string>;
  /** pgBackRest's MinIO user: its policy allows only the repository path in the backup bucket. */
  public readonly pgbackrestUser: MinioUser;
  public readonly pgbackrestAccessKey: pulumi.Output<string>;
  public readonly pgbackrestSecretKey: pulumi.Output<string>;
  public readonly drillUser: MinioUser;
  public readonly drillAccessKey: pulumi.Output<string>;
  public readonly drillSecretKey: pulumi.Output<string>;

  constructor(name: string, args: MinioArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kryonix:db:Minio", name, {}, opts);
    checkMinioArgs(args);
    const dockerName = resourceName(args.stack, "minio");
    this.containerName = dockerName;
    this.apiPort = args.apiPort;
    this.consolePort = args.consolePort;

    // The access key is a credential too.
    this.rootUser = pulumi.secret(args.rootUser);
    this.rootPassword = pulumi.secret(args.rootPassword);

    this.volume = new docker.Volume(
      `${name}-data`,
      { name: dockerName, labels: labels(args.stack, "minio") },
      // Retained on delete in every stack (a destroy leaves the data on the engine); protected when asked.
      { parent: this, protect: args.protectData, retainOnDelete: true, deleteBeforeReplace: true },
    );

    const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, { parent: this });
    // The image runs MinIO as minio (images/minio), which reads the key itself.
    const tls = serverTlsVolume(
      name,
      {
        container: dockerName,
        labels: labels(args.stack, "minio"),
        image: image.imageId,
        owner: "minio",
        reload: "minio",
        hostPort: args.apiPort,
        tls: { certificatePem: args.tlsCertificate, privateKeyPem: args.tlsKey, caCertificate: args.caCertificate },
      },
      this,
    );

    this.container = new docker.Container(
      name,
      {
        ...serviceContainerArgs(args, "minio", image.imageId, [{ internal: MINIO_PORT, external: args.apiPort }, { internal: MINIO_CONSOLE_PORT, external: args.consolePort }]),
        mounts: [{ type: "volume", source: this.volume.name, target: MINIO_DATA_DIR }, tls.mount],
        uploads: [
          { file: MINIO_ROOT_USER_FILE, content: this.rootUser, permissions: UPLOAD_MODE },
          { file: MINIO_ROOT_PASSWORD_FILE, content: this.rootPassword, permissions: UPLOAD_MODE },
        ],
        healthcheck: healthcheck([MINIO_HEALTHCHECK], 60, args.engine),
        waitTimeout: 120,
        stopTimeout: 30,
      },
      // Fixed name and host ports: the old container must go before its replacement starts.
      { parent: this, dependsOn: [this.volume, tls.files], deleteBeforeReplace: true },
    );

    this.bucket = new MinioBucket(
      `${name}-backups`,
      {
        // The host reaches MinIO where it is published; the certificate names 127.0.0.1.
        endpoint: `https://${LOOPBACK}:${args.apiPort}`,
        caCertificatePem: args.caCertificate,
        accessKey: this.rootUser,
        secretKey: this.rootPassword,
        bucket: args.bucket,
        versioning: true,
        // Only versions that are no longer current: pgBackRest's retention decides about current files.
        noncurrentVersionDays: NONCURRENT_VERSION_DAYS,
      },
      // The container is created with wait: true, so it is healthy (S3 answering) when it is "created".
      // The bucket lives in the volume: a destroy that keeps the volume keeps it too.
      { parent: this, dependsOn: [this.container], deletedWith: this.volume },
    );
    this.bucketName = this.bucket.bucket;

    const user = (id: string, accessKey: string, secretKey: pulumi.Input<string>, policyName: string, policy: string) =>
      new MinioUser(
        `${name}-${id}`,
        {
          endpoint: `https://${LOOPBACK}:${args.apiPort}`,
          caCertificatePem: args.caCertificate,
          adminAccessKey: this.rootUser,
          adminSecretKey: this.rootPassword,
          accessKey,
          secretKey: pulumi.secret(secretKey),
          policyName,
          policy,
        },
        // Like the bucket, the users live in the volume.
        { parent: this, dependsOn: [this.bucket], deletedWith: this.volume },
      );
    this.pgbackrestUser = user("pgbackrest-user", PGBACKREST_MINIO_USER, args.pgbackrest.secretKey, PGBACKREST_MINIO_POLICY, pgbackrestPolicy(args.bucket, args.pgbackrest.repoPath));
    this.pgbackrestAccessKey = this.pgbackrestUser.accessKey;
    this.pgbackrestSecretKey = pulumi.secret(this.pgbackrestUser.secretKey);
    this.drillUser = user("drill-user", DRILL_MINIO_USER, args.drill.secretKey, DRILL_MINIO_POLICY, pgbackrestPolicy(args.bucket, args.pgbackrest.repoPath, true));
    this.drillAccessKey = this.drillUser.accessKey;
    this.drillSecretKey = pulumi.secret(this.drillUser.secretKey);

    this.registerOutputs({ containerName: this.containerName, apiPort: this.apiPort, consolePort: this.consolePort, bucket: this.bucketName });
  }
}
