/**
 * PgBouncer's leg to PostgreSQL: a Unix socket in a Docker volume both containers mount, so the
 * pooler's server connections need no TCP stack and no TLS (PgBouncer never asks for TLS on a
 * Unix socket). Clients still reach PgBouncer over TLS only. Pure.
 *
 * Who may connect is decided twice: by the file system (the socket is 0770 and in the group below,
 * of which only PostgreSQL's and PgBouncer's container users are members; PgBouncer mounts the
 * volume read-only, so it cannot plant a socket of its own), and by pg_hba.conf (`local` lines for
 * the pooled users only, with scram-sha-256). PgBouncer runs as a user of its own (PGBOUNCER_UID),
 * never as a uid that PostgreSQL's container knows as `postgres`: peer authentication of the
 * superuser on the socket would otherwise let the pooler's process log in as postgres.
 */

/** Where the volume is mounted in both containers (PostgreSQL's own socket stays in /run/postgresql). */
export const PG_SOCKET_DIR = "/run/kryonix-pgsocket";
/** The group the shared socket belongs to: the same name and gid in the postgres and pgbouncer images. */
export const PG_SOCKET_GROUP = "kryonix-pgsocket";
export const PG_SOCKET_GID = 7432;
/** PgBouncer's user in its image (images/pgbouncer), a member of PG_SOCKET_GROUP only. */
export const PGBOUNCER_USER = "kryonix-pgbouncer";
export const PGBOUNCER_UID = 7432;

/**
 * postgresql.conf settings: the container's private socket directory first (the cron jobs, `docker
 * exec psql` and the audit use it), then the shared one; both sockets in PG_SOCKET_GROUP.
 */
export function postgresSocketParameters(): Record<string, string> {
  return {
    unix_socket_directories: `/run/postgresql,${PG_SOCKET_DIR}`,
    unix_socket_group: PG_SOCKET_GROUP,
  };
}
