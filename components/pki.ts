import * as pulumi from "@pulumi/pulumi";
import { networkName } from "../lib/config";
import { throwProblems } from "../lib/containers";
import { invalid } from "../lib/messages";
import { createCertificateAuthority, issueServerCertificate } from "../lib/pki";

/**
 * The stack's certificate authority and the TLS server certificates it
 * signs, made by lib/pki.ts inside the dynamic-provider plugin: keys are
 * created once, kept in the state as secrets, and replaced only when their
 * inputs change or the certificate is within `renewBeforeDays` of expiry.
 */

export interface CaInputs {
  commonName: string;
  organization: string;
  validityDays: number;
  renewBeforeDays: number;
}

export interface ServerCertInputs {
  caCertificatePem: string;
  caPrivateKeyPem: string;
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
  validityDays: number;
  renewBeforeDays: number;
}

interface CertOutputs {
  certificatePem: string;
  privateKeyPem: string;
  notAfter: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Properties of `news` that differ from `olds`, by JSON value. */
function changedKeys<T extends object>(olds: Partial<T>, news: T, keys: (keyof T)[]): string[] {
  return keys.filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k])).map(String);
}

/** True when `notAfter` is within `days` of `now` (or unreadable). Pure. */
export function dueForRenewal(notAfter: string | undefined, days: number, now: Date = new Date()): boolean {
  const end = Date.parse(notAfter ?? "");
  return !Number.isFinite(end) || end - now.getTime() <= days * DAY_MS;
}

function certificateProvider<I extends { renewBeforeDays: number }>(
  keys: (keyof I)[],
  make: (inputs: I) => CertOutputs,
): pulumi.dynamic.ResourceProvider {
  return {
    async diff(_id: string, olds: I & CertOutputs, news: I) {
      const replaces = changedKeys(olds, news, keys);
      if (dueForRenewal(olds.notAfter, news.renewBeforeDays)) replaces.push("notAfter");
      return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
    },
    async create(inputs: I) {
      const outs = make(inputs);
      const id = Buffer.from(outs.certificatePem).toString("base64url").slice(-24);
      return { id, outs: { ...inputs, ...outs } };
    },
  };
}

export const caProvider = certificateProvider<CaInputs>(
  ["commonName", "organization", "validityDays"],
  (i) => createCertificateAuthority({ commonName: i.commonName, organization: i.organization, validityDays: i.validityDays }),
);

export const serverCertProvider = certificateProvider<ServerCertInputs>(
  ["caCertificatePem", "commonName", "dnsNames", "ipAddresses", "validityDays"],
  (i) =>
    issueServerCertificate({
      ca: { certificatePem: i.caCertificatePem, privateKeyPem: i.caPrivateKeyPem },
      commonName: i.commonName,
      dnsNames: i.dnsNames,
      ipAddresses: i.ipAddresses,
      validityDays: i.validityDays,
    }),
);

type Args<T> = { [K in keyof T]: pulumi.Input<T[K]> };

/** A self-signed CA; its key is a secret output. */
export class CertificateAuthority extends pulumi.dynamic.Resource {
  declare public readonly certificatePem: pulumi.Output<string>;
  declare public readonly privateKeyPem: pulumi.Output<string>;
  declare public readonly notAfter: pulumi.Output<string>;

  constructor(name: string, args: Args<CaInputs>, opts?: pulumi.CustomResourceOptions) {
    super(
      caProvider,
      name,
      { ...args, certificatePem: undefined, privateKeyPem: undefined, notAfter: undefined },
      { ...opts, additionalSecretOutputs: ["privateKeyPem"] },
      "kryonix",
      "CertificateAuthority",
    );
  }
}

/** A TLS server certificate signed by a CertificateAuthority; its key is a secret output. */
export class ServerCertificate extends pulumi.dynamic.Resource {
  declare public readonly certificatePem: pulumi.Output<string>;
  declare public readonly privateKeyPem: pulumi.Output<string>;
  declare public readonly notAfter: pulumi.Output<string>;

