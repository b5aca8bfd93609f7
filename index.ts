/**
 * The kryonix-db stack: PostgreSQL, PgBouncer, pgAdmin and MinIO on the local
 * Docker engine, the database objects, and the DDL in sql/ applied last.
 * Composition only: each piece is a component in components/.
 */
import * as pulumi from "@pulumi/pulumi";
import { DatabaseRepair } from "./providers/database-repair";
import { Database, DATABASE_NAME, DECLARED_DATABASES, DECLARED_ROLES, DRILL_ROLE, LOGIN_ROLES, LOGIN_USERS, MIGRATOR_ROLE, MONITOR_ROLE, OWNER_ROLE, PGBOUNCER_AUTH_SCHEMA, PGBOUNCER_ROLE } from "./components/database";
import { Migrations } from "./components/migrations";
import { Minio, MINIO_PORT } from "./components/minio";
import { Monitoring, PROMETHEUS_WEB_USER } from "./components/monitoring";
import { MINIO_REGION } from "./providers/minio-bucket";
import { Network } from "./components/network";
import { PgbackrestStanza } from "./providers/pgbackrest-stanza";
import { PGADMIN_PORT, Pgadmin } from "./components/pgadmin";
import { Pgbouncer } from "./components/pgbouncer";
import { Pki } from "./components/pki";
import { Postgres, POSTGRES_DATA_DIR, POSTGRES_PORT, SUPERUSER } from "./components/postgres";
import { Proxy } from "./components/proxy";
import { RestoreDrill } from "./components/restore-drill";
import { Schedules } from "./components/schedules";
import { Secrets } from "./components/secrets";
import { postgresParameters, resourceName, validateStackConfig } from "./model/config";
import { LOOPBACK } from "./model/containers";
import { adoptExistingCluster, dockerConfigProblems, probeKeptCluster, viewEngine } from "./io/docker-engine";
import { adoptionMessage } from "./checks/kept-cluster";
import { readImageTags } from "./toolchain/image-tags";
import { sqlObjects } from "./checks/drift";
import { loadMigrationFiles } from "./io/migrations-fs";
import { DRILL_CRON_JOBS, POSTGRES_CRON_JOBS, renderCrontab } from "./model/backup-schedule";
import { serverLogCleanupCronLine } from "./model/server-log";
import { REPO_PATH, renderPgbackrestConf, renderPgbackrestSecrets, STANZA } from "./render/pgbackrest";
import { renderPgpass } from "./render/pgpass";
import { programDigest as digestOf } from "./toolchain/program-digest";
import { readKryonixConfig } from "./io/pulumi-config";
import { stackConnections } from "./model/connections";

const stack = pulumi.getStack();
// Everything is checked before the first resource: a bad setting fails `pulumi preview` with all its problems.
const config = validateStackConfig(readKryonixConfig(), stack);
const images = readImageTags();
const migrationFiles = loadMigrationFiles();
// The provider must reach the engine this program asks (and `npm run destroy` removes volumes from).
const dockerConfig = new pulumi.Config("docker");
const dockerProblems = dockerConfigProblems({ host: dockerConfig.get("host"), context: dockerConfig.get("context") }, process.env);
if (dockerProblems.length) throw new Error(`Pulumi.${stack}.yaml: ${dockerProblems.join("; ")}`);
const engine = viewEngine(stack);
// A volume without its container: what its cluster holds decides, role by role, import or create.
const kept = adoptExistingCluster(engine) ? probeKeptCluster(stack, images.postgres) : false;
if (kept) pulumi.log.info(adoptionMessage(resourceName(stack, "postgres"), kept, { roles: DECLARED_ROLES, databases: DECLARED_DATABASES }));

// Protected with the data (prod): without these the kept volumes cannot be opened by the stack.
const secrets = new Secrets("secrets", { stack, loginRoles: LOGIN_ROLES, rotations: config.roleRotations }, { protect: config.protectData });
const minioHost = resourceName(stack, "minio");
const pki = new Pki("pki", {
  stack,
  servers: {
    minio: { dnsNames: [minioHost, "minio", "localhost"], ipAddresses: [LOOPBACK] },
    // By container name and alias on the stack network, and as localhost / 127.0.0.1 from the host.
    postgres: { dnsNames: [resourceName(stack, "postgres"), "postgres", "localhost"], ipAddresses: [LOOPBACK] },
    pgbouncer: { dnsNames: [resourceName(stack, "pgbouncer"), "pgbouncer", "localhost"], ipAddresses: [LOOPBACK] },
    // The proxy's certificate comes from config when one is set there; otherwise the stack CA issues it.
    ...(config.proxyCertificate ? {} : { proxy: { dnsNames: [config.pgadminHost], ipAddresses: [] } }),
  },
  renewBeforeDays: config.certRenewBeforeDays,
});

