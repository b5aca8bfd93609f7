/**
 * The kryonix-db stack: PostgreSQL, PgBouncer, pgAdmin and MinIO on the local
 * Docker engine, the database objects, and the DDL in sql/ applied last.
 * Composition only: what is declared is in model/, each piece is a component in components/.
 */
import * as pulumi from "@pulumi/pulumi";
import { Database } from "./components/database";
import { Migrations } from "./components/migrations";
import { Minio, MINIO_PORT } from "./components/minio";
import { Monitoring, PROMETHEUS_WEB_USER } from "./components/monitoring";
import { Network } from "./components/network";
import { PGADMIN_PORT, Pgadmin } from "./components/pgadmin";
import { Pgbouncer } from "./components/pgbouncer";
import { Pki } from "./components/pki";
import { Postgres, superuserConnection } from "./components/postgres";
import { PostgresCluster } from "./components/postgres-cluster";
import { Proxy } from "./components/proxy";
import { RestoreDrill } from "./components/restore-drill";
import { Schedules } from "./components/schedules";
import { Secrets } from "./components/secrets";
import { DatabaseRepair } from "./providers/database-repair";
import { PgbackrestStanza } from "./providers/pgbackrest-stanza";
import { STANZA } from "./model/backup";
import { DRILL_CRON_JOBS, POSTGRES_CRON_JOBS, renderCrontab } from "./model/backup-schedule";
import { stackConnections } from "./model/connections";
import { postgresParameters, resourceName, validateStackConfig } from "./model/config";
import { connectionBudget } from "./model/connection-budget";
import { LOOPBACK } from "./model/containers";
import * as db from "./model/database";
import { clusterOutput, topologyChangeProblem } from "./model/cluster";
import { MINIO_REGION } from "./model/minio-policy";
import { serverLogCleanupCronLine } from "./model/server-log";
import { pgadminServers, serverCertificateNames } from "./model/topology";
import { REPO_PATH, renderPgbackrestConf, renderPgbackrestSecrets } from "./render/pgbackrest";
import { renderPgpass } from "./render/pgpass";
import { sqlObjects } from "./checks/drift";
import { adoptionMessage } from "./checks/kept-cluster";
import { adoptExistingCluster, dockerConfigProblems, probeKeptCluster, viewEngine } from "./io/docker-engine";
import { loadMigrationFiles } from "./io/migrations-fs";
import { readKryonixConfig } from "./io/pulumi-config";
import { clusterImages, readImageTags } from "./toolchain/image-tags";
import { programDigest as digestOf } from "./toolchain/program-digest";

const stack = pulumi.getStack();
// Everything is checked before the first resource: a bad setting fails `pulumi preview` with all its problems.
const config = validateStackConfig(readKryonixConfig(), stack);
const images = readImageTags();
const migrationFiles = loadMigrationFiles();
const budget = connectionBudget(config.maxConnections);
// The provider must reach the engine this program asks (and `npm run destroy` removes volumes from).
const dockerConfig = new pulumi.Config("docker");
const dockerProblems = dockerConfigProblems({ host: dockerConfig.get("host"), context: dockerConfig.get("context") }, process.env);
if (dockerProblems.length) throw new Error(`Pulumi.${stack}.yaml: ${dockerProblems.join("; ")}`);
const engine = viewEngine(stack);
const topologyProblem = topologyChangeProblem(stack, config.topology, { singleVolume: engine.postgresVolume, clusterVolume: engine.clusterVolume });
if (topologyProblem) throw new Error(`Pulumi.${stack}.yaml: ${topologyProblem}`);
// A volume without its container: what its cluster holds decides, role by role, import or create.
const kept = config.topology === "single" && adoptExistingCluster(engine) ? probeKeptCluster(stack, images.postgres) : false;
if (kept) pulumi.log.info(adoptionMessage(resourceName(stack, "postgres"), kept, { roles: db.DECLARED_ROLES, databases: db.DECLARED_DATABASES }));

// Protected with the data (prod): without these the kept volumes cannot be opened by the stack.
const secrets = new Secrets("secrets", { stack, loginRoles: db.LOGIN_ROLES, rotations: config.roleRotations }, { protect: config.protectData });
const pki = new Pki("pki", { stack, servers: serverCertificateNames(config), renewBeforeDays: config.certRenewBeforeDays });
const network = new Network("network", { stack });
const common = { stack, network: network.name, engine: engine.features };
const tlsOf = (server: "postgres" | "pgbouncer") => ({ ...pki.servers[server], caCertificate: pki.caCertificate });

