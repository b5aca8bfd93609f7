import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { resourceName } from "../model/config";
import { throwProblems } from "../model/containers";
import { loginUsers } from "../model/database";
import { roleUsers } from "../model/rotation";
import { scramSha256Secret } from "../model/scram";

/**
 * Every generated credential of the stack, in one component that depends on nothing.
 *
 * The data volumes keep what these open (the superuser's password from initdb, the roles'
 * SCRAM verifiers, MinIO's root user), so `npm run destroy` without --including-data keeps this
 * component in the state together with the volumes, and a later `npm run up` finds its data
 * with the same keys. Nothing here may depend on another resource: keeping a resource in the
 * state keeps everything it depends on.
 */

/** What makes a generated password: letters and digits only, so it never breaks a URI, an ini file or a userlist. */
const PASSWORD = { special: false, minLower: 2, minUpper: 2, minNumeric: 2 } as const;

export interface SecretsArgs {
  stack: string;
  /** Login roles; each of their login users (model/rotation.ts: the role, and a twin for some) gets a password and a SCRAM salt. */
  loginRoles: readonly string[];
  /** Role -> rotation count (kryonix:roleRotations): a new count replaces the password and salt of the user it rotates. */
  rotations?: Readonly<Record<string, number>>;
}

export interface RoleSecret {
  password: pulumi.Output<string>;
  /** The SCRAM-SHA-256 verifier of `password` (what PostgreSQL stores), so no statement carries the password. */
  scramVerifier: pulumi.Output<string>;
}

/** Throws one error naming every argument that cannot work. Pure. */
export function checkSecretsArgs(args: SecretsArgs): void {
  const problems: string[] = [];
  try {
    resourceName(args.stack, "postgres");
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (!Array.isArray(args.loginRoles) || loginUsers(args.loginRoles).some((r) => !/^[a-z_][a-z0-9_]{0,62}$/.test(r))) {
    problems.push(`Secrets loginRoles: ${JSON.stringify(args.loginRoles)} is not allowed; allowed: lower-case role names`);
  }
  throwProblems("Secrets", problems);
}

export class Secrets extends pulumi.ComponentResource {
  /** The PostgreSQL superuser's password (initdb). */
  public readonly superuserPassword: pulumi.Output<string>;
  /** The passphrase PostgreSQL's TLS key is encrypted with (CIS 6.8). */
  public readonly postgresTlsKeyPassphrase: pulumi.Output<string>;
  /** Login user (each role and the twins) -> its password and verifier. */
  public readonly roles: Readonly<Record<string, RoleSecret>>;
  /** Role -> the login user its clients use now (model/rotation.ts). */
  public readonly currentUsers: Readonly<Record<string, string>>;
  /** MinIO's root credentials; the access key is a credential too. */
  public readonly minioRootUser: pulumi.Output<string>;
  public readonly minioRootPassword: pulumi.Output<string>;
  /** pgAdmin's login password. */
  public readonly pgadminPassword: pulumi.Output<string>;
  /** pgBackRest's repository encryption passphrase (repo1-cipher-pass): the backups cannot be read without it. */
  public readonly pgbackrestCipherPass: pulumi.Output<string>;
  /** Prometheus' basic-auth password, and its bcrypt hash (what the web configuration holds). */
  public readonly prometheusPassword: pulumi.Output<string>;
  public readonly prometheusPasswordHash: pulumi.Output<string>;
  /** The secret key of pgBackRest's own MinIO user (40: MinIO's longest secret key). */
  public readonly pgbackrestS3SecretKey: pulumi.Output<string>;
  /** The secret key of the restore drill's read-only MinIO user. */
  public readonly drillS3SecretKey: pulumi.Output<string>;

  constructor(name: string, args: SecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kryonix:db:Secrets", name, {}, opts);
    checkSecretsArgs(args);
    // keepers only from the first rotation on: adding them to an existing password would replace it.
    const keepers = (count: number | undefined) => (count ? { keepers: { rotation: String(count) } } : {});
    const password = (id: string, length: number, rotation?: number) =>
      pulumi.secret(new random.RandomPassword(`${name}-${id}`, { length, ...PASSWORD, ...keepers(rotation) }, { parent: this }).result);

    this.superuserPassword = password("postgres-superuser", 32);
    this.postgresTlsKeyPassphrase = password("postgres-tls-key-passphrase", 32);
    const roles: Record<string, RoleSecret> = {};
    const currentUsers: Record<string, string> = {};
    for (const role of args.loginRoles) {
      const users = roleUsers(role, args.rotations?.[role] ?? 0);
      currentUsers[role] = users.current;
      // A user's password and salt change only with the rotation that sets it; the other user of the role keeps its own.
      for (const [user, setAt] of Object.entries(users.setAt)) {
        const pw = password(`${user}-password`, 32, setAt);
        const salt = new random.RandomBytes(`${name}-${user}-salt`, { length: 16, ...keepers(setAt) }, { parent: this });
        roles[user] = {
          password: pw,
          scramVerifier: pulumi.secret(pulumi.all([pw, salt.base64]).apply(([p, s]) => scramSha256Secret(p, Buffer.from(s, "base64")))),
        };
      }
    }
    this.roles = roles;
    this.currentUsers = currentUsers;
    // A RandomPassword, not a RandomString: a RandomString's value is also its resource ID, which
    // the state (`pulumi stack export`) shows in clear.
    const user = new random.RandomPassword(
      `${name}-minio-root-access-key`,
      { length: 20, special: false, upper: false, minLower: 2, minNumeric: 2 },
      { parent: this },
    );
    this.minioRootUser = pulumi.secret(user.result);
    this.minioRootPassword = password("minio-root-password", 40);
    this.pgadminPassword = password("pgadmin-password", 32);
    this.pgbackrestCipherPass = password("pgbackrest-cipher-pass", 64);
    // Under bcrypt's 72 bytes, so the hash covers the whole password.
    const prometheus = new random.RandomPassword(`${name}-prometheus-password`, { length: 32, ...PASSWORD }, { parent: this });
    this.prometheusPassword = pulumi.secret(prometheus.result);
    this.prometheusPasswordHash = pulumi.secret(prometheus.bcryptHash);
    this.pgbackrestS3SecretKey = password("pgbackrest-s3-secret-key", 40);
    this.drillS3SecretKey = password("drill-s3-secret-key", 40);
    this.registerOutputs({});
  }
}