const network = new Network("network", { stack });
const common = { stack, network: network.name, engine: engine.features };

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
  bucket: config.backupBucket,
  pgbackrest: { secretKey: secrets.pgbackrestS3SecretKey, repoPath: REPO_PATH },
  drill: { secretKey: secrets.drillS3SecretKey },
});

// The postgres container and the restore drill's read the same repository, with keys of their own.
const pgbackrestConfig = renderPgbackrestConf({
  // MinIO by container name on the stack network (the stack CA's certificate names it).
  s3Endpoint: minioHost,
  s3Port: MINIO_PORT,
  bucket: config.backupBucket,
  region: MINIO_REGION,
  retentionDays: config.backupRetentionDays,
  pgDataDir: POSTGRES_DATA_DIR,
});
// pgBackRest's own MinIO user (its repository path only), never MinIO's root.
const pgbackrestSecrets = pulumi
  .all([minio.pgbackrestAccessKey, minio.pgbackrestSecretKey, secrets.pgbackrestCipherPass])
  .apply(([s3Key, s3KeySecret, cipherPass]) => renderPgbackrestSecrets({ s3Key, s3KeySecret, cipherPass }));

const postgres = new Postgres("postgres", {
  ...common,
  image: images.postgres,
  memoryBytes: config.postgresMemoryBytes,
  cpus: config.postgresCpus,
  parameters: postgresParameters(config),
  serverLog: config.serverLog,
  hostPort: config.postgresPort,
  protectData: config.protectData,
  superuserPassword: secrets.superuserPassword,
  pgbackrest: { config: pgbackrestConfig, secrets: pgbackrestSecrets, caCertificate: pki.caCertificate },
  tls: { certificatePem: pki.servers.postgres.certificatePem, privateKeyPem: pki.servers.postgres.privateKeyPem, caCertificate: pki.caCertificate },
  // The backups, run by cron in the container (pgBackRest needs PGDATA's host); the drill has its own.
  crontab: renderCrontab(config.schedules, POSTGRES_CRON_JOBS, config.serverLog === "file" ? [serverLogCleanupCronLine(config.serverLogRetentionDays)] : []),
  // The user before the server: archive_command uses it from the first WAL segment on.
  startAfter: [minio.container, minio.pgbackrestUser],
  // PgBouncer's lookup role and every user a client logs in as through it (get_auth() refuses the
  // superuser and the drill's role, which logs in directly).
  pooledLogins: { database: DATABASE_NAME, users: LOGIN_USERS.filter((u) => u !== DRILL_ROLE) },
});

const database = new Database("database", {
  stack,
  server: postgres.container,
  host: postgres.adminHost,
  port: postgres.adminPort,
  superuser: SUPERUSER,
  superuserPassword: postgres.superuserPassword,
  caCertificate: pki.caCertificate,
  maxConnections: postgres.maxConnections,
  roleSecrets: secrets.roles,
  currentUsers: secrets.currentUsers,
  dataVolume: postgres.volume,
  adopt: kept,
});

const migrations = new Migrations(
  "migrations",
  {
    host: postgres.adminHost,
    port: postgres.adminPort,
    database: database.name,
    // The migrator's current login (its twin after an odd rotation), as an external migration tool would log in.
    user: database.logins[MIGRATOR_ROLE].apply((l) => l.user),
    password: database.logins[MIGRATOR_ROLE].apply((l) => l.password),
    ca: pki.caCertificate,
    role: OWNER_ROLE,
    files: migrationFiles,
  },
  { dependsOn: database.ready },
);
const monitoringGrants = database.monitoringGrant(migrations.migrations);
// Drift no provider reads, repaired by every up: ALTER SYSTEM, and dropped indexes of sql/ (README, "Drift detection").
new DatabaseRepair(
  "database-repair",
  {
    connection: pulumi.secret(
      pulumi
        .all([postgres.superuserPassword, database.name, pki.caCertificate])
        .apply(([password, db, ca]) => ({ host: postgres.adminHost, port: postgres.adminPort, database: db, user: SUPERUSER, password, ca })),
    ),
    ownerRole: OWNER_ROLE,
    indexes: sqlObjects(migrationFiles).indexes,
  },
  { dependsOn: [migrations.migrations], deletedWith: postgres.volume },
);

// The partitions job, run by pg_cron inside the database once its function exists.
const schedules = new Schedules("schedules", {
  host: postgres.adminHost,
  port: postgres.adminPort,
  superuser: SUPERUSER,
  superuserPassword: postgres.superuserPassword,
  caCertificate: pki.caCertificate,
  partitionsSchedule: config.schedules.partitions,
  dataVolume: postgres.volume,
  dependsOn: [migrations],
});

