/**
 * The public face of `control/`: what the other folders use of it.
 *
 * @module
 */

export { controlRequest, UnreachableError } from "./control_client.ts";
export { ControlServer } from "./control_server.ts";
export type { ControlHandlers } from "./control_server.ts";
export { CONTROL_COMMANDS, parseControlRequest } from "./control_protocol.ts";
export type {
  ControlAnswers,
  ControlCommand,
  ControlRequest,
  ControlRequests,
  ControlResponse,
  ParsedControlRequest,
  Rates,
  ReloadRequest,
  RotateRequest,
  SpoolFiles,
  SpoolRequest,
  StatusAnswer,
  StatusRequest,
  TapLine,
  TapRequest,
  TapSession,
} from "./control_protocol.ts";
export { CounterHistory } from "./counter_history.ts";
export { renderMetrics } from "./metrics.ts";
export { serveMetrics } from "./metrics_server.ts";
export { Notifier, stuckLimitMs } from "./notifier.ts";
export { SdNotify } from "./sd_notify.ts";
export { buildStatus } from "./status.ts";
export type { InputStatus, Status } from "./status.ts";
