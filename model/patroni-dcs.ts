/**
 * Patroni's dynamic configuration (the DCS, shared by every node): the part the stack owns
 * (render/patroni.ts patroniDynamicConfig builds it) and the patch that brings the DCS to it. Pure,
 * and free of any YAML library: providers/patroni-config.ts runs it inside the dynamic-provider
 * plugin, which serialises what it imports.
 */
import type { PgParams } from "./tuning";

/** synchronous_mode, the lag bound and the parameters, as the DCS holds them. */
export interface PatroniDynamicConfig {
  synchronous_mode: boolean;
  maximum_lag_on_failover: number;
  postgresql: { parameters: PgParams };
}

/**
 * The `patronictl edit-config --apply` patch that turns `actual` into `desired`, or undefined when
 * they agree. A parameter the stack set before (`previous`) and no longer sets is removed (null).
 * Values are compared as text: the DCS keeps what it was given, JSON or YAML may give '100' back as 100. Pure.
 */
export function dynamicConfigPatch(
  desired: PatroniDynamicConfig,
  actual: { synchronous_mode?: unknown; maximum_lag_on_failover?: unknown; postgresql?: { parameters?: Record<string, unknown> } },
  previous: readonly string[] = [],
): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  if (actual.synchronous_mode !== desired.synchronous_mode) patch.synchronous_mode = desired.synchronous_mode;
  if (Number(actual.maximum_lag_on_failover) !== desired.maximum_lag_on_failover) patch.maximum_lag_on_failover = desired.maximum_lag_on_failover;
  const now = actual.postgresql?.parameters ?? {};
  const parameters: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(desired.postgresql.parameters)) if (now[k] === undefined || now[k] === null || String(now[k]) !== v) parameters[k] = v;
  for (const k of previous) if (!(k in desired.postgresql.parameters) && now[k] !== undefined && now[k] !== null) parameters[k] = null;
  if (Object.keys(parameters).length) patch.postgresql = { parameters };
  return Object.keys(patch).length ? patch : undefined;
}
