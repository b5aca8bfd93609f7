/**
 * Which login user of a role clients use, and which rotation last set each user's password.
 *
 * PostgreSQL keeps one password per role and PgBouncer looks up one secret per user, so a role
 * whose clients live outside the stack gets two login users (AWS Secrets Manager's "alternating
 * users"): the role itself and its twin `<role>_b`, a member of the role that assumes it at login.
 * Rotation n sets a new password on the user that is not current and makes it current; the
 * other one keeps its password until rotation n + 1, so a client that still holds the previous
 * credentials keeps logging in. Odd rotations set the twin, even ones the role itself.
 *
 * Roles the stack itself consumes (the monitor, PgBouncer's lookup role) have one user: their
 * consumers are rolled by the same `pulumi up` that sets the new password.
 */
import { isAlternating, twinOf } from "./database";
import { invalid } from "./messages";

export interface RoleUsers {
  /** The user clients log in as now. */
  current: string;
  /** Each user of the role -> the rotation that last set its password (0: generated with the stack, never rotated). */
  setAt: Record<string, number>;
}

/** The users of `role` after `count` rotations. Pure. */
export function roleUsers(role: string, count = 0): RoleUsers {
  if (!Number.isInteger(count) || count < 0) throw new Error(invalid(`rotation count of ${role}`, count, "a whole number from 0"));
  if (!isAlternating(role)) return { current: role, setAt: { [role]: count } };
  const twin = twinOf(role);
  // The role's own password was last set by the highest even rotation, the twin's by the highest odd one.
  const even = count - (count % 2);
  const odd = count === 0 ? 0 : count - ((count + 1) % 2);
  return { current: count % 2 === 0 ? role : twin, setAt: { [role]: even, [twin]: odd } };
}
