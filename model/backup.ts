/**
 * pgBackRest's names the whole stack agrees on: the server's archive_command (model/config.ts),
 * the scheduled backups (model/backup-schedule.ts), the scripts and the stanza resource use them. Pure.
 */

/** The stanza: pgBackRest's name for the cluster it backs up. */
export const STANZA = "kryonix";
/** What postgresql.conf runs for every finished WAL segment. */
export const ARCHIVE_COMMAND = `pgbackrest --stanza=${STANZA} archive-push %p`;
