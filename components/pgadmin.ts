import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { resourceName } from "../lib/config";
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
} from "../lib/containers";
import { invalid } from "../lib/messages";
import { MiB } from "../lib/size";

/** pgAdmin inside the container (the image's contract). */
export const PGADMIN_PORT = 80;
export const PGADMIN_PASSWORD_FILE = `${SECRETS_DIR}/pgadmin-password`;
export const PGADMIN_SERVERS_FILE = `${CONFIG_DIR}/servers.json`;
/** The image's check: GET /misc/ping answers 200 without a login. */
export const PGADMIN_HEALTHCHECK = "/usr/local/bin/kryonix-pgadmin-healthcheck";

/** The server pgAdmin shows in its tree; no password is stored, pgAdmin asks for it. */
export interface PgadminServer {
  name: string;
  host: string;
  port: number;
  database: string;
  username: string;
}

export interface PgadminArgs extends ServiceContainerArgs {
  /** Published on 127.0.0.1:hostPort. */
  hostPort: number;
  /** The login e-mail (not a secret; the password is generated). */
  email: string;
  /** The URL a reverse proxy serves pgAdmin under, e.g. https://pgadmin.kryonix.com.br. */
  publicUrl?: string;
  server: PgadminServer;
  /** The login password (Secrets), handed over as a file. */
  password: pulumi.Input<string>;
}

/** servers.json (pgAdmin's import format) pre-registering one server, without a password. Pure. */
export function renderServersJson(server: PgadminServer): string {
  return `${JSON.stringify(
    {
      Servers: {
        "1": {
          Name: server.name,
          Group: "Servers",
          Host: server.host,
          Port: server.port,
          MaintenanceDB: server.database,
          Username: server.username,
          Shared: true,
          ConnectionParameters: { sslmode: "disable", connect_timeout: 10 },
        },
      },
    },
    null,
    2,
  )}\n`;
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
  const s = args.server;
  if (!s || !s.name || !s.host || !s.database || !s.username || !Number.isInteger(s.port)) {
    problems.push(invalid("Pgadmin server", s, "{name, host, port, database, username}"));
  }
  throwProblems("Pgadmin", problems);
}

/**
 * pgAdmin 4 in server mode on 127.0.0.1, with a generated login password
 * handed over as a file and the kryonix server pre-registered through
 * PgBouncer. In prod a reverse proxy may publish it under publicUrl.
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
          { file: PGADMIN_SERVERS_FILE, content: renderServersJson(args.server), permissions: UPLOAD_MODE },
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
