import { describe, expect, it } from "vitest";
import { checkNetworkArgs } from "../../../components/network";

describe("Network arguments", () => {
  it("accept the defaults", () => {
    expect(() => checkNetworkArgs({ stack: "dev" })).not.toThrow();
  });

  it("Network: a bad stack name", () => {
    expect(() => checkNetworkArgs({ stack: "Prod!" })).toThrow(/Pulumi stack name: "Prod!" is invalid/);
  });
});
