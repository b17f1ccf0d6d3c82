/**
 * `sendSeq` on a thread of its own, so that what the test's main thread does
 * meanwhile (a fake collector parsing megabytes, status polls) does not show
 * up as the sender's write waits.
 *
 * @module
 */

import { sendSeq, type SendSeqOptions, type SendSeqResult } from "../../testkit/mod.ts";
import { errorText } from "../../ground/mod.ts";

/** What the worker answers: the result, or why it failed. */
type Answer = { ok: true; result: SendSeqResult } | { ok: false; error: string };

/** Runs `sendSeq(opts)` in a Web Worker; resolves with its result. */
export function sendSeqOnThread(opts: SendSeqOptions): Promise<SendSeqResult> {
  const worker = new Worker(import.meta.url, { type: "module" });
  return new Promise<SendSeqResult>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<Answer>) => {
      worker.terminate();
      if (e.data.ok) resolve(e.data.result);
      else reject(new Error(e.data.error));
    };
    worker.onerror = (e) => {
      worker.terminate();
      e.preventDefault();
      reject(new Error(`sender thread: ${e.message}`));
    };
    worker.postMessage(opts);
  });
}

// Inside the worker: one request, one answer.
if ("WorkerGlobalScope" in globalThis) {
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent<SendSeqOptions>) => void) | null;
    postMessage: (answer: Answer) => void;
  };
  scope.onmessage = async (e) => {
    try {
      scope.postMessage({ ok: true, result: await sendSeq(e.data) });
    } catch (err) {
      scope.postMessage({ ok: false, error: errorText(err) });
    }
  };
}
