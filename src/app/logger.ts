// pino, JSON lines on stdout. Key material is never put in a log object; the
// redaction paths are the second line of defence should a config or key object
// reach a log call anyway.
import { pino } from "pino";
import type { DestinationStream, Logger } from "pino";

export type { DestinationStream, Logger } from "pino";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace";

export const REDACT_PATHS = [
  "key",
  "secret",
  "mnHaKey",
  "*.key",
  "*.secret",
  "*.mnHaKey",
  "realms[*].key",
  "realms[*].mnHaKey",
  "*.realms[*].key",
  "*.realms[*].mnHaKey",
  // The fleet section's credentials (broker password, TLS key path, context signing key).
  "password",
  "contextKey",
  "*.password",
  "*.contextKey",
  "fleet.password",
  "fleet.contextKey",
  "fleet.tls.key",
  "*.fleet.password",
  "*.fleet.contextKey",
  "*.fleet.tls.key",
];

/** `destination` defaults to synchronous stdout (nothing lost at exit). */
export function createLogger(level: LogLevel, destination?: DestinationStream, base: Record<string, unknown> = {}): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid, ...base },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
