/**
 * The public face of `testkit/`: what tests use to run the agent's parts in
 * process, without sockets, disks or wall-clock time where they can be avoided.
 *
 * @module
 */

export { MemoryNetwork, octetFrames } from "./memory_network.ts";
export type {
  MemoryConn,
  MemoryListener,
  MemoryListenOptions,
  MemoryNetworkOptions,
  MemoryPeer,
} from "./memory_network.ts";