const pgbouncer = new Pgbouncer(
  "pgbouncer",
  {
    ...common,
    image: images.pgbouncer,
    memoryBytes: config.pgbouncerMemoryBytes,
    hostPort: config.pgbouncerPort,
    postgresHost: postgres.internalHost,
    postgresPort: POSTGRES_PORT,
    postgresSocketVolume: postgres.socketVolume.name,
    maxConnections: postgres.maxConnections,
    database: DATABASE_NAME,
    authUser: PGBOUNCER_ROLE,
    authPassword: database.passwords[PGBOUNCER_ROLE],
    authSchema: PGBOUNCER_AUTH_SCHEMA,
    // pgbouncer_exporter reads the console's SHOW commands as the monitoring role.
    statsUsers: [{ user: MONITOR_ROLE, scramVerifier: secrets.roles[MONITOR_ROLE].scramVerifier }],
    tls: { certificatePem: pki.servers.pgbouncer.certificatePem, privateKeyPem: pki.servers.pgbouncer.privateKeyPem, caCertificate: pki.caCertificate },
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
    caCertificate: pki.caCertificate,
    servers: [
      // Browsing, one click away: kryonix_monitor (pg_monitor, no write on any schema) through
      // PgBouncer, its password in the pgpass file.
      {
        name: `kryonix ${stack} (PgBouncer)`,
        host: pgbouncer.internalHost,
        port: pgbouncer.internalPort,
        database: DATABASE_NAME,
        username: MONITOR_ROLE,
        passFile: true,
      },
      // DBAs: the superuser straight to PostgreSQL. Never stored: pgAdmin asks for the password.
      {
        name: `kryonix ${stack} (PostgreSQL, DBA)`,
        host: postgres.internalHost,
        port: POSTGRES_PORT,
        database: DATABASE_NAME,
        username: SUPERUSER,
      },
    ],
    pgpass: pulumi
      .secret(database.passwords[MONITOR_ROLE])
      .apply((password) => renderPgpass([{ host: pgbouncer.internalHost, port: pgbouncer.internalPort, database: "*", username: MONITOR_ROLE, password }])),
  },
  { dependsOn: [pgbouncer] },
);

const proxy = new Proxy(
  "proxy",
  {
    ...common,
    image: images.proxy,
    memoryBytes: config.proxyMemoryBytes,
    httpPort: config.proxyHttpPort,
    httpsPort: config.proxyHttpsPort,
    bindAddress: config.proxyBindAddress,
    pgadmin: { serverName: config.pgadminHost, publicPort: config.pgadminPublicPort, upstreamHost: pgadmin.containerName, upstreamPort: PGADMIN_PORT },
    certificatePem: config.proxyCertificate ?? pki.servers.proxy.certificatePem,
    privateKeyPem: config.proxyCertificateKey ? pulumi.secret(config.proxyCertificateKey) : pki.servers.proxy.privateKeyPem,
    caCertificate: pki.caCertificate,
  },
  { dependsOn: [pgadmin] },
);

// Once the server archives WAL and the bucket exists. Deleted with the data volume, like the
// database objects: a destroy never touches the repository.
const stanza = new PgbackrestStanza(
  "pgbackrest-stanza",
  { container: postgres.container.name, stanza: STANZA, bucket: minio.bucketName },
  { dependsOn: [postgres.container, minio.bucket], deletedWith: postgres.volume },
);

// Prometheus and the two exporters, which log in as the monitoring role once its grants exist.
const monitoring = new Monitoring(
  "monitoring",
  {
    ...common,
    images: { prometheus: images.prometheus, postgresExporter: images["postgres-exporter"], pgbouncerExporter: images["pgbouncer-exporter"] },
    prometheusMemoryBytes: config.prometheusMemoryBytes,
    prometheusPort: config.prometheusPort,
    postgres: { host: postgres.internalHost, port: POSTGRES_PORT, database: DATABASE_NAME },
    pgbouncer: { host: pgbouncer.internalHost, port: pgbouncer.internalPort },
    caCertificate: pki.caCertificate,
    monitorUser: MONITOR_ROLE,
    monitorPassword: database.passwords[MONITOR_ROLE],
    webPasswordHash: secrets.prometheusPasswordHash,
    thresholds: config.healthThresholds,
    retentionDays: config.prometheusRetentionDays,
    protectData: config.protectData,
  },
  { dependsOn: [pgbouncer, ...monitoringGrants] },
);

