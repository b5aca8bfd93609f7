/**
 * The kryonix-db stack: PostgreSQL, PgBouncer, pgAdmin and MinIO on the local
 * Docker engine, the database objects, and the DDL in sql/ applied last.
 * Composition only: each piece is a component in components/.
 */
import * as pulumi from "@pulumi/pulumi";
import { Database, DATABASE_NAME, LOGIN_ROLES, MIGRATOR_ROLE, MONITOR_ROLE, OWNER_ROLE, PGBOUNCER_AUTH_SCHEMA, PGBOUNCER_ROLE } from "./components/database";
import { Migrations } from "./components/migrations";
import { Minio } from "./components/minio";
import { Network } from "./components/network";
import { Pgadmin } from "./components/pgadmin";
import { Pgbouncer } from "./components/pgbouncer";
import { Pki } from "./components/pki";
import { Postgres, POSTGRES_PORT, SUPERUSER } from "./components/postgres";
import { Secrets } from "./components/secrets";
import { postgresParameters, resourceName, validateStackConfig } from "./lib/config";
import { LOOPBACK } from "./lib/containers";
import { adoptExistingCluster, viewEngine } from "./lib/docker-engine";
import { readImageTags } from "./lib/image-tags";
import { loadMigrationFiles } from "./lib/migrations-fs";
import { readKryonixConfig } from "./lib/pulumi-config";

const stack = pulumi.getStack();
// Everything is checked before the first resource: a bad setting fails `pulumi preview` with all its problems.
const config = validateStackConfig(readKryonixConfig(), stack);
const images = readImageTags();
const migrationFiles = loadMigrationFiles();
const engine = viewEngine(stack);
const adopt = adoptExistingCluster(engine);
if (adopt) pulumi.log.info(`the data volume ${resourceName(stack, "postgres")} outlived its container: its roles and database are imported`);

// Protected with the data (prod): without these the kept volumes cannot be opened by the stack.
const secrets = new Secrets("secrets", { stack, loginRoles: LOGIN_ROLES }, { protect: config.protectData });
const minioHost = resourceName(stack, "minio");
const pki = new Pki("pki", {
  stack,
  servers: { minio: { dnsNames: [minioHost, "minio", "localhost"], ipAddresses: [LOOPBACK] } },
  renewBeforeDays: config.certRenewBeforeDays,
});

const network = new Network("network", { stack });
const common = { stack, network: network.name, engine: engine.features };

const postgres = new Postgres("postgres", {
  ...common,
  image: images.postgres,
  memoryBytes: config.postgresMemoryBytes,
  cpus: config.postgresCpus,
  parameters: postgresParameters(config),
  hostPort: config.postgresPort,
  protectData: config.protectData,
  superuserPassword: secrets.superuserPassword,
});

const database = new Database("database", {
  stack,
  server: postgres.container,
  host: postgres.adminHost,
  port: postgres.adminPort,
  superuser: SUPERUSER,
  superuserPassword: postgres.superuserPassword,
  roleSecrets: secrets.roles,
  dataVolume: postgres.volume,
  adopt,
});

const migrations = new Migrations(
  "migrations",
  {
    host: postgres.adminHost,
    port: postgres.adminPort,
    database: database.name,
    user: MIGRATOR_ROLE,
    password: database.passwords[MIGRATOR_ROLE],
    role: OWNER_ROLE,
    files: migrationFiles,
  },
  { dependsOn: database.ready },
);
database.monitoringGrant(migrations.migrations);

const pgbouncer = new Pgbouncer(
  "pgbouncer",
  {
    ...common,
    image: images.pgbouncer,
    memoryBytes: config.pgbouncerMemoryBytes,
    hostPort: config.pgbouncerPort,
    postgresHost: postgres.internalHost,
    postgresPort: POSTGRES_PORT,
    maxConnections: postgres.maxConnections,
    database: DATABASE_NAME,
    authUser: PGBOUNCER_ROLE,
    authPassword: database.passwords[PGBOUNCER_ROLE],
    authSchema: PGBOUNCER_AUTH_SCHEMA,
  },
  { dependsOn: [database.pgbouncerAuth] },
);

const pgadmin = new Pgadmin(
  "pgadmin",
  {
    ...common,
    image: images.pgadmin,
    memoryBytes: config.pgadminMemoryBytes,
    hostPort: config.pgadminPort,
    email: config.pgadminEmail,
    publicUrl: config.pgadminPublicUrl,
    password: secrets.pgadminPassword,
    server: {
      name: `kryonix ${stack} (PgBouncer)`,
      host: pgbouncer.internalHost,
      port: pgbouncer.internalPort,
      database: DATABASE_NAME,
      username: MONITOR_ROLE,
    },
  },
  { dependsOn: [pgbouncer] },
);

const minio = new Minio("minio", {
  ...common,
  image: images.minio,
  memoryBytes: config.minioMemoryBytes,
  apiPort: config.minioPort,
  consolePort: config.minioConsolePort,
  tlsCertificate: pki.servers.minio.certificatePem,
  tlsKey: pki.servers.minio.privateKeyPem,
  caCertificate: pki.caCertificate,
  protectData: config.protectData,
  rootUser: secrets.minioRootUser,
  rootPassword: secrets.minioRootPassword,
});

/** Where to connect; no password here (see `credentials`). */
export const endpoints = {
  // Always 127.0.0.1 (kryonix:publishPostgres accepts only true); applications use PgBouncer.
  postgres: { host: LOOPBACK, port: config.postgresPort, database: DATABASE_NAME },
  pgbouncer: { host: LOOPBACK, port: pgbouncer.hostPort, database: DATABASE_NAME },
  pgadmin: {
    host: LOOPBACK,
    port: pgadmin.hostPort,
    url: `http://${LOOPBACK}:${pgadmin.hostPort}`,
    ...(config.pgadminPublicUrl ? { publicUrl: config.pgadminPublicUrl } : {}),
    email: pgadmin.email,
  },
  minio: {
    host: LOOPBACK,
    port: minio.apiPort,
    url: `https://${LOOPBACK}:${minio.apiPort}`,
    consoleUrl: `https://${LOOPBACK}:${minio.consolePort}`,
    /** The versioned backup bucket (pgBackRest's repository). */
    bucket: minio.bucketName,
  },
};
export const dockerNetwork = network.name;
/** The stack CA's certificate: clients of MinIO (and pgBackRest) trust it. Not a secret. */
export const caCertificate = pki.caCertificate;
export const appliedMigrations = migrations.applied;
/** `pulumi stack output --show-secrets credentials` */
export const credentials = pulumi.secret({
  postgres: { user: SUPERUSER, password: postgres.superuserPassword },
  pgadmin: { email: pgadmin.email, password: pgadmin.password },
  minio: { accessKey: minio.rootUser, secretKey: minio.rootPassword },
  roles: database.passwords,
});