const minio = new Minio("minio", {
  ...common, image: images.minio, memoryBytes: config.minioMemoryBytes, protectData: config.protectData,
  apiPort: config.minioPort, consolePort: config.minioConsolePort, bucket: config.backupBucket,
  tlsCertificate: pki.servers.minio.certificatePem, tlsKey: pki.servers.minio.privateKeyPem, caCertificate: pki.caCertificate,
  rootUser: secrets.minioRootUser, rootPassword: secrets.minioRootPassword,
  pgbackrest: { secretKey: secrets.pgbackrestS3SecretKey, repoPath: REPO_PATH },
  drill: { secretKey: secrets.drillS3SecretKey },
});

// The postgres container and the restore drill's read the same repository (MinIO by container
// name on the stack network), each with a MinIO user of its own, never MinIO's root.
const pgbackrestConfig = renderPgbackrestConf({
  s3Endpoint: resourceName(stack, "minio"), s3Port: MINIO_PORT, bucket: config.backupBucket, region: MINIO_REGION,
  retentionDays: config.backupRetentionDays, pgDataDir: db.POSTGRES_DATA_DIR, clusterNode: config.topology === "ha",
});
const pgbackrestSecrets = (s3Key: pulumi.Output<string>, s3KeySecret: pulumi.Output<string>) =>
  pulumi.all([s3Key, s3KeySecret, secrets.pgbackrestCipherPass]).apply(([key, secret, cipherPass]) => renderPgbackrestSecrets({ s3Key: key, s3KeySecret: secret, cipherPass }));

// `ha`: three Patroni nodes, etcd and HAProxy; everything below reaches the leader through HAProxy's write port.
const postgres = config.topology === "ha"
  ? new PostgresCluster("postgres", {
    ...common, images: clusterImages(images), memoryBytes: config.postgresMemoryBytes, cpus: config.postgresCpus, protectData: config.protectData,
    parameters: postgresParameters(config), serverLog: config.serverLog, writePort: config.postgresPort, readPort: config.postgresReadPort,
    superuserPassword: secrets.superuserPassword, tlsKeyPassphrase: secrets.postgresTlsKeyPassphrase, tls: tlsOf("postgres"),
    pgbackrest: { config: pgbackrestConfig, secrets: pgbackrestSecrets(minio.pgbackrestAccessKey, minio.pgbackrestSecretKey), caCertificate: pki.caCertificate, stanza: STANZA },
    crontab: renderCrontab(config.schedules, POSTGRES_CRON_JOBS, config.serverLog === "file" ? [serverLogCleanupCronLine(config.serverLogRetentionDays)] : []),
    synchronousMode: config.synchronousMode, replicaLagBoundBytes: config.replicaLagBoundBytes,
    startAfter: [minio.container, minio.pgbackrestUser],
  })
  : new Postgres("postgres", {
  ...common, image: images.postgres, memoryBytes: config.postgresMemoryBytes, cpus: config.postgresCpus, protectData: config.protectData,
  parameters: postgresParameters(config), serverLog: config.serverLog, hostPort: config.postgresPort, superuserPassword: secrets.superuserPassword,
  tlsKeyPassphrase: secrets.postgresTlsKeyPassphrase,
  pgbackrest: { config: pgbackrestConfig, secrets: pgbackrestSecrets(minio.pgbackrestAccessKey, minio.pgbackrestSecretKey), caCertificate: pki.caCertificate },
  tls: tlsOf("postgres"),
  // The backups, run by cron in the container (pgBackRest needs PGDATA's host); the drill has its own.
  crontab: renderCrontab(config.schedules, POSTGRES_CRON_JOBS, config.serverLog === "file" ? [serverLogCleanupCronLine(config.serverLogRetentionDays)] : []),
  // The user before the server: archive_command uses it from the first WAL segment on.
  startAfter: [minio.container, minio.pgbackrestUser],
  // PgBouncer's lookup role and every user a client logs in as through it (get_auth() refuses the
  // superuser and the drill's role, which logs in directly).
  pooledLogins: { database: db.DATABASE_NAME, users: db.LOGIN_USERS.filter((u) => u !== db.DRILL_ROLE) },
  });

const database = new Database("database", {
  stack, server: postgres.container, superuser: postgres.superuser, dataVolume: postgres.volume, adopt: kept,
  connectionLimits: budget.roleLimits, roleSecrets: secrets.roles, currentUsers: secrets.currentUsers,
});

// The migrator's current login (its twin after an odd rotation), as an external migration tool would log in.
const migrator = database.logins[db.MIGRATOR_ROLE];
const migrations = new Migrations(
  "migrations",
  {
    host: postgres.adminHost, port: postgres.adminPort, database: database.name, ca: pki.caCertificate,
    user: migrator.apply((l) => l.user), password: migrator.apply((l) => l.password), role: db.OWNER_ROLE, files: migrationFiles,
  },
  { dependsOn: database.ready },
);
const monitoringGrants = database.monitoringGrant(migrations.migrations);
// Drift no provider reads, repaired by every up: ALTER SYSTEM, and dropped indexes of sql/.
new DatabaseRepair(
  "database-repair",
  { connection: superuserConnection(postgres.superuser, database.name), ownerRole: db.OWNER_ROLE, indexes: sqlObjects(migrationFiles).indexes },
  { dependsOn: [migrations.migrations], deletedWith: postgres.volume },
);
// The partitions job, run by pg_cron inside the database once its function exists.
const schedules = new Schedules("schedules", { superuser: postgres.superuser, partitionsSchedule: config.schedules.partitions, dataVolume: postgres.volume, dependsOn: [migrations] });

