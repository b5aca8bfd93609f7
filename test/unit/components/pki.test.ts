import { describe, expect, it } from "vitest";
import { checkPkiArgs } from "../../../components/pki";
import { ofType, runProgram, useProgramMocks } from "../../support/program-mocks";

useProgramMocks();

describe("Pki", () => {
  it("accept the defaults", () => {
    expect(() => checkPkiArgs({ stack: "dev", servers: { minio: { dnsNames: ["minio"], ipAddresses: [] } } })).not.toThrow();
    expect(() => checkPkiArgs({ stack: "dev", servers: {}, renewBeforeDays: 365 })).not.toThrow();
  });

  it("Pki: validity, renewal and names", () => {
    expect(() => checkPkiArgs({ stack: "dev", servers: {}, serverValidityDays: 5000, caValidityDays: 3650 })).toThrow(/serverValidityDays/);
    expect(() => checkPkiArgs({ stack: "dev", servers: { minio: { dnsNames: [], ipAddresses: [] } } })).toThrow(/servers.minio/);
    expect(() => checkPkiArgs({ stack: "Dev!", servers: {} })).toThrow(/Pulumi stack name/);
    // Renewal must come before expiry: below the server certificates' validity.
    expect(() => checkPkiArgs({ stack: "dev", servers: {}, renewBeforeDays: 0 })).toThrow(/Pki renewBeforeDays: 0 is invalid/);
    expect(() => checkPkiArgs({ stack: "dev", servers: {}, renewBeforeDays: 1.5 })).toThrow(/Pki renewBeforeDays/);
    expect(() => checkPkiArgs({ stack: "dev", servers: {}, serverValidityDays: 30, renewBeforeDays: 30 })).toThrow(
      /Pki renewBeforeDays: 30 is invalid: an integer from 1 to below serverValidityDays \(30\)/,
    );
    expect(() => checkPkiArgs({ stack: "dev", servers: {}, serverValidityDays: 30, renewBeforeDays: 29 })).not.toThrow();
    // kryonix:certRenewBeforeDays' whole range fits the default 825 days.
    expect(() => checkPkiArgs({ stack: "dev", servers: {}, renewBeforeDays: 1 })).not.toThrow();
  });

  it("renews certificates kryonix:certRenewBeforeDays days before they expire", async () => {
    const run = await runProgram("dev", { "kryonix:certRenewBeforeDays": "10" });
    expect(run.error).toBeUndefined();
    for (const type of ["tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert"]) {
      for (const r of ofType(run, type)) expect(r.inputs.earlyRenewalHours, r.name).toBe(240);
    }
    // A whole program run under mocks: seconds on a loaded machine.
  }, 60_000);
});
