import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { invalid } from "../model/messages";
import { pgTlsHandshake, tlsHandshake } from "../io/tls-probe";
import { containerRunning, readTlsVolumeDigests } from "../io/tls-volume";
import { type ServerTls, TLS_DIR, tlsVolumeFiles } from "../model/tls";
import { cliError, type CliOutcome, runDocker } from "../io/docker-cli";
import { isUnknown, knownFailures } from "../model/unknown";
import {
  RELOAD_METHODS,
  type ReloadMethod,
  type TlsDigests,
  handshakeProtocol,
  reloadDockerArgs,
  reloadNeeded,
  tarArchive,
  writerDockerArgs,
} from "../render/tls-volume";

/**
 * A server's TLS files in its TLS volume (model/tls.ts TLS_DIR), written by the stack: on create,
 * before the container exists, so it starts with them; on a change (a renewed certificate, a new
 * CA), in place, after which the running server reloads and the update waits until it serves
 * the new certificate on 127.0.0.1. The container is neither replaced nor restarted: sessions
 * open through the renewal keep going. The writer is a short-lived container of the service's
 * image with the files as a tar archive on stdin (render/tls-volume.ts); the key is a secret input
 * and only its digest is an output. A refresh reads the digests of the files in the volume, so
 * files changed, removed or a volume re-created by hand (empty) are rewritten by the next up.
 */
export interface TlsFilesInputs {
  /** The Docker volume the server mounts read-only at TLS_DIR. */
  volume: string;
  /** The service's image (its ID): the writer runs it, so the key's owner resolves as the server's user. */
  image: string;
  /** The user that owns the key (the server runs as it). */
  owner: string;
  /** The server's container, reloaded after a change when it runs. */
  container: string;
  reload: ReloadMethod;
  /** Where the server is published on 127.0.0.1: the update waits there for the new certificate. */
  hostPort: number;
  /** The name the handshake asks for (SNI), for a server that answers only that name (the proxy). */
  serverName?: string;
  certificatePem: string;
  /** A secret. */
  privateKeyPem: string;
  caCertificate: string;
}

export interface TlsFilesOutputs extends Omit<TlsFilesInputs, "privateKeyPem"> {
  digests: TlsDigests;
  /** The certificate's SHA-256 fingerprint, as a TLS client sees it. */
  fingerprint: string;
}

/** Runs `docker <args>` with `input` on stdin. Injected by tests. */
export type DockerRunInput = (args: string[], input?: Buffer) => CliOutcome;

/** What is wrong with the inputs, one failure each; a value not known yet (a certificate a preview will renew) is not judged. Pure. */
export function tlsFilesInputProblems(inputs: Partial<TlsFilesInputs>): { property: string; reason: string }[] {
  const failures: { property: string; reason: string }[] = [];
  const pem = (k: "certificatePem" | "privateKeyPem" | "caCertificate") => {
    if (typeof inputs[k] !== "string" || !/-----BEGIN [A-Z ]+-----/.test(inputs[k] as string)) failures.push({ property: k, reason: invalid(`TlsFiles ${k}`, typeof inputs[k], "a PEM") });
  };
  pem("certificatePem");
  pem("privateKeyPem");
  pem("caCertificate");
  for (const k of ["volume", "container"] as const) {
    if (typeof inputs[k] !== "string" || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(inputs[k] as string)) failures.push({ property: k, reason: invalid(`TlsFiles ${k}`, inputs[k], "a Docker name") });
  }
  if (typeof inputs.owner !== "string" || !/^[a-z_][a-z0-9_-]{0,31}$/.test(inputs.owner)) failures.push({ property: "owner", reason: invalid("TlsFiles owner", inputs.owner, "a user name") });
  if (!RELOAD_METHODS.includes(inputs.reload as ReloadMethod)) failures.push({ property: "reload", reason: invalid("TlsFiles reload", inputs.reload, RELOAD_METHODS.join(", ")) });
  if (inputs.serverName !== undefined && (typeof inputs.serverName !== "string" || !/^[a-z0-9][a-z0-9.-]*$/.test(inputs.serverName))) {
    failures.push({ property: "serverName", reason: invalid("TlsFiles serverName", inputs.serverName, "a lower-case DNS name") });
  }
  if (!Number.isInteger(inputs.hostPort) || (inputs.hostPort as number) < 1 || (inputs.hostPort as number) > 65535) {
    failures.push({ property: "hostPort", reason: invalid("TlsFiles hostPort", inputs.hostPort, "an integer from 1 to 65535") });
  }
  if (typeof inputs.image !== "string" || inputs.image === "") failures.push({ property: "image", reason: invalid("TlsFiles image", inputs.image, "an image ID") });
  return knownFailures(inputs, failures);
}

