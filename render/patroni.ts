/**
 * Patroni's configuration file for one node of the cluster (model/cluster.ts). Pure. The file holds
 * the superuser, replication, rewind and REST API passwords: the stack uploads it root-only and the
 * patroni image's entrypoint gives postgres a private copy.
 */
import * as yaml from "js-yaml";
import {
  CLUSTER_ROLES,
  ETCD_CLIENT_PORT,
  PATRONI_NAMESPACE,
  PATRONI_REST_PORT,
  PATRONI_REST_USER,
  PATRONI_TIMINGS,
  POSTGRES_PORT,
  type ClusterMembers,
} from "../model/cluster";
import { invalid } from "../model/messages";
import type { PgParams } from "../model/tuning";
import type { PatroniDynamicConfig } from "../model/patroni-dcs";

export const PATRONI_DATA_DIR = "/var/lib/postgresql/data";
export const PATRONI_BIN_DIR = "/usr/lib/postgresql/17/bin";
/** Where the stack uploads the file (images/patroni/entrypoint.sh reads it there). */
export const PATRONI_CONFIG_FILE = "/etc/kryonix/patroni.yml";
const RUNTIME_DIR = "/run/postgresql";

export interface PatroniPasswords {
  superuser: string;
  replication: string;
  rewind: string;
  restApi: string;
}

export interface PatroniNodeOptions {
  members: ClusterMembers;
  /** 1-based: node N of members.nodes. */
  node: number;
  /** The stack's tuning (model/tuning.ts): the cluster's first configuration in the DCS. */
  parameters: PgParams;
  /** pg_hba.conf lines for clients, after the cluster's own replication and rewind lines. */
  pgHba: readonly string[];
  passwords: PatroniPasswords;
  /** pgBackRest's stanza: archive-push, archive-get and replicas restored from the repository. */
  stanza: string;
  synchronousMode: boolean;
  replicaLagBoundBytes: number;
  /**
   * Parameters every start of this node applies over the DCS's (TLS files, the server log, the
   * stack's tuning): a changed file reaches the node with its next container. Patroni takes the few
   * that must match across nodes (max_connections, wal_level, ...) from the DCS only.
   */
  localParameters?: PgParams;
  /**
   * The stack CA's file on the node: replication and pg_rewind then go over TLS, verified by name
   * (hostssl lines, sslmode verify-full). Without it (the smoke test's plain cluster) they may use TCP without TLS.
   */
  tlsCaFile?: string;
}

/**
 * Parameters Patroni sets per node from its own sections (listen, connect_address, data_dir) or
 * refuses to take from the DCS: the stack's value would be ignored or wrong on a cluster node.
 */
const NODE_LOCAL_PARAMETERS = new Set(["listen_addresses", "port", "data_directory", "config_file", "hba_file", "ident_file", "cluster_name", "unix_socket_directories"]);

/** What streaming replication, pg_rewind and failover need, whatever the stack's tuning says. */
export function replicationParameters(stanza: string): PgParams {
  return {
    wal_level: "replica",
    hot_standby: "on",
    // pg_rewind needs hint bits WAL-logged (checksums do too, this makes it independent of initdb).
    wal_log_hints: "on",
    max_wal_senders: "10",
    max_replication_slots: "10",
    wal_keep_size: "256MB",
    hot_standby_feedback: "on",
    // Replicas report their position every second, so the lag HAProxy and Patroni judge is fresh.
    wal_receiver_status_interval: "1s",
    password_encryption: "scram-sha-256",
    archive_mode: "on",
    archive_command: `pgbackrest --stanza=${stanza} archive-push %p`,
  };
}

const STANZA = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