  constructor(name: string, args: Args<ServerCertInputs>, opts?: pulumi.CustomResourceOptions) {
    super(
      serverCertProvider,
      name,
      { ...args, certificatePem: undefined, privateKeyPem: undefined, notAfter: undefined },
      { ...opts, additionalSecretOutputs: ["privateKeyPem", "caPrivateKeyPem"] },
      "kryonix",
      "ServerCertificate",
    );
  }
}

export interface PkiArgs {
  stack: string;
  /** Server certificates to issue, by service: the DNS names and IP addresses each must carry. */
  servers: Record<string, { dnsNames: string[]; ipAddresses: string[] }>;
  /** Default 10 years. */
  caValidityDays?: number;
  /** Default 825 days (the longest validity clients such as Apple's accept). */
  serverValidityDays?: number;
  /** Replace a certificate this many days before it expires, on the next up. Default 30. */
  renewBeforeDays?: number;
}

/** Throws one error naming every argument that cannot work. Pure. */
export function checkPkiArgs(args: PkiArgs): void {
  const problems: string[] = [];
  try {
    networkName(args.stack);
  } catch (err) {
    problems.push((err as Error).message);
  }
  const ca = args.caValidityDays ?? 3650;
  const server = args.serverValidityDays ?? 825;
  const renew = args.renewBeforeDays ?? 30;
  if (!Number.isInteger(ca) || ca < 30 || ca > 10950) problems.push(invalid("Pki caValidityDays", ca, "an integer from 30 to 10950"));
  if (!Number.isInteger(server) || server < 7 || server > ca) {
    problems.push(invalid("Pki serverValidityDays", server, `an integer from 7 to caValidityDays (${ca})`));
  }
  if (!Number.isInteger(renew) || renew < 1 || renew >= server) {
    problems.push(invalid("Pki renewBeforeDays", renew, `an integer from 1 to below serverValidityDays (${server})`));
  }
  for (const [service, names] of Object.entries(args.servers ?? {})) {
    if (!names || names.dnsNames.length + names.ipAddresses.length === 0) {
      problems.push(invalid(`Pki servers.${service}`, names, "at least one DNS name or IP address"));
    }
  }
  throwProblems("Pki", problems);
}

/** The stack's CA and one server certificate per entry of `servers`. */
export class Pki extends pulumi.ComponentResource {
  public readonly ca: CertificateAuthority;
  public readonly caCertificate: pulumi.Output<string>;
  public readonly servers: Readonly<Record<string, ServerCertificate>>;

  constructor(name: string, args: PkiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kryonix:db:Pki", name, {}, opts);
    checkPkiArgs(args);
    const renewBeforeDays = args.renewBeforeDays ?? 30;

    this.ca = new CertificateAuthority(
      `${name}-ca`,
      {
        commonName: `kryonix-${args.stack} CA`,
        organization: "KRYONIX",
        validityDays: args.caValidityDays ?? 3650,
        renewBeforeDays,
      },
      { parent: this },
    );
    this.caCertificate = this.ca.certificatePem;

    const servers: Record<string, ServerCertificate> = {};
    for (const [service, names] of Object.entries(args.servers)) {
      servers[service] = new ServerCertificate(
        `${name}-${service}`,
        {
          caCertificatePem: this.ca.certificatePem,
          caPrivateKeyPem: this.ca.privateKeyPem,
          commonName: names.dnsNames[0] ?? names.ipAddresses[0],
          dnsNames: names.dnsNames,
          ipAddresses: names.ipAddresses,
          validityDays: args.serverValidityDays ?? 825,
          renewBeforeDays,
        },
        { parent: this },
      );
    }
    this.servers = servers;
    this.registerOutputs({ caCertificate: this.caCertificate });
  }
}