/** SHA-256 of a file's content, in hex. */
export function sha256(content: string): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createHash }: typeof import("node:crypto") = require("node:crypto");
  return createHash("sha256").update(content).digest("hex");
}

/** SHA-256 digests of the three files, and the certificate's fingerprint. */
export function tlsDigests(inputs: Pick<TlsFilesInputs, "certificatePem" | "privateKeyPem" | "caCertificate">): { digests: TlsDigests; fingerprint: string } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { X509Certificate }: typeof import("node:crypto") = require("node:crypto");
  const sha = sha256;
  return {
    digests: { certificate: sha(inputs.certificatePem), key: sha(inputs.privateKeyPem), ca: sha(inputs.caCertificate) },
    fingerprint: new X509Certificate(inputs.certificatePem).fingerprint256,
  };
}

/** Properties whose change is an update (never a replace); the image is only the writer's tool. Pure. */
export function tlsFilesChanges(olds: Partial<TlsFilesOutputs>, news: TlsFilesInputs): string[] {
  const changed: string[] = (["volume", "owner", "container", "reload", "hostPort", "serverName"] as const).filter((k) => olds[k] !== news[k]);
  // A value not known yet (during a preview: a certificate being renewed) is a change.
  const differs = (old: string | undefined, content: string) => isUnknown(content) || old !== sha256(content);
  if (differs(olds.digests?.certificate, news.certificatePem)) changed.push("certificatePem");
  if (differs(olds.digests?.key, news.privateKeyPem)) changed.push("privateKeyPem");
  if (differs(olds.digests?.ca, news.caCertificate)) changed.push("caCertificate");
  return changed;
}

export interface TlsFilesDeps {
  docker: DockerRunInput;
  /** The fingerprint of the certificate the server serves on 127.0.0.1, or undefined when no handshake completed. */
  served: (server: Pick<TlsFilesInputs, "hostPort" | "reload" | "serverName">) => Promise<string | undefined>;
  sleep: (ms: number) => Promise<void>;
  /** How long an update waits for the reloaded server to serve the new certificate. */
  deadlineMs: number;
}

