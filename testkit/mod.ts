/**
 * The public face of `testkit/`: what tests use to run the agent's parts in
 * process, without sockets, disks or wall-clock time where they can be avoided.
 *
 * @module
 */

export { MemoryNetwork } from "./memory_network.ts";
export type {
  MemoryConn,
  MemoryListener,
  MemoryListenOptions,
  MemoryNetworkOptions,
  MemoryPeer,
} from "./memory_network.ts";

// Real processes, ports, rsyslog configs, sequence tallies, /proc and fixtures:
// the tests', the benchmarks' and the demo's one copy of each.
export { agentArgv, startAgent } from "./agent_process.ts";
export type { AgentProcess, StartAgentOptions } from "./agent_process.ts";
export {
  deferCleanup,
  installSignalCleanup,
  isInterrupted,
  runCleanups,
  sleep,
  tempDir,
} from "./cleanup.ts";
export type { TempDir } from "./cleanup.ts";
export { diskUsage } from "./disk_usage.ts";
export type { DiskUsage } from "./disk_usage.ts";
export { FakeCollector } from "./fake_collector.ts";
export {
  listensIn,
  NetNs,
  netnsUnavailable,
  parseProcNetTcp,
  TCP_ESTABLISHED,
  TCP_LISTEN,
} from "./netns.ts";
export type { NetNsOptions, TcpSocketRow } from "./netns.ts";
export { startNetnsAgent } from "./netns_agent.ts";
export type { StartNetnsAgentOptions } from "./netns_agent.ts";
export { collectorConfAt, NetnsCollector } from "./netns_collector.ts";
export type { NetnsCollectorOptions } from "./netns_collector.ts";
export { SlowSyncFs } from "./slow_sync_fs.ts";
export { slowDisk, slowDiskMissing } from "./slow_disk.ts";
export type { SlowDisk } from "./slow_disk.ts";
export type { FakeMode, FakeOptions } from "./fake_collector.ts";
export { killChildren, killLeftovers, processesUsing, withDescendants } from "./find_processes.ts";
export type { FoundProcess } from "./find_processes.ts";
export { freePort } from "./free_port.ts";
export {
  alive,
  clockTicksPerSecond,
  cpuSeconds,
  parseProcStat,
  peakRssBytes,
  procStat,
  rssBytes,
} from "./proc_stat.ts";
export type { ProcStat } from "./proc_stat.ts";
export { capture } from "./capture.ts";
export { findProgram, readOrEmpty, settlesWithin, spawnLogged, tailOf } from "./process.ts";
export type { LoggedChild, SpawnOptions } from "./process.ts";
export { RelpSender } from "./relp_client.ts";
export type { RelpSenderOptions } from "./relp_client.ts";
export { RsyslogCollector } from "./rsyslog_collector.ts";
export type { RsyslogCollectorOptions } from "./rsyslog_collector.ts";
export {
  collectorConf,
  imrelpCollectorConf,
  managedRsyslogConf,
  omrelpRelayConf,
  orderedCollectorConf,
  rsyslogString,
} from "./rsyslog_conf.ts";
export type {
  CollectorConfOptions,
  ManagedRsyslogConfOptions,
  OmrelpRelayOptions,
} from "./rsyslog_conf.ts";
export { rsyslogdRejects, startRsyslogd } from "./rsyslogd.ts";
export type { RsyslogdProcess, StartRsyslogdOptions } from "./rsyslogd.ts";
export { seededRandom } from "./seeded_random.ts";
export { sendSeq, sendUdp } from "./sender.ts";
export type { SendSeqOptions, SendSeqResult, SendUdpOptions, SendUdpResult } from "./sender.ts";
export { batchMessages, octetBatch, octetBodies, octetFrames, octets } from "./octets.ts";
export { checkSeqs, readLines, seqMessage, seqOf, SeqTally } from "./seq_check.ts";
export type { SeqReport } from "./seq_check.ts";
export { SeqFileTally } from "./seq_file_tally.ts";
export {
  batchRecords,
  FIRST_SEGMENT_ID,
  segmentBytes,
  segmentName,
  writeSpool,
} from "./spool_files.ts";
export type { BatchRecordAt, WriteSpoolOptions } from "./spool_files.ts";
export { tcpReady } from "./tcp_ready.ts";
export { mountTmpfs, tmpfsMissing, umount } from "./tmpfs.ts";
export { dgramMessage, sendDgrams, UnixDgramSender } from "./unix_dgram_sender.ts";
export type {
  SendDgramsOptions,
  SendDgramsResult,
  UnixDgramSenderOptions,
} from "./unix_dgram_sender.ts";
export { waitFor } from "./wait_for.ts";
export type { WaitForOptions } from "./wait_for.ts";
