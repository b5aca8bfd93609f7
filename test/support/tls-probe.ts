// The probe lives in lib/: the stack's TLS reload (providers/tls-files.ts) waits on it too.
export * from "../../io/tls-probe";
