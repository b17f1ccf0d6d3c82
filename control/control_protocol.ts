/**
 * What passes over the control socket, shared by the server (`ControlServer`)
 * and the client (`controlRequest`): the requests (one union, discriminated
 * on `command`), the answer each command gets, the response envelope, and the
 * one parser of an incoming request line.
 *
 * The wire format: one JSON object per line each way. A request is
 * `{"command": "status"}` (optionally `"detail": true`), `{"command": "reload"}`
 * or `{"command": "rotate"}`; the answer is `{"ok": true, "result": …}` or
 * `{"ok": false, "error": "…"}`. Keys a command does not know are ignored, so
 * an older agent still answers a newer client.
 *
 * @module
 */

import type { RotateResult } from "../watchdog/mod.ts";
import type { TapEvent } from "../relay/mod.ts";
import type { Status } from "./status.ts";
import { errorText } from "../ground/mod.ts";

/** `{"command": "status"}`: the spec's status document; `detail: true` adds {@linkcode Rates}. */
export interface StatusRequest {
  /** The command. */
  command: "status";
  /** Add `rates` to the answer (what `agent status` shows; `--json` leaves them out). */
  detail?: boolean;
}

/** `{"command": "reload"}`: reread the config and apply it; answers a summary sentence. */
export interface ReloadRequest {
  /** The command. */
  command: "reload";
}

/** `{"command": "rotate"}`: HUP rsyslogd and prove it survived (logrotate's postrotate). */
export interface RotateRequest {
  /** The command. */
  command: "rotate";
}

/**
 * `{"command": "tap"}`: a live copy of the messages passing through, one JSON
 * line each, until `limit` or the client goes.
 */
export interface TapRequest {
  /** The command. */
  command: "tap";
  /** Only what this input received (its name: `tcp:127.0.0.1:5514`). */
  input?: string;
  /** Only what was written to this collector entry (its address as in status). */
  collector?: string;
  /** Only messages containing this text (or matching it, with `regex`). */
  match?: string;
  /** `match` is a regular expression. */
  regex?: boolean;
  /** Stop after this many messages. */
  limit?: number;
}

/** `{"command": "spool"}`: the running spool's word on its files (see {@linkcode SpoolFiles}). */
export interface SpoolRequest {
  /** The command. */
  command: "spool";
}

/**
 * The answer to `spool`: the directory, the acknowledged position, and how
 * far each segment file is written, so that `agent spool` reads the files
 * without racing the writer.
 */
export interface SpoolFiles {
  /** The spool directory. */
  dir: string;
  /** The acknowledged position (segment -1: none yet). */
  checkpoint: { segment: number; offset: number };
  /** Each segment's id and the bytes written of it. */
  written: [number, number][];
}

/** Each command's request, by command. */
export interface ControlRequests {
  /** `{"command": "status"}`, optionally with `"detail": true`. */
  status: StatusRequest;
  /** `{"command": "reload"}`. */
  reload: ReloadRequest;
  /** `{"command": "rotate"}`. */
  rotate: RotateRequest;
  /** `{"command": "tap", …}`. */
  tap: TapRequest;
  /** `{"command": "spool"}`. */
  spool: SpoolRequest;
}

/** A command the control socket knows. */
export type ControlCommand = keyof ControlRequests;

/**
 * A request to the control socket, discriminated on `command`.
 *
 * @example
 * ```ts
 * import type { ControlRequest } from "./control_protocol.ts";
 *
 * const requests: ControlRequest[] = [
 *   { command: "status", detail: true },
 *   { command: "reload" },
 *   { command: "rotate" },
 * ];
 * ```
 */
export type ControlRequest = ControlRequests[ControlCommand];

/** Messages per second over the last minute, as the detailed status gives them. */
export interface Rates {
  /** Messages received a second. */
  received: number;
  /** Messages a collector confirmed a second. */
  forwarded: number;
  /** Messages dropped a second (spool full). */
  dropped: number;
}

/** The answer to `status`: the spec's document, with `rates` when `detail` was `true`. */
export type StatusAnswer = Status & { rates?: Rates };

/** Each command's answer (the `result` of an `ok` response), by command. */
export interface ControlAnswers {
  /** The spec's status document; with `rates` when the request had `"detail": true`. */
  status: StatusAnswer;
  /** One sentence on what the reload changed. */
  reload: string;
  /** The rsyslogd that is healthy after the HUP, and whether it had to be restarted. */
  rotate: RotateResult;
  /** The tap, streamed by the server as {@linkcode TapLine}s (not one answer). */
  tap: TapSession;
  /** The spool's files as the agent has them. */
  spool: SpoolFiles;
}

/** A tap being served: what it holds, what it skipped; closed when the client goes. */
export interface TapSession {
  /** What passed since the last call, waiting for something; `[]` once closed. */
  take(): Promise<TapEvent[]>;
  /** Messages skipped so far: the client read slower than the relay. */
  skipped(): number;
  /** Ends the tap. */
  close(): void;
}

