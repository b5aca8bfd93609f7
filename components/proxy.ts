import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { PROXY_BIND_ADDRESSES, PROXY_BIND_ALLOWED, resourceName, type ProxyBindAddress } from "../model/config";
import {
  UPLOAD_MODE,
  healthcheck,
  labels,
  throwProblems,
  type ServiceContainerArgs,
  serviceContainerArgs,
  serviceArgsProblems,
} from "../model/containers";
import { invalid } from "../model/messages";
import { PROXY_CONFIG_FILE, PROXY_HTTPS_PORT, PROXY_HTTP_PORT, checkNginxConfInput, renderNginxConf, type NginxSite } from "../render/nginx";
import { MiB } from "../model/size";
import { serverTlsVolume } from "../providers/tls-files";

/** The image's check: nginx's loopback health listener answers 200. */
export const PROXY_HEALTHCHECK = "/usr/local/bin/kryonix-proxy-healthcheck";

export interface ProxyArgs extends ServiceContainerArgs {
  /** Host ports: plain HTTP (answers a redirect to https) and HTTPS. */
  httpPort: number;
  httpsPort: number;
  /** 127.0.0.1, or 0.0.0.0 in prod only (model/config.ts decides; this checks the value). */
  bindAddress: ProxyBindAddress;
  pgadmin: NginxSite;
  /** PEM: the leaf first, then any chain. */
  certificatePem: pulumi.Input<string>;
  /** PEM, a secret; a file in the proxy's TLS volume only. */
  privateKeyPem: pulumi.Input<string>;
  /** The stack CA (PEM), beside them in the TLS volume; nginx does not read it (no client certificates). */
  caCertificate: pulumi.Input<string>;
}

/** Throws one error naming every argument that cannot work. Pure. */
export function checkProxyArgs(args: ProxyArgs): void {
  const problems = serviceArgsProblems(args, "proxy", "Proxy", 16 * MiB);
  for (const [k, port] of [["httpPort", args.httpPort], ["httpsPort", args.httpsPort]] as const) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(invalid(`Proxy ${k}`, port, "an integer from 1 to 65535"));
  }
  for (const k of ["certificatePem", "privateKeyPem", "caCertificate"] as const) {
    if (args[k] === undefined || args[k] === null || args[k] === "") problems.push(invalid(`Proxy ${k}`, args[k], "a PEM"));
  }
  if (args.httpPort === args.httpsPort) problems.push(invalid("Proxy httpsPort", args.httpsPort, "a port other than httpPort"));
  if (!(PROXY_BIND_ADDRESSES as readonly string[]).includes(args.bindAddress)) problems.push(invalid("Proxy bindAddress", args.bindAddress, PROXY_BIND_ALLOWED));
  try {
    checkNginxConfInput({ pgadmin: args.pgadmin });
  } catch (err) {
    problems.push((err as Error).message);
  }
  throwProblems("Proxy", problems);
}

/** The published ports: only these two may bind beyond 127.0.0.1 (in prod). Pure. */
export function proxyPorts(args: Pick<ProxyArgs, "httpPort" | "httpsPort" | "bindAddress">) {
  return [
    { internal: PROXY_HTTP_PORT, external: args.httpPort, ip: args.bindAddress, protocol: "tcp" },
    { internal: PROXY_HTTPS_PORT, external: args.httpsPort, ip: args.bindAddress, protocol: "tcp" },
  ];
}

/**
 * nginx (images/proxy) terminating TLS for pgAdmin at its public name. Its configuration is an
 * upload (a changed name replaces this container only); its certificate and key are files in a
 * TLS volume of its own (providers/tls-files.ts): a changed certificate (from config or renewed by
 * the stack CA) is written there and nginx reloads (SIGHUP), the container and its connections
 * stay.
 */
export class Proxy extends pulumi.ComponentResource {
  public readonly containerName: string;
  public readonly container: docker.Container;

  constructor(name: string, args: ProxyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kryonix:db:Proxy", name, {}, opts);
    checkProxyArgs(args);
    this.containerName = resourceName(args.stack, "proxy");
    const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, { parent: this });
    const base = serviceContainerArgs(args, "proxy", image.imageId, []);
    // nginx's master reads the key as root before it drops to www-data for the workers: root's only.
    const tls = serverTlsVolume(
      name,
      {
        container: this.containerName,
        labels: labels(args.stack, "proxy"),
        image: image.imageId,
        owner: "root",
        reload: "nginx",
        hostPort: args.httpsPort,
        // Any other name gets no handshake (ssl_reject_handshake).
        serverName: args.pgadmin.serverName,
        tls: { certificatePem: args.certificatePem, privateKeyPem: args.privateKeyPem, caCertificate: args.caCertificate },
      },
      this,
    );

    this.container = new docker.Container(
      name,
      {
        ...base,
        ports: proxyPorts(args),
        uploads: [{ file: PROXY_CONFIG_FILE, content: renderNginxConf({ pgadmin: args.pgadmin }), permissions: UPLOAD_MODE }],
        mounts: [tls.mount],
        healthcheck: healthcheck([PROXY_HEALTHCHECK], 15, args.engine),
        waitTimeout: 120,
      },
      // Fixed name and host ports: the old container must go before its replacement starts.
      { parent: this, dependsOn: [...(Array.isArray(opts?.dependsOn) ? opts.dependsOn : opts?.dependsOn ? [opts.dependsOn as pulumi.Resource] : []), tls.files], deleteBeforeReplace: true },
    );
    this.registerOutputs({ containerName: this.containerName });
  }
}
