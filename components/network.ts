import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { networkName } from "../model/config";
import { LOOPBACK, throwProblems } from "../model/containers";

export interface NetworkArgs {
  /** The Pulumi stack name; the network is `kryonix-<stack>-net`. */
  stack: string;
}

/** Throws when the arguments cannot make a network. */
export function checkNetworkArgs(args: NetworkArgs): void {
  const problems: string[] = [];
  try {
    networkName(args.stack);
  } catch (err) {
    problems.push((err as Error).message);
  }
  throwProblems("Network", problems);
}

/**
 * The bridge network every container of the stack joins. Containers find each
 * other by container name (Docker's embedded DNS), and a port published
 * without an address binds to 127.0.0.1 on this network, as a second guard
 * behind the explicit 127.0.0.1 of every published port.
 */
export class Network extends pulumi.ComponentResource {
  /** The Docker network's name, `kryonix-<stack>-net`. */
  public readonly name: pulumi.Output<string>;
  public readonly network: docker.Network;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kryonix:db:Network", name, {}, opts);
    checkNetworkArgs(args);
    const dockerName = networkName(args.stack);

    this.network = new docker.Network(
      dockerName,
      {
        name: dockerName,
        driver: "bridge",
        options: { "com.docker.network.bridge.host_binding_ipv4": LOOPBACK },
        labels: [
          { label: "com.kryonix.stack", value: args.stack },
          { label: "com.kryonix.managed-by", value: "pulumi" },
        ],
      },
      { parent: this, deleteBeforeReplace: true },
    );
    this.name = this.network.name;
    this.registerOutputs({ name: this.name });
  }
}
