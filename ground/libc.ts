/**
 * The C library calls the agent makes through FFI: `getsockopt` (the kernel's
 * evidence on a collector connection) and `malloc_trim` (giving freed memory
 * back to the system). Opened once, on first use.
 *
 * @module
 */

const SYMBOLS = {
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  // glibc only (musl has none): optional, so the library opens without it.
  malloc_trim: { parameters: ["usize"], result: "i32", optional: true },
} as const;

/** The C library's symbols this agent uses. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let opened: Libc | null | undefined;

/**
 * The C library, or `null` where it cannot be opened (not Linux, or no FFI
 * permission): callers then do without what it would tell or do.
 *
 * @example
 * ```ts
 * import { libc } from "./libc.ts";
 * const c = libc();
 * if (c?.malloc_trim) c.malloc_trim(0n);
 * ```
 */
export function libc(): Libc | null {
  if (opened !== undefined) return opened;
  try {
    opened = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch {
    opened = null;
  }
  return opened;
}
