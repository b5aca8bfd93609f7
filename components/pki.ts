import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { networkName } from "../model/config";
import { throwProblems } from "../model/containers";
import { invalid } from "../model/messages";

/**
 * The stack's certificate authority and the TLS server certificates it signs, made with
 * @pulumi/tls: ECDSA P-256 keys kept in the state as secrets. A certificate within
 * `renewBeforeDays` of its expiry is replaced by the next `pulumi up`, and everything that
 * uploads it rolls with it. Depends on nothing, so a destroy that keeps the data keeps the CA
 * too, and clients that trust it keep working after the next up.
 */

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

export interface ServerCertificate {
  certificatePem: pulumi.Output<string>;
  /** A secret. */
  privateKeyPem: pulumi.Output<string>;
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

const KEY: tls.PrivateKeyArgs = { algorithm: "ECDSA", ecdsaCurve: "P256" };
const hours = (days: number) => days * 24;

/** The stack's CA and one server certificate per entry of `servers`. */
export class Pki extends pulumi.ComponentResource {
  public readonly caCertificate: pulumi.Output<string>;
  public readonly servers: Readonly<Record<string, ServerCertificate>>;

  constructor(name: string, args: PkiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kryonix:db:Pki", name, {}, opts);
    checkPkiArgs(args);
    const renewHours = hours(args.renewBeforeDays ?? 30);

    const caKey = new tls.PrivateKey(`${name}-ca-key`, KEY, { parent: this });
    const ca = new tls.SelfSignedCert(
      `${name}-ca`,
      {
        privateKeyPem: caKey.privateKeyPem,
        subject: { commonName: `kryonix-${args.stack} CA`, organization: "KRYONIX" },
        isCaCertificate: true,
        validityPeriodHours: hours(args.caValidityDays ?? 3650),
        earlyRenewalHours: renewHours,
        allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
      },
      { parent: this },
    );
    this.caCertificate = ca.certPem;

    const servers: Record<string, ServerCertificate> = {};
    for (const [service, names] of Object.entries(args.servers)) {
      const key = new tls.PrivateKey(`${name}-${service}-key`, KEY, { parent: this });
      const request = new tls.CertRequest(
        `${name}-${service}-request`,
        {
          privateKeyPem: key.privateKeyPem,
          subject: { commonName: names.dnsNames[0] ?? names.ipAddresses[0], organization: "KRYONIX" },
          dnsNames: names.dnsNames,
          ipAddresses: names.ipAddresses,
        },
        { parent: this },
      );
      const cert = new tls.LocallySignedCert(
        `${name}-${service}`,
        {
          certRequestPem: request.certRequestPem,
          caPrivateKeyPem: caKey.privateKeyPem,
          caCertPem: ca.certPem,
          validityPeriodHours: hours(args.serverValidityDays ?? 825),
          earlyRenewalHours: renewHours,
          allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
        },
        { parent: this },
      );
      servers[service] = { certificatePem: cert.certPem, privateKeyPem: pulumi.secret(key.privateKeyPem) };
    }
    this.servers = servers;
    this.registerOutputs({ caCertificate: this.caCertificate });
  }
}