function check(o: PatroniNodeOptions): void {
  if (!Number.isInteger(o.node) || o.node < 1 || o.node > o.members.nodes.length) {
    throw new Error(invalid("patroni node", o.node, `a node number from 1 to ${o.members.nodes.length}`));
  }
  for (const [k, v] of Object.entries(o.passwords)) {
    if (typeof v !== "string" || v.length < 16 || /[\s'"\\]/.test(v)) {
      throw new Error(invalid(`patroni ${k} password`, "<hidden>", "at least 16 characters, no whitespace, quotes or backslashes"));
    }
  }
  if (!STANZA.test(o.stanza)) throw new Error(invalid("pgBackRest stanza", o.stanza, "letters, digits, '_' and '-', starting with a letter or digit"));
  if (!Number.isSafeInteger(o.replicaLagBoundBytes) || o.replicaLagBoundBytes <= 0) {
    throw new Error(invalid("replica lag bound", o.replicaLagBoundBytes, "a whole number of bytes greater than 0"));
  }
  for (const line of o.pgHba) {
    if (/[\n\r]/.test(line) || !/^(local|host|hostssl|hostnossl)\s/.test(line)) {
      throw new Error(invalid("pg_hba line", line, "one line starting with local, host, hostssl or hostnossl"));
    }
  }
}

function localOnly(parameters: PgParams): PgParams {
  return Object.fromEntries(Object.entries(parameters).filter(([k]) => !NODE_LOCAL_PARAMETERS.has(k)));
}

/**
 * The part of Patroni's dynamic configuration (the DCS, shared by every node) the stack owns: what
 * the bootstrap writes once, and what providers/patroni-config.ts keeps equal to the stack's
 * settings afterwards (`synchronous_mode`, the lag bound, and the parameters Patroni takes from the
 * DCS only, such as max_connections). Pure.
 */

export type { PatroniDynamicConfig };

export function patroniDynamicConfig(o: Pick<PatroniNodeOptions, "parameters" | "stanza" | "synchronousMode" | "replicaLagBoundBytes">): PatroniDynamicConfig {
  return {
    synchronous_mode: o.synchronousMode,
    maximum_lag_on_failover: o.replicaLagBoundBytes,
    postgresql: { parameters: { ...localOnly(o.parameters), ...replicationParameters(o.stanza) } },
  };
}

/** patroni.yml for node N. */
export function renderPatroniYml(o: PatroniNodeOptions): string {
  check(o);
  const node = o.members.nodes[o.node - 1];
  const dynamic = patroniDynamicConfig(o);
  const verified = o.tlsCaFile ? { sslmode: "verify-full", sslrootcert: o.tlsCaFile } : {};
  const hostType = o.tlsCaFile ? "hostssl" : "host";
  const config = {
    scope: o.members.scope,
    namespace: PATRONI_NAMESPACE,
    name: node.name,
    log: { level: "INFO", format: "%(asctime)s %(levelname)s: %(message)s" },
    restapi: {
      listen: `0.0.0.0:${PATRONI_REST_PORT}`,
      connect_address: `${node.container}:${PATRONI_REST_PORT}`,
      // Only the unsafe endpoints (POST, PUT, PATCH, DELETE) ask for it; HAProxy's GET checks stay open.
      authentication: { username: PATRONI_REST_USER, password: o.passwords.restApi },
    },
    etcd3: {
      hosts: o.members.etcd.map((m) => `${m.container}:${ETCD_CLIENT_PORT}`),
      protocol: "http",
    },
    bootstrap: {
      dcs: {
        ttl: PATRONI_TIMINGS.ttl,
        loop_wait: PATRONI_TIMINGS.loopWait,
        retry_timeout: PATRONI_TIMINGS.retryTimeout,
        maximum_lag_on_failover: dynamic.maximum_lag_on_failover,
        synchronous_mode: dynamic.synchronous_mode,
        synchronous_node_count: 1,
        // With the only standby gone the leader keeps accepting writes instead of stopping the platform.
        synchronous_mode_strict: false,
        // Without etcd's quorum a leader that still reaches every member keeps leading.
        failsafe_mode: true,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: dynamic.postgresql.parameters,
        },
      },
      initdb: [
        "data-checksums",
        { encoding: "UTF8" },
        { "locale-provider": "builtin" },
        { "builtin-locale": "C.UTF-8" },
        { "auth-local": "peer" },
        { "auth-host": "scram-sha-256" },
      ],
    },
    postgresql: {
      // The loopback and the container's own name only (CIS 5.2), as the single server.
      listen: `127.0.0.1,${node.container}:${POSTGRES_PORT}`,
      connect_address: `${node.container}:${POSTGRES_PORT}`,
      data_dir: PATRONI_DATA_DIR,
      // Patroni's own sessions over the socket (peer): pg_hba asks TLS of every TCP client.
      use_unix_socket: true,
      bin_dir: PATRONI_BIN_DIR,
      pgpass: `${RUNTIME_DIR}/kryonix/pgpass`,
      authentication: {
        superuser: { username: CLUSTER_ROLES.superuser, password: o.passwords.superuser },
        replication: { username: CLUSTER_ROLES.replication, password: o.passwords.replication, ...verified },
        rewind: { username: CLUSTER_ROLES.rewind, password: o.passwords.rewind, ...verified },
      },
      parameters: { ...localOnly(o.localParameters ?? {}), unix_socket_directories: RUNTIME_DIR },
      // Read from this file on every start, so a changed list reaches every node.
      pg_hba: [
        "local all all peer",
        `${hostType} replication ${CLUSTER_ROLES.replication} samenet scram-sha-256`,
        `${hostType} postgres ${CLUSTER_ROLES.rewind} samenet scram-sha-256`,
        ...o.pgHba,
      ],
      use_pg_rewind: true,
      remove_data_directory_on_rewind_failure: true,
      // From the repository when a backup exists (no load on the leader), else a base backup.
      create_replica_methods: ["pgbackrest", "basebackup"],
      pgbackrest: { command: `/usr/bin/pgbackrest --stanza=${o.stanza} --delta restore`, keep_data: true, no_params: true },
      basebackup: [{ checkpoint: "fast" }],
      recovery_conf: { restore_command: `pgbackrest --stanza=${o.stanza} archive-get %f "%p"` },
    },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
  };
  return `# Generated by kryonix-db; do not edit.\n${yaml.dump(config, { lineWidth: 200 })}`;
}