const pgbouncer = new Pgbouncer(
  "pgbouncer",
  {
    ...common, image: images.pgbouncer, memoryBytes: config.pgbouncerMemoryBytes, hostPort: config.pgbouncerPort,
    postgresHost: postgres.internalHost, postgresPort: postgres.internalPort, postgresSocketVolume: postgres instanceof Postgres ? postgres.socketVolume.name : undefined,
    database: db.DATABASE_NAME, pools: budget.pools,
    authUser: db.PGBOUNCER_ROLE, authPassword: database.passwords[db.PGBOUNCER_ROLE], authSchema: db.PGBOUNCER_AUTH_SCHEMA,
    // pgbouncer_exporter reads the console's SHOW commands as the monitoring role.
    statsUsers: [{ user: db.MONITOR_ROLE, scramVerifier: secrets.roles[db.MONITOR_ROLE].scramVerifier }],
    tls: tlsOf("pgbouncer"),
  },
  { dependsOn: [database.pgbouncerAuth] },
);

const pgadminRegistered = pgadminServers(stack, { host: postgres.internalHost, port: postgres.internalPort });
const pgadmin = new Pgadmin(
  "pgadmin",
  {
    ...common, image: images.pgadmin, memoryBytes: config.pgadminMemoryBytes, hostPort: config.pgadminPort,
    email: config.pgadminEmail, publicUrl: config.pgadminPublicUrl, password: secrets.pgadminPassword,
    caCertificate: pki.caCertificate, servers: pgadminRegistered,
    // The browsing server's password: any database through PgBouncer, as the monitoring role.
    pgpass: pulumi
      .secret(database.passwords[db.MONITOR_ROLE])
      .apply((password) => renderPgpass(pgadminRegistered.filter((s) => s.passFile).map((s) => ({ host: s.host, port: s.port, database: "*", username: s.username, password })))),
  },
  { dependsOn: [pgbouncer] },
);

