import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { resourceName } from "../model/config";
import {
  CONFIG_DIR,
  SECRETS_DIR,
  UPLOAD_MODE,
  healthcheck,
  portProblems,
  throwProblems,
  type ServiceContainerArgs,
  serviceContainerArgs,
  serviceArgsProblems,
} from "../model/containers";
import { invalid } from "../model/messages";
import { MiB } from "../model/size";
import { TLS_CA_FILE } from "../model/tls";
import type { PgadminServer } from "../model/topology";

/** pgAdmin inside the container (the image's contract). */
export const PGADMIN_PORT = 80;
export const PGADMIN_PASSWORD_FILE = `${SECRETS_DIR}/pgadmin-password`;
export const PGADMIN_SERVERS_FILE = `${CONFIG_DIR}/servers.json`;
/** libpq's pgpass for the registered servers (root-owned upload); the image installs a 0600 copy as `.pgpass` in the user's storage directory. */
export const PGADMIN_PGPASS_FILE = `${SECRETS_DIR}/pgadmin-pgpass`;
/** The PassFile in servers.json: pgAdmin (server mode) resolves it in the user's storage directory. */
export const PGADMIN_PASSFILE = "/.pgpass";
/** The stack CA as the servers' sslrootcert, resolved in the storage directory like the PassFile (the image's setup copies TLS_CA_FILE there). */
export const PGADMIN_SSLROOTCERT = "/kryonix-ca.crt";
/** The image's check: GET /misc/ping answers 200 without a login. */
export const PGADMIN_HEALTHCHECK = "/usr/local/bin/kryonix-pgadmin-healthcheck";

export interface PgadminArgs extends ServiceContainerArgs {
  /** Published on 127.0.0.1:hostPort. */
  hostPort: number;
  /** The login e-mail (not a secret; the password is generated). */
  email: string;
  /** The URL a reverse proxy serves pgAdmin under, e.g. https://pgadmin.kryonix.com.br. */
  publicUrl?: string;
  /** The servers to pre-register, in this order. */
  servers: PgadminServer[];
  /** The login password (Secrets), handed over as a file. */
  password: pulumi.Input<string>;
  /** libpq pgpass text (render/pgpass.ts) for the servers with passFile, a secret; uploaded as a file only. */
  pgpass?: pulumi.Input<string>;
  /** The stack CA (PEM): every registered server is verified against it (verify-full). */
  caCertificate: pulumi.Input<string>;
}

/** servers.json (pgAdmin's import format) pre-registering the servers, never with a password: a passFile server names the PassFile only. Pure. */
export function renderServersJson(...servers: PgadminServer[]): string {
  const entries = servers.map((server, i) => [
    String(i + 1),
    {
      Name: server.name,
      Group: "Servers",
      Host: server.host,
      Port: server.port,
      MaintenanceDB: server.database,
      Username: server.username,
      Shared: true,
      ConnectionParameters: {
        // TLS, the server verified by name against the stack CA.
        sslmode: "verify-full",
        sslrootcert: PGADMIN_SSLROOTCERT,
        connect_timeout: 10,
        ...(server.passFile ? { passfile: PGADMIN_PASSFILE } : {}),
      },
    },
  ]);
  return `${JSON.stringify({ Servers: Object.fromEntries(entries) }, null, 2)}\n`;
}

/** Environment of the container: names and non-secret values only. Pure. */
export function pgadminEnvs(args: Pick<PgadminArgs, "email" | "publicUrl">): string[] {
  return [`PGADMIN_DEFAULT_EMAIL=${args.email}`, ...(args.publicUrl ? [`PGADMIN_PUBLIC_URL=${args.publicUrl}`] : [])];
}

/** Throws one error naming every argument that cannot work. Pure. */
export function checkPgadminArgs(args: PgadminArgs): void {
  const problems = serviceArgsProblems(args, "pgadmin", "Pgadmin", 256 * MiB);
  problems.push(...portProblems("Pgadmin hostPort", args.hostPort));
  if (typeof args.email !== "string" || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(args.email)) {
    problems.push(invalid("Pgadmin email", args.email, "an e-mail address"));
  }
  if (args.publicUrl !== undefined && !/^https?:\/\/[^\s/@]+(\/\S*)?$/.test(args.publicUrl)) {
    problems.push(invalid("Pgadmin publicUrl", args.publicUrl, "an http:// or https:// URL without credentials"));
  }
  if (!Array.isArray(args.servers) || args.servers.length === 0) problems.push(invalid("Pgadmin servers", args.servers, "at least one server"));
  for (const s of Array.isArray(args.servers) ? args.servers : []) {
    if (!s || !s.name || !s.host || !s.database || !s.username || !Number.isInteger(s.port)) {
      problems.push(invalid("Pgadmin server", s, "{name, host, port, database, username, passFile?}"));
    }
  }
  const names = (args.servers ?? []).map((s) => s?.name);
  if (new Set(names).size !== names.length) problems.push(invalid("Pgadmin servers", names, "distinct names"));
  if ((args.servers ?? []).some((s) => s?.passFile) && args.pgpass === undefined) {
    problems.push(invalid("Pgadmin pgpass", undefined, "the pgpass text, when a server connects with passFile"));
  }
  throwProblems("Pgadmin", problems);
}

/**
 * pgAdmin 4 in server mode on 127.0.0.1, with a generated login password
 * handed over as a file and the servers pre-registered (the browsing one
 * connecting from the uploaded pgpass, without a prompt). The proxy
 * (components/proxy.ts) publishes it under publicUrl.
 */
export class Pgadmin extends pulumi.ComponentResource {
  public readonly containerName: string;
  public readonly hostPort: number;
  public readonly email: string;
  /** The generated login password, a secret. */
  public readonly password: pulumi.Output<string>;
  public readonly container: docker.Container;

  constructor(name: string, args: PgadminArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kryonix:db:Pgadmin", name, {}, opts);
    checkPgadminArgs(args);
    const dockerName = resourceName(args.stack, "pgadmin");
    this.containerName = dockerName;
    this.hostPort = args.hostPort;
    this.email = args.email;

    this.password = pulumi.secret(args.password);

    const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, { parent: this });

    this.container = new docker.Container(
      name,
      {
        ...serviceContainerArgs(args, "pgadmin", image.imageId, [{ internal: PGADMIN_PORT, external: args.hostPort }]),
        envs: pgadminEnvs(args),
        uploads: [
          { file: PGADMIN_PASSWORD_FILE, content: this.password, permissions: UPLOAD_MODE },
          { file: PGADMIN_SERVERS_FILE, content: renderServersJson(...args.servers), permissions: UPLOAD_MODE },
          { file: TLS_CA_FILE, content: args.caCertificate, permissions: UPLOAD_MODE },
          // Readable inside the container only (as every upload); the image keeps a 0600 copy for libpq.
          ...(args.pgpass === undefined ? [] : [{ file: PGADMIN_PGPASS_FILE, content: pulumi.secret(args.pgpass), permissions: UPLOAD_MODE }]),
        ],
        // The first start creates pgAdmin's configuration database.
        healthcheck: healthcheck([PGADMIN_HEALTHCHECK], 120, args.engine),
        waitTimeout: 300,
      },
      // Fixed name and host ports: the old container must go before its replacement starts.
      { parent: this, dependsOn: opts?.dependsOn, deleteBeforeReplace: true },
    );

    this.registerOutputs({ containerName: this.containerName, hostPort: this.hostPort });
  }
}
