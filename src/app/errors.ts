// Errors as log fields: message, code and syscall only (never the input).
import { isNativeIoError } from "../io/native-addon.ts";

export function describeError(e: unknown): Record<string, unknown> {
  if (isNativeIoError(e)) return { message: e.message, code: e.code, syscall: e.syscall };
  if (e instanceof Error) return { message: e.message, code: (e as NodeJS.ErrnoException).code };
  return { message: String(e) };
}
