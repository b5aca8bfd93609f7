// The probe lives in lib/: the stack's TLS reload (components/tls-files.ts) waits on it too.
export * from "../../lib/tls-probe";
