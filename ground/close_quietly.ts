/**
 * Closing what may be closed already.
 *
 * @module
 */

/** Closes `closer` (a connection, a listener, a file), ignoring that it was closed already. */
export function closeQuietly(closer: { close(): void } | undefined): void {
  try {
    closer?.close();
  } catch {
    // Already closed.
  }
}
