/**
 * The public face of `relay/`: what the other folders use of it.
 *
 * @module
 */

export { Connections } from "./connections.ts";
export type { Touch } from "./connections.ts";
export { Counters } from "./counters.ts";
export { DEAD_LETTER_FILE, DeadLetters } from "./dead_letter.ts";
export { Forwarder } from "./forwarder.ts";
export type { CollectorStatus, Dialer, ForwarderOptions } from "./forwarder.ts";
export type { MemberStatus } from "./pool_link.ts";
export { systemResolver } from "./resolver.ts";
export type { Resolver, SrvTarget } from "./resolver.ts";
export { tcpEvidence } from "./tcp_evidence.ts";
export type { EvidenceSource, TcpEvidence } from "./tcp_evidence.ts";
export { StreamFramer } from "./framer.ts";
export type { FrameSink } from "./framer.ts";
export { Ingest } from "./ingest.ts";
export { createLink } from "./create_link.ts";
export type { Link, LinkEvents } from "./link.ts";
export { RelpFrameParser } from "./relp_frame.ts";
export type { RelpFrame } from "./relp_frame.ts";
export { RelpInput } from "./relp_input.ts";
export { StreamInput } from "./stream_input.ts";
export { UdpInput } from "./udp_input.ts";
export { listenUnix, removeSocket } from "./unix_listener.ts";
export { Tap, Taps } from "./taps.ts";
export type { TapEvent, TapFilter } from "./taps.ts";