const defaultDeps: TlsFilesDeps = {
  docker: (args, input) => runDocker(args, { input, timeoutMs: 300_000 }),
  served: async ({ hostPort, reload, serverName }) => {
    const options = { minVersion: "TLSv1.2" as const, ...(serverName ? { servername: serverName } : {}) };
    const probe = handshakeProtocol(reload) === "postgres" ? pgTlsHandshake : tlsHandshake;
    return (await probe(hostPort, options, "127.0.0.1", 5_000)).certificate?.fingerprint256;
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  deadlineMs: 60_000,
};

/** The dynamic provider; the docker CLI and a real handshake unless tests inject others. */
export function makeTlsFilesProvider(deps: TlsFilesDeps = defaultDeps): pulumi.dynamic.ResourceProvider {
  function write(inputs: TlsFilesInputs): void {
    const files = tlsVolumeFiles(inputs, inputs.owner);
    const args = writerDockerArgs(inputs.volume, inputs.image, files.map((f) => f.name));
    const r = deps.docker(args, tarArchive(files));
    // The script and its output name no secret: the archive went on stdin.
    if (r.code !== 0) throw new Error(`writing the TLS files to volume ${inputs.volume} failed: ${cliError("docker", args, r)}`);
  }
  async function reload(inputs: TlsFilesInputs, fingerprint: string): Promise<void> {
    const args = reloadDockerArgs(inputs.reload, inputs.container);
    const r = deps.docker(args);
    if (r.code !== 0) throw new Error(cliError("docker", args, r));
    // A reload is asynchronous, and a server that cannot load the new files keeps the old ones
    // (and says why in its log): the readiness signal is the new certificate on the wire.
    const deadline = Date.now() + deps.deadlineMs;
    let last: string | undefined;
    for (;;) {
      last = await deps.served(inputs);
      if (last === fingerprint) return;
      if (Date.now() >= deadline) break;
      await deps.sleep(250);
    }
    throw new Error(
      `${inputs.container} still serves certificate ${last ?? "(no handshake)"} on 127.0.0.1:${inputs.hostPort}, not the new ${fingerprint}, ${deps.deadlineMs / 1000} s after the reload: see \`docker logs ${inputs.container}\``,
    );
  }
  const outputs = (inputs: TlsFilesInputs): TlsFilesOutputs => {
    const { privateKeyPem: _key, ...rest } = inputs;
    return { ...rest, ...tlsDigests(inputs) };
  };
  const running = (container: string) => containerRunning(deps.docker, container);
  const inspect = (props: TlsFilesOutputs) => readTlsVolumeDigests(deps.docker, props);
  return {
    async check(_olds: TlsFilesInputs, news: TlsFilesInputs) {
      return { inputs: news, failures: tlsFilesInputProblems(news) };
    },
    async diff(_id: string, olds: TlsFilesOutputs, news: TlsFilesInputs) {
      return { changes: tlsFilesChanges(olds, news).length > 0, replaces: [], deleteBeforeReplace: false };
    },
    async create(inputs: TlsFilesInputs) {
      // Before the container: it starts with these files, nothing to reload.
      write(inputs);
      return { id: inputs.volume, outs: outputs(inputs) };
    },
    async update(_id: string, olds: TlsFilesOutputs, news: TlsFilesInputs) {
      write(news);
      const outs = outputs(news);
      if (reloadNeeded(olds.digests, outs.digests, running(news.container))) await reload(news, outs.fingerprint);
      return { outs };
    },
    async read(id: string, props: TlsFilesOutputs) {
      const digests = inspect(props);
      return { id, props: digests ? { ...props, digests } : props };
    },
    async delete() {
      // Nothing: the files go with the volume.
    },
  };
}

const tlsFilesProvider = makeTlsFilesProvider();

export type TlsFilesArgs = { [K in keyof TlsFilesInputs]: pulumi.Input<TlsFilesInputs[K]> };

/** See makeTlsFilesProvider. The key is stored as a secret input only. */
export class TlsFiles extends pulumi.dynamic.Resource {
  declare public readonly fingerprint: pulumi.Output<string>;

  constructor(name: string, args: TlsFilesArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      tlsFilesProvider,
      name,
      { ...args, privateKeyPem: pulumi.secret(args.privateKeyPem), digests: undefined, fingerprint: undefined },
      opts,
      "kryonix",
      "TlsFiles",
    );
  }
}

/**
 * A server's TLS volume (`<container>-tls`, not data: a destroy removes it) and the files in it,
 * for the container to mount read-only at TLS_DIR and to depend on. Shared by the PostgreSQL,
 * PgBouncer, MinIO and proxy components.
 */
export function serverTlsVolume(
  name: string,
  args: { container: string; labels: { label: string; value: string }[]; image: pulumi.Input<string>; owner: string; reload: ReloadMethod; hostPort: number; serverName?: string; tls: ServerTls },
  parent: pulumi.Resource,
): { volume: docker.Volume; files: TlsFiles; mount: docker.types.input.ContainerMount } {
  // Delete-first like every named Docker object; not retained: nothing in it outlives the stack.
  const volume = new docker.Volume(`${name}-tls`, { name: `${args.container}-tls`, labels: args.labels }, { parent, deleteBeforeReplace: true });
  const files = new TlsFiles(
    `${name}-tls`,
    {
      volume: volume.name,
      image: args.image,
      owner: args.owner,
      container: args.container,
      reload: args.reload,
      hostPort: args.hostPort,
      ...(args.serverName ? { serverName: args.serverName } : {}),
      certificatePem: args.tls.certificatePem,
      privateKeyPem: args.tls.privateKeyPem,
      caCertificate: args.tls.caCertificate,
    },
    { parent },
  );
  return { volume, files, mount: { type: "volume", source: volume.name, target: TLS_DIR, readOnly: true } };
}