/**
 * The lines of a tap after its `{"ok": true, "result": "tap open"}`: a message,
 * the count skipped so far (when it grew), or the end (the limit reached).
 */
export type TapLine =
  | { at: string; input?: string; collector?: string; size: number; message: string }
  | { skipped: number }
  | { end: true; sent: number; skipped: number };

/**
 * One answer line: the command's `result`, or the `error` that says what
 * failed and what to do.
 */
export type ControlResponse<C extends ControlCommand = ControlCommand> =
  | { ok: true; result: ControlAnswers[C] }
  | { ok: false; error: string };

/** The commands, in the order error messages list them. */
export const CONTROL_COMMANDS: readonly ControlCommand[] = [
  "status",
  "reload",
  "rotate",
  "tap",
  "spool",
];

/** What {@linkcode parseControlRequest} makes of a line: the request, or why it is not one. */
export type ParsedControlRequest =
  | { ok: true; request: ControlRequest }
  | { ok: false; error: string };

/** How much of a bad request an error message quotes. */
const QUOTE_MAX = 60;
const EXAMPLE = '{"command": "status"}';

/**
 * Parses one request line (without its LF). Gives the typed request, or an
 * error that names the problem, quotes the value and says what to send
 * instead; the server answers that error as `{"ok": false, "error": …}`.
 * Keys a command does not take are left in the request and never read, so a
 * newer client's extra options do no harm to an older agent.
 *
 * @example
 * ```ts
 * import { parseControlRequest } from "./control_protocol.ts";
 *
 * const good = parseControlRequest('{"command": "status", "detail": true}');
 * if (good.ok && good.request.command === "status") console.log(good.request.detail); // true
 *
 * const bad = parseControlRequest('{"command": "restart"}');
 * if (!bad.ok) console.log(bad.error); // unknown command "restart"; known: status, reload, rotate
 * ```
 */
export function parseControlRequest(line: string): ParsedControlRequest {
  if (line.trim() === "") {
    return fail(`request is an empty line; send one JSON object per line, like ${EXAMPLE}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return fail(
      `request is not JSON: ${quote(line)}; send one JSON object per line, like ${EXAMPLE}`,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail(`request must be a JSON object like ${EXAMPLE}, not ${describe(value)}`);
  }
  const fields = value as Record<string, unknown>;
  const command = fields.command;
  if (typeof command !== "string") {
    const keys = Object.keys(fields).map((k) => JSON.stringify(k)).join(", ");
    return fail(
      `request has no "command" string (${
        "command" in fields
          ? `"command" is ${describe(command)}`
          : `its keys: ${quote(keys) || "none"}`
      }); send one of ${CONTROL_COMMANDS.join(", ")}, like ${EXAMPLE}`,
    );
  }
  switch (command) {
    case "status": {
      const detail = fields.detail;
      if (detail !== undefined && typeof detail !== "boolean") {
        return fail(
          `status: "detail" must be true or false, not ${
            describe(detail)
          }; send {"command": "status", "detail": true}`,
        );
      }
      return { ok: true, request: { ...fields, command } }; // detail: checked above
    }
    case "reload":
    case "rotate":
    case "spool":
      return { ok: true, request: { ...fields, command } };
    case "tap": {
      for (const key of ["input", "collector", "match"] as const) {
        const v = fields[key];
        if (v !== undefined && typeof v !== "string") {
          return fail(`tap: "${key}" must be a string, not ${describe(v)}`);
        }
      }
      if (fields.regex !== undefined && typeof fields.regex !== "boolean") {
        return fail(`tap: "regex" must be true or false, not ${describe(fields.regex)}`);
      }
      const limit = fields.limit;
      if (limit !== undefined && !(Number.isSafeInteger(limit) && (limit as number) > 0)) {
        return fail(`tap: "limit" must be a positive integer, not ${describe(limit)}`);
      }
      if (fields.regex === true) {
        try {
          new RegExp(String(fields.match ?? ""));
        } catch (e) {
          return fail(
            `tap: "match" is not a regular expression: ${errorText(e)}`,
          );
        }
      }
      return { ok: true, request: { ...fields, command } as TapRequest };
    }
    default:
      return fail(
        `unknown command ${quote(JSON.stringify(command))}; known: ${CONTROL_COMMANDS.join(", ")}`,
      );
  }
}

function fail(error: string): ParsedControlRequest {
  return { ok: false, error };
}

/** `text`, cut to {@linkcode QUOTE_MAX} characters. */
function quote(text: string): string {
  return text.length <= QUOTE_MAX ? text : `${text.slice(0, QUOTE_MAX)}… (${text.length} chars)`;
}

/** A JSON value for an error message: what it is and, quoted, what it says (`a string "x"`). */
function describe(value: unknown): string {
  if (value === null) return "null";
  const text = quote(JSON.stringify(value));
  if (Array.isArray(value)) return `an array ${text}`;
  return `${typeof value === "object" ? "an object" : `a ${typeof value}`} ${text}`;
}