// The restore drill, in a container of its own so a drill never takes the live server's memory or
// CPUs; it reads the live server as its own role, once the stanza exists and the tables do.
const restoreDrill = new RestoreDrill("restore-drill", {
  ...common,
  image: images.postgres,
  imageId: postgres.imageId,
  memoryBytes: config.restoreDrillMemoryBytes,
  cpus: config.restoreDrillCpus,
  live: { host: postgres.internalHost, port: POSTGRES_PORT },
  role: DRILL_ROLE,
  password: database.passwords[DRILL_ROLE],
  caCertificate: pki.caCertificate,
  // Its own MinIO user, read only: a drill restores and verifies, it never writes to the repository.
  pgbackrest: {
    config: pgbackrestConfig,
    secrets: pulumi
      .all([minio.drillAccessKey, minio.drillSecretKey, secrets.pgbackrestCipherPass])
      .apply(([s3Key, s3KeySecret, cipherPass]) => renderPgbackrestSecrets({ s3Key, s3KeySecret, cipherPass })),
  },
  crontab: renderCrontab(config.schedules, DRILL_CRON_JOBS),
  admin: { host: postgres.adminHost, port: postgres.adminPort, user: SUPERUSER, password: postgres.superuserPassword },
  // pg_cron's schema too (schedules): the drill locks its tables.
  dependsOn: [database.roles[DRILL_ROLE], ...database.ready, migrations.migrations, stanza, minio.drillUser, schedules.partitionsJob],
  dataVolume: postgres.volume,
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
    /** Through the proxy: what users open. */
    publicUrl: config.pgadminPublicUrl,
    email: pgadmin.email,
  },
  proxy: {
    container: proxy.containerName,
    bindAddress: config.proxyBindAddress,
    httpPort: config.proxyHttpPort,
    httpsPort: config.proxyHttpsPort,
    /** "config" (kryonix:proxyCertificate) or "stack CA". */
    certificate: config.proxyCertificate ? "config" : "stack CA",
  },
  /** Prometheus' UI and API, basic auth (`credentials.prometheus`). */
  prometheus: { host: LOOPBACK, port: monitoring.prometheusPort, url: `http://${LOOPBACK}:${monitoring.prometheusPort}` },
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
/** What `npm run backup`, `backup:status` and `restore` work with; no secret. */
export const backup = {
  container: postgres.containerName,
  /** Where the restore drill runs (`npm run backup:verify`, the schedule). */
  drillContainer: restoreDrill.containerName,
  stanza: stanza.stanza,
  bucket: minio.bucketName,
  retentionFullDays: config.backupRetentionDays,
  archiveTimeoutSeconds: config.archiveTimeoutSeconds,
  /** Cron schedules in UTC ("off" when not scheduled). */
  schedules: config.schedules,
};
/** What postgresql.conf was tuned from (`npm run test:db:performance` checks SHOW against it). */
export const tuning = { storage: config.storage, overrides: config.postgresOverrides };
/** What `npm run health` and Prometheus' alerting rules judge by (kryonix:healthThresholds over the defaults). No secret. */
export const monitoringSettings = { thresholds: config.healthThresholds, prometheusRetentionDays: config.prometheusRetentionDays };
/** What `npm run audit` checks (inside this container) and the stack's CIS waivers (kryonix:cisWaivers). No secret. */
export const audit = {
  container: postgres.containerName,
  stanza: stanza.stanza,
  waivers: config.cisWaivers,
};
/**
 * The stack CA's certificate, not a secret. Every client verifies the servers against it:
 * PostgreSQL and PgBouncer (TLS only, sslmode=verify-full), MinIO, the proxy.
 */
export const caCertificate = pki.caCertificate;
export const appliedMigrations = migrations.applied;
/**
 * The digest of the program's sources and this stack's settings (no secret: ciphertext only): a
 * change shows as a changed output, so `npm run up` runs the update (toolchain/program-digest.ts).
 */
export const programDigest = digestOf(__dirname, stack);
/**
 * `pulumi stack output --show-secrets credentials`. `logins`: per role, the user and password its
 * clients log in with now (after `npm run rotate` the other user of the role keeps working until
 * the next rotation); `roles`: every login user's password, by user (the roles and their twins).
 */
export const credentials = pulumi.secret({
  postgres: { user: SUPERUSER, password: postgres.superuserPassword },
  pgadmin: { email: pgadmin.email, password: pgadmin.password },
  minio: { accessKey: minio.rootUser, secretKey: minio.rootPassword },
  prometheus: { user: PROMETHEUS_WEB_USER, password: secrets.prometheusPassword },
  logins: database.logins,
  roles: database.passwords,
});
/** `pulumi stack output --show-secrets connections`: libpq URIs per pooled role and the admin path, with the CA (model/connections.ts). */
export const connections = pulumi.secret(pulumi.output({ endpoints, credentials, caCertificate }).apply(stackConnections));
