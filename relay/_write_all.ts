/**
 * Writing a buffer out with a stall timeout, shared by the links.
 *
 * @module
 */

import type { Clock } from "./clock.ts";

/**
 * Writes all of `data` to `conn`. Each `write` call must complete within
 * `timeoutMs`; when one does not, `onTimeout` is called (it should close the
 * connection, which ends the pending write) and the promise rejects with
 * `message`. `onProgress` is called after each completed write call.
 */
export async function writeAllWithin(
  conn: Deno.Conn,
  data: Uint8Array,
  clock: Clock,
  timeoutMs: number,
  message: string,
  onTimeout: () => void,
  onProgress: () => void,
): Promise<void> {
  let off = 0;
  while (off < data.length) {
    off += await new Promise<number>((resolve, reject) => {
      const timer = clock.setTimeout(() => {
        onTimeout();
        reject(new Error(message));
      }, timeoutMs);
      conn.write(data.subarray(off)).then(
        (n) => {
          clock.clearTimeout(timer);
          resolve(n);
        },
        (e) => {
          clock.clearTimeout(timer);
          reject(e);
        },
      );
    });
    onProgress();
  }
}
