import { describe, expect, it } from "vitest";
import { settleStackFile } from "../../model/stack-file";

const committed = "# The dev stack runs on the defaults.\nconfig: {}\n";
const salt = "encryptionsalt: v1:bg89xq9pDAo=:v1:isKLtaKj3MflVrqJ:JREdDeEJw5lJU6zxcuI41LLJCrUAaQ==\n";

describe("settleStackFile", () => {
  it("puts the committed text back when the CLI only added its salt and dropped the comments", () => {
    expect(settleStackFile(committed, salt)).toBe(committed);
    expect(settleStackFile(committed, `${salt}config: {}\n`)).toBe(committed);
  });

  it("keeps a real change, without the salt", () => {
    const after = `${salt}config:\n  kryonix:postgresPort: "25432"\n`;
    expect(settleStackFile(committed, after)).toBe('config:\n  kryonix:postgresPort: "25432"\n');
  });

  it("keeps the salt when the config holds an encrypted value, which needs it", () => {
    const after = `${salt}config:\n  kryonix:x:\n    secure: v1:abc\n`;
    expect(settleStackFile(committed, after)).toBe(after);
  });

  it("leaves a file the command removed removed", () => {
    expect(settleStackFile(committed, undefined)).toBeUndefined();
  });

  it("leaves a file the command did not touch, and a file that did not exist", () => {
    expect(settleStackFile(committed, committed)).toBe(committed);
    expect(settleStackFile(undefined, undefined)).toBeUndefined();
    expect(settleStackFile(undefined, salt)).toBe("config: {}\n");
  });

  it("keeps a salt the user committed", () => {
    expect(settleStackFile(`${salt}${committed}`, `${salt}config: {}\n`)).toBe(`${salt}${committed}`);
  });
});