const proxy = new Proxy(
  "proxy",
  {
    ...common, image: images.proxy, memoryBytes: config.proxyMemoryBytes,
    httpPort: config.proxyHttpPort, httpsPort: config.proxyHttpsPort, bindAddress: config.proxyBindAddress,
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
  { container: postgres.containerName, stanza: STANZA, bucket: minio.bucketName },
  { dependsOn: [postgres.container, minio.bucket], deletedWith: postgres.volume },
);

// Prometheus and the two exporters, which log in as the monitoring role once its grants exist; on `ha` every Patroni and etcd member too.
const monitoring = new Monitoring(
  "monitoring",
  {
    ...common,
    images: { prometheus: images.prometheus, postgresExporter: images["postgres-exporter"], pgbouncerExporter: images["pgbouncer-exporter"] },
    prometheusMemoryBytes: config.prometheusMemoryBytes, prometheusPort: config.prometheusPort, protectData: config.protectData,
    thresholds: config.healthThresholds, retentionDays: config.prometheusRetentionDays, webPasswordHash: secrets.prometheusPasswordHash,
    postgres: { host: postgres.internalHost, port: postgres.internalPort, database: db.DATABASE_NAME },
    pgbouncer: { host: pgbouncer.internalHost, port: pgbouncer.internalPort },
    caCertificate: pki.caCertificate, monitorUser: db.MONITOR_ROLE, monitorPassword: database.passwords[db.MONITOR_ROLE],
    cluster: postgres instanceof PostgresCluster ? { members: postgres.members, replicaLagBoundBytes: config.replicaLagBoundBytes } : undefined,
  },
  { dependsOn: [pgbouncer, ...monitoringGrants] },
);

// The restore drill, in a container of its own so a drill never takes the live server's memory or
// CPUs; it reads the live server as its own role, once the stanza exists and the tables do.
const restoreDrill = new RestoreDrill("restore-drill", {
  ...common, image: images.postgres, imageId: postgres.imageId, memoryBytes: config.restoreDrillMemoryBytes, cpus: config.restoreDrillCpus,
  live: { host: postgres.internalHost, port: postgres.internalPort }, admin: postgres.superuser, dataVolume: postgres.volume,
  role: db.DRILL_ROLE, password: database.passwords[db.DRILL_ROLE], caCertificate: pki.caCertificate,
  // Its own MinIO user, read only: a drill restores and verifies, it never writes to the repository.
  pgbackrest: { config: pgbackrestConfig, secrets: pgbackrestSecrets(minio.drillAccessKey, minio.drillSecretKey) },
  crontab: renderCrontab(config.schedules, DRILL_CRON_JOBS),
  // pg_cron's schema too (schedules): the drill locks its tables.
  dependsOn: [database.roles[db.DRILL_ROLE], ...database.ready, migrations.migrations, stanza, minio.drillUser, schedules.partitionsJob],
});

/** Where to connect; no password here (see `credentials`). */
export const endpoints = {
  // Always 127.0.0.1 (kryonix:publishPostgres accepts only true); applications use PgBouncer.
  postgres: { host: LOOPBACK, port: config.postgresPort, database: db.DATABASE_NAME },
  pgbouncer: { host: LOOPBACK, port: pgbouncer.hostPort, database: db.DATABASE_NAME },
  /** publicUrl: through the proxy, what users open. */
  pgadmin: { host: LOOPBACK, port: pgadmin.hostPort, url: `http://${LOOPBACK}:${pgadmin.hostPort}`, publicUrl: config.pgadminPublicUrl, email: pgadmin.email },
  /** certificate: "config" (kryonix:proxyCertificate) or "stack CA". */
  proxy: {
    container: proxy.containerName, bindAddress: config.proxyBindAddress, httpPort: config.proxyHttpPort, httpsPort: config.proxyHttpsPort,
    certificate: config.proxyCertificate ? "config" : "stack CA",
  },
  /** Prometheus' UI and API, basic auth (`credentials.prometheus`). */
  prometheus: { host: LOOPBACK, port: monitoring.prometheusPort, url: `http://${LOOPBACK}:${monitoring.prometheusPort}` },
  /** bucket: the versioned backup bucket (pgBackRest's repository). */
  minio: { host: LOOPBACK, port: minio.apiPort, url: `https://${LOOPBACK}:${minio.apiPort}`, consoleUrl: `https://${LOOPBACK}:${minio.consolePort}`, bucket: minio.bucketName },
};
export const dockerNetwork = network.name;
/** What `npm run backup`, `backup:status`, `backup:verify` (drillContainer) and `restore` work with; no secret. Schedules: cron in UTC, "off" when not scheduled. */
export const backup = {
  container: postgres.containerName, drillContainer: restoreDrill.containerName, stanza: stanza.stanza, bucket: minio.bucketName,
  retentionFullDays: config.backupRetentionDays, archiveTimeoutSeconds: config.archiveTimeoutSeconds, schedules: config.schedules,
};
/** The `ha` topology's members (cluster:status, cluster:switchover); no secret. */
export const cluster = clusterOutput(config, postgres instanceof PostgresCluster ? postgres.members : undefined, dockerConfig.get("host") ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock");
/** What postgresql.conf was tuned from (`npm run test:db:performance` checks SHOW against it). */
export const tuning = { storage: config.storage, overrides: config.postgresOverrides };
/** What `npm run health` and Prometheus' alerting rules judge by (kryonix:healthThresholds over the defaults). No secret. */
export const monitoringSettings = { thresholds: config.healthThresholds, prometheusRetentionDays: config.prometheusRetentionDays };
/** What `npm run audit` checks (inside this container) and the stack's CIS waivers (kryonix:cisWaivers). No secret. */
export const audit = { container: postgres.containerName, stanza: stanza.stanza, waivers: config.cisWaivers };
/** The stack CA's certificate, not a secret: every client verifies PostgreSQL, PgBouncer (verify-full), MinIO and the proxy against it. */
export const caCertificate = pki.caCertificate;
export const appliedMigrations = migrations.applied;
/** The digest of the program's sources and this stack's settings (toolchain/program-digest.ts): a change shows as a changed output, so `npm run up` runs the update. */
export const programDigest = digestOf(__dirname, stack);
/**
 * `pulumi stack output --show-secrets credentials`. `logins`: per role, the user and password its
 * clients log in with now (after `npm run rotate` the other user of the role keeps working until
 * the next rotation); `roles`: every login user's password, by user (the roles and their twins).
 */
export const credentials = pulumi.secret({
  postgres: { user: db.SUPERUSER, password: postgres.superuserPassword },
  pgadmin: { email: pgadmin.email, password: pgadmin.password },
  minio: { accessKey: minio.rootUser, secretKey: minio.rootPassword },
  prometheus: { user: PROMETHEUS_WEB_USER, password: secrets.prometheusPassword },
  logins: database.logins,
  roles: database.passwords,
});
/** `pulumi stack output --show-secrets connections`: libpq URIs per pooled role and the admin path, with the CA (model/connections.ts). */
export const connections = pulumi.secret(pulumi.output({ endpoints, credentials, caCertificate }).apply(stackConnections));
