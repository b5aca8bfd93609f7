import { describe, expect, it } from "vitest";
import { LOGIN_ROLES, ALTERNATING_ROLES, loginUsers, SINGLE_USER_ROLES, twinOf } from "../../model/database";
import { roleUsers } from "../../model/rotation";

describe("alternating users (model/rotation.ts)", () => {
  it("covers every rotatable role exactly once", () => {
    expect([...ALTERNATING_ROLES, ...SINGLE_USER_ROLES].sort()).toEqual([...LOGIN_ROLES].sort());
  });

  it("names the twins and lists every login user", () => {
    expect(twinOf("kryonix_app")).toBe("kryonix_app_b");
    expect(loginUsers(["kryonix_app", "kryonix_monitor"])).toEqual(["kryonix_app", "kryonix_monitor", "kryonix_app_b"]);
  });

  it("rotates the user that is not current, and leaves the other one's password as it was", () => {
    const seen = [0, 1, 2, 3, 4, 5].map((n) => roleUsers("kryonix_app", n));
    expect(seen.map((u) => u.current)).toEqual(["kryonix_app", "kryonix_app_b", "kryonix_app", "kryonix_app_b", "kryonix_app", "kryonix_app_b"]);
    expect(seen.map((u) => u.setAt.kryonix_app)).toEqual([0, 0, 2, 2, 4, 4]);
    expect(seen.map((u) => u.setAt.kryonix_app_b)).toEqual([0, 1, 1, 3, 3, 5]);
    for (let n = 1; n < seen.length; n++) {
      const changed = Object.keys(seen[n].setAt).filter((u) => seen[n].setAt[u] !== seen[n - 1].setAt[u]);
      // Exactly one user's password changes per rotation: the one that becomes current.
      expect(changed).toEqual([seen[n].current]);
    }
  });

  it("keeps one user for the roles the stack consumes", () => {
    expect(roleUsers("kryonix_monitor", 3)).toEqual({ current: "kryonix_monitor", setAt: { kryonix_monitor: 3 } });
    expect(roleUsers("kryonix_pgbouncer")).toEqual({ current: "kryonix_pgbouncer", setAt: { kryonix_pgbouncer: 0 } });
  });

  it("refuses a count that is not a whole number", () => {
    expect(() => roleUsers("kryonix_app", -1)).toThrow(/rotation count of kryonix_app: -1 is invalid/);
    expect(() => roleUsers("kryonix_app", 1.5)).toThrow(/a whole number/);
  });
});
