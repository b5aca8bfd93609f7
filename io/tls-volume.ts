/**
 * What is in a server's TLS volume now (the files kryonix:TlsFiles wrote, providers/tls-files.ts):
 * their digests, read through the server's container or a short-lived one of its image. The
 * provider's read uses it, and so does `npm run drift`, file by file.
 */
import { TLS_DIR, tlsVolumeFiles } from "../model/tls";
import { type TlsDigests, digestDockerArgs, parseSha256sum } from "../render/tls-volume";

/** Runs `docker <args>` with `input` on stdin: its exit code and what it said. Injected by tests. */
export type DockerRun = (args: string[], input?: Buffer) => { code: number; out: string };

/** A TLS volume as kryonix:TlsFiles records it: the volume, the server's container and image, the key's owner. */
export interface TlsVolume {
  volume: string;
  container: string;
  image: string;
  owner: string;
}

/** Whether `container` runs now. */
export function containerRunning(docker: DockerRun, container: string): boolean {
  const r = docker(["inspect", "-f", "{{.State.Running}}", container]);
  return r.code === 0 && r.out.trim() === "true";
}

/** The TLS file names in a volume, in TlsDigests' terms. */
export function tlsVolumeFileNames(owner: string): { certificate: string; ca: string; key: string } {
  const [certificate, ca, key] = tlsVolumeFiles({ certificatePem: "", privateKeyPem: "", caCertificate: "" }, owner).map((f) => f.name);
  return { certificate, ca, key };
}

/**
 * The digests of the files now in a TLS volume ("" for a missing file; all "" without the volume),
 * or undefined when they cannot be read. Through the running container when there is one, else a
 * short-lived one of its image. The provider's read, and `npm run drift`.
 */
export function readTlsVolumeDigests(docker: DockerRun, props: TlsVolume): TlsDigests | undefined {
  const names = tlsVolumeFileNames(props.owner);
  const list = [names.certificate, names.ca, names.key];
  if (docker(["volume", "inspect", props.volume]).code !== 0) return { certificate: "", key: "", ca: "" };
  const r = docker(digestDockerArgs({ container: props.container, running: containerRunning(docker, props.container), volume: props.volume, image: props.image, dir: TLS_DIR }, list));
  const found = parseSha256sum(r.out, list);
  // sha256sum exits 1 for a missing file and still prints the others; no line at all: not read.
  if (Object.values(found).every((d) => d === "") && r.code !== 0 && !/No such file/.test(r.out)) return undefined;
  return { certificate: found[names.certificate], key: found[names.key], ca: found[names.ca] };
}

/** kryonix:TlsFiles' resource type in the state (a dynamic resource, module "kryonix"). */
export const TLS_FILES_TYPE = "pulumi-nodejs:dynamic/kryonix:TlsFiles";

/** The TLS volumes the state holds (kryonix:TlsFiles' outputs), each with what is in it now. */
export function tlsVolumeChecks(
  resources: readonly { type: string; outputs?: Record<string, unknown> }[],
  docker: DockerRun,
): { volume: string; expected: Record<string, string>; found: Record<string, string> | undefined }[] {
  return resources
    .filter((r) => r.type === TLS_FILES_TYPE && r.outputs?.volume)
    .map((r) => {
      const props = r.outputs as unknown as TlsVolume & { digests: TlsDigests };
      const names = tlsVolumeFileNames(props.owner);
      const byName = (d: TlsDigests) => ({ [names.certificate]: d.certificate, [names.ca]: d.ca, [names.key]: d.key });
      const found = readTlsVolumeDigests(docker, props);
      return { volume: props.volume, expected: byName(props.digests), found: found && byName(found) };
    });
}
