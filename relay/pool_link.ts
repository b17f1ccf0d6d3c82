/**
 * A collector pool seen as one link: members that share the traffic.
 *
 * @module
 */

import {
  type Batch,
  type Clock,
  closeQuietly,
  errorText,
  type Logger,
  Queue,
} from "../ground/mod.ts";
import {
  type Address,
  type CollectorConfig,
  POOL_RAMP_MS,
  SESSION_STABLE_MS,
} from "../config/mod.ts";
import { backoffDelay } from "./backoff.ts";
import { createLink } from "./create_link.ts";
import type { Link, LinkEvents } from "./link.ts";
import type { Resolver } from "./resolver.ts";
import type { EvidenceSource } from "./tcp_evidence.ts";

/** A pool member as status reports it. */
export interface MemberStatus {
  /** `ip:port` of the member. */
  address: string;
  /** The name it was found by (a name in `addresses`, an SRV target), or `""`. */
  name: string;
  /** `up`: connected; `connecting`: a connect is under way; `down`: not connected. */
  state: "up" | "down" | "connecting";
  /** When it entered `state` (ISO 8601 UTC). */
  since: string;
  /** Why its last connect or connection failed, `""` if none has. */
  lastError: string;
  /** Messages first written through this member since the pool opened. */
  forwarded: number;
  /** Its part of the pool's `forwarded`, from 0 to 1. */
  share: number;
  /** Bytes written through it and not yet confirmed. */
  unconfirmedBytes: number;
  /** SRV priority (0 for other pools): lower is used first. */
  priority: number;
  /** SRV weight (1 for other pools): its share among members of its priority. */
  weight: number;
}

/** What a {@linkcode PoolLink} needs besides its config. */
export interface PoolParts {
  /** Opens a connection to one member (its config has the member's address). */
  dial: (cfg: CollectorConfig) => Promise<Deno.Conn>;
  /** Finds the members. */
  resolver: Resolver;
  /** What the kernel says of a member's connection (see `tcpEvidence`), if anything. */
  evidence?: (conn: Deno.Conn) => EvidenceSource | undefined;
  /** Timers: member retries, re-resolution, connect timeouts, the ramp. */
  clock: Clock;
  /** Random numbers in [0, 1) for backoff jitter. */
  random: () => number;
  /** Where members coming and going are logged. */
  log: Logger;
}

/**
 * Batches a member may hold that it has not finished writing: enough that a
 * member's turn does not wait for the write before it, few enough that a member
 * that stops taking (stalled) holds little and gets nothing new.
 */
const MEMBER_DEPTH = 4;

interface Entry {
  batch: Batch;
  seq: number;
  done: boolean;
  /** Written once already (a member failed with it): not counted again. */
  counted: boolean;
  /** Resolves write() once a member has it. */
  handed: (() => void) | undefined;
}

interface Member {
  key: string;
  address: Address;
  name: string;
  priority: number;
  weight: number;
  state: MemberStatus["state"];
  since: number;
  lastError: string;
  failures: number;
  retry: unknown;
  link: Link | undefined;
  upSince: number;
  writing: boolean;
  /** Handed to it, not yet written (it writes one batch at a time), oldest first. */
  pending: Entry[];
  /** Entries written on its link and not confirmed, oldest first. */
  unconfirmed: Entry[];
  unconfirmedBytes: number;
  forwarded: number;
  /** Smooth weighted round-robin's running score. */
  current: number;
  /** No longer among the names' answers: ended once its link has ended. */
  gone: boolean;
}

/**
 * The members of one collector entry with `addresses` or `srv`, behind the
 * {@linkcode Link} interface, so the forwarder treats a pool like one
 * collector: failover between entries, the spool when all are down.
 *
 * Each member has its own connection (its protocol's link), health, backoff and
 * figures. The unit of balancing is the batch: each goes to a member that has
 * room (at most {@linkcode MEMBER_DEPTH} batches not yet written: a stalled one
 * gets nothing new), picked by smooth weighted
 * round-robin over the members of the lowest SRV priority that are up, a member
 * that has just come up ramped from a tenth of its weight to all of it over
 * {@linkcode POOL_RAMP_MS}. Order is kept per member: each receives its batches
 * oldest first. What a failed member had not confirmed is written again on the
 * others, before anything new. Confirmations reach the forwarder in the order
 * it wrote (the spool's checkpoint never passes a batch a member still holds).
 * The pool breaks only when every member is down. Names are resolved at open
 * and every `resolveIntervalMs`: members come and go without a reload.
 */
export class PoolLink implements Link {
  #cfg: CollectorConfig;
  #parts: PoolParts;
  #events: LinkEvents;
  #members = new Map<string, Member>();
  /** Entries not yet confirmed to the forwarder, in the order written. */
  #ledger = new Queue<Entry>();
  /** Entries waiting for a member, oldest first (resends before new ones). */
  #queue: Entry[] = [];
  #nextSeq = 0;
  #done = false;
  #failure: string | undefined;
  #resolveTimer: unknown;
  /** Waiters for a member to be free or come up. */
  #wake: (() => void)[] = [];

  constructor(cfg: CollectorConfig, parts: PoolParts, events: LinkEvents) {
    this.#cfg = cfg;
    this.#parts = parts;
    this.#events = events;
  }

  /** Resolves the members and connects to each; resolves once one is up. */
  async open(): Promise<void> {
    await this.#resolve();
    if (this.#members.size === 0) throw new Error(`${this.#cfg.address.text}: no members found`);
    const opened = [...this.#members.values()].map((m) => this.#connect(m));
    await Promise.all(opened);
    if (this.#done) throw new Error(this.#failure ?? "pool closed");
    if (!this.#anyUp()) {
      const why = [...this.#members.values()].map((m) => `${m.key}: ${m.lastError}`).join("; ");
      this.#finish();
      throw new Error(`no member of the pool is reachable (${why})`);
    }
    this.#scheduleResolve();
  }

  /** Hands `batch` to a member that is free; waits while every member is busy. */
  write(batch: Batch): Promise<void> {
    if (this.#done) return Promise.reject(new Error(this.#failure ?? "pool closed"));
    const entry: Entry = {
      batch,
      seq: this.#nextSeq++,
      done: false,
      counted: false,
      handed: undefined,
    };
    this.#ledger.push(entry);
    return new Promise<void>((resolve) => {
      entry.handed = resolve;
      this.#queue.push(entry);
      this.#pump();
    }).then(() => {
      if (this.#done) throw new Error(this.#failure ?? "pool closed");
    });
  }

  /** Ends every member cleanly (each confirms what its protocol can), then closes. */
  async end(): Promise<void> {
    if (this.#done) return;
    this.#stopTimers();
    await Promise.all([...this.#members.values()].map((m) => m.link?.end()));
    this.#finish();
  }

  /** {@inheritDoc Link.destroy} */
  destroy(reason: string): void {
    if (this.#done) return;
    this.#failure = reason;
    this.#stopTimers();
    for (const m of this.#members.values()) m.link?.destroy(reason);
    this.#finish();
  }

  /** Each member's state and figures. */
  members(): MemberStatus[] {
    let total = 0;
    for (const m of this.#members.values()) total += m.forwarded;
    return [...this.#members.values()].map((m) => ({
      address: m.key,
      name: m.name,
      state: m.state,
      since: new Date(m.since).toISOString(),
      lastError: m.lastError,
      forwarded: m.forwarded,
      share: total === 0 ? 0 : m.forwarded / total,
      unconfirmedBytes: m.unconfirmedBytes,
      priority: m.priority,
      weight: m.weight,
    }));
  }

  /** Whether the pool has closed, and why it broke if it did. */
  #finish(): void {
    this.#done = true;
    this.#stopTimers();
    for (const m of this.#members.values()) {
      this.#parts.clock.clearTimeout(m.retry);
      m.link = undefined;
      m.writing = false;
      m.pending = [];
      if (m.state !== "down") this.#setState(m, "down");
    }
    // write() callers waiting for a member hear the failure.
    for (const e of this.#queue) e.handed?.();
    this.#queue = [];
    for (const w of this.#wake.splice(0)) w();
  }

  #stopTimers(): void {
    this.#parts.clock.clearTimeout(this.#resolveTimer);
    this.#resolveTimer = undefined;
    for (const m of this.#members.values()) this.#parts.clock.clearTimeout(m.retry);
  }

  #anyUp(): boolean {
    for (const m of this.#members.values()) if (m.state === "up") return true;
    return false;
  }

  /** Looks the members up again: new ones are connected, vanished ones ended. */
  async #resolve(): Promise<void> {
    const found = await this.#lookup();
    if (this.#done) return;
    const now = this.#parts.clock.now();
    for (const f of found) {
      const m = this.#members.get(f.key);
      if (m !== undefined) {
        m.gone = false;
        m.priority = f.priority;
        m.weight = f.weight;
        continue;
      }
      const member: Member = {
        ...f,
        state: "down",
        since: now,
        lastError: "",
        failures: 0,
        retry: undefined,
        link: undefined,
        upSince: now,
        writing: false,
        pending: [],
        unconfirmed: [],
        unconfirmedBytes: 0,
        forwarded: 0,
        current: 0,
        gone: false,
      };
      this.#members.set(f.key, member);
      if (this.#ledger.length > 0 || this.#anyUp()) {
        this.#parts.log.info(`relay: pool ${this.#cfg.address.text}: member ${f.key} added`);
        this.#connect(member);
      }
    }
    const keys = new Set(found.map((f) => f.key));
    for (const m of [...this.#members.values()]) {
      if (keys.has(m.key)) continue;
      m.gone = true;
      this.#parts.log.info(`relay: pool ${this.#cfg.address.text}: member ${m.key} removed`);
      this.#parts.clock.clearTimeout(m.retry);
      const link = m.link;
      if (link === undefined) {
        this.#members.delete(m.key);
        continue;
      }
      // Ended cleanly: it confirms what it can; the rest goes to the others.
      m.state = "connecting";
      link.end().then(() => this.#lost(m, "removed from the pool's names"));
    }
  }

  /** The members the config names, resolved. */
  async #lookup(): Promise<
    { key: string; address: Address; name: string; priority: number; weight: number }[]
  > {
    const members = this.#cfg.members;
    const resolver = this.#parts.resolver;
    const out = new Map<
      string,
      { key: string; address: Address; name: string; priority: number; weight: number }
    >();
    const add = async (host: string, port: number, priority: number, weight: number) => {
      for (const ip of await resolver.addresses(host)) {
        const key = ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
        const name = ip === host ? "" : host;
        if (!out.has(key)) {
          out.set(key, {
            key,
            address: { hostname: ip, port, text: key },
            name,
            priority,
            weight,
          });
        }
      }
    };
    if (members.kind === "addresses") {
      for (const a of members.addresses) await add(a.hostname, a.port, 0, 1);
    } else if (members.kind === "srv") {
      const targets = await resolver.srv(members.name);
      if (targets.length === 0) throw new Error(`SRV ${members.name}: no targets`);
      // Weight 0 is "very small chance" (RFC 2782), not never.
      const anyWeight = targets.some((t) => t.weight > 0);
      for (const t of targets) {
        await add(t.target, t.port, t.priority, anyWeight ? Math.max(t.weight, 0.01) : 1);
      }
    } else {
      await add(this.#cfg.address.hostname, this.#cfg.address.port, 0, 1);
    }
    return [...out.values()];
  }

  #scheduleResolve(): void {
    const members = this.#cfg.members;
    if (members.kind === "address" || this.#done) return;
    this.#resolveTimer = this.#parts.clock.setTimeout(async () => {
      try {
        await this.#resolve();
      } catch (e) {
        this.#parts.log.warn(
          `relay: pool ${this.#cfg.address.text}: resolving its members failed (${
            errorText(e)
          }); keeping the ones it has`,
        );
      }
      this.#scheduleResolve();
    }, members.resolveIntervalMs);
  }

  /** The config of one member: its address; TLS checks the name it was found by. */
  #memberConfig(m: Member): CollectorConfig {
    const cfg = { ...this.#cfg, address: m.address, members: { kind: "address" as const } };
    if (cfg.protocol === "tls" && cfg.serverName === undefined && m.name !== "") {
      return { ...cfg, serverName: m.name };
    }
    return cfg;
  }

  /** Connects member `m`; on failure it is retried after its backoff. */
  async #connect(m: Member): Promise<void> {
    if (this.#done || m.gone) return;
    const cfg = this.#memberConfig(m);
    this.#setState(m, "connecting");
    const ms = cfg.connectTimeoutMs;
    let conn: Deno.Conn | undefined;
    let link: Link | undefined;
    try {
      conn = await within(this.#parts.dial(cfg), ms, this.#parts.clock, (late) => {
        late.then((c) => closeQuietly(c), () => {});
      });
      link = createLink(
        conn,
        cfg,
        {
          confirmed: (n) => this.#confirmed(m, link!, n),
          progress: () => this.#events.progress(),
          broken: (reason) => {
            if (m.link === link) this.#lost(m, reason);
          },
          refused: (at, message, reason) => this.#refused(m, link!, at, message, reason),
        },
        this.#parts.clock,
        this.#parts.evidence,
      );
      const opening = link;
      await within(link.open(), ms, this.#parts.clock, () => opening.destroy("open timed out"));
    } catch (e) {
      link?.destroy(errorText(e));
      if (link === undefined) closeQuietly(conn);
      this.#down(m, errorText(e), 0);
      return;
    }
    if (this.#done || m.gone) {
      link.destroy("not needed");
      return;
    }
    m.link = link;
    m.upSince = this.#parts.clock.now();
    this.#setState(m, "up");
    if (this.#ledger.length > 0) {
      this.#parts.log.info(`relay: pool ${this.#cfg.address.text}: member ${m.key} up`);
    }
    this.#pump();
  }

  /** Member `m` is down for `reason`; it is tried again after its backoff. */
  #down(m: Member, reason: string, upForMs: number): void {
    m.failures = upForMs >= SESSION_STABLE_MS ? 1 : m.failures + 1;
    m.lastError = reason;
    this.#setState(m, "down");
    if (this.#done || m.gone) return;
    const delay = backoffDelay(m.failures, this.#parts.random);
    this.#parts.clock.clearTimeout(m.retry);
    m.retry = this.#parts.clock.setTimeout(() => this.#connect(m), delay);
  }

  /** Member `m`'s link ended or broke: what it had not confirmed goes to the others, first. */
  #lost(m: Member, reason: string): void {
    const upFor = this.#parts.clock.now() - m.upSince;
    m.link = undefined;
    m.writing = false;
    m.pending = [];
    const redo = m.unconfirmed.filter((e) => !e.done);
    m.unconfirmed = [];
    m.unconfirmedBytes = 0;
    if (m.gone) {
      this.#members.delete(m.key);
    } else {
      if (!this.#done) {
        this.#parts.log.warn(
          `relay: pool ${this.#cfg.address.text}: member ${m.key} down: ${reason}; ${redo.length} batch(es) it had not confirmed go to the other members`,
        );
      }
      this.#down(m, reason, upFor);
    }
    if (this.#done) return;
    if (redo.length > 0) {
      this.#queue = [...redo, ...this.#queue].sort((a, b) => a.seq - b.seq);
    }
    if (!this.#anyUp()) {
      const why = `every member of the pool is down (last: ${m.key}: ${reason})`;
      this.#failure = why;
      for (const other of this.#members.values()) other.link?.destroy(why);
      this.#finish();
      this.#events.broken(why);
      return;
    }
    this.#pump();
  }

  /** Member `m` confirmed its `n` oldest: the forwarder hears of the prefix that is done. */
  #confirmed(m: Member, link: Link, n: number): void {
    if (m.link !== link && !(m.gone || this.#done)) return;
    for (let i = 0; i < n; i++) {
      const e = m.unconfirmed.shift();
      if (e === undefined) break;
      e.done = true;
      m.unconfirmedBytes -= e.batch.data.length;
    }
    let done = 0;
    while (this.#ledger.at(0)?.done) {
      this.#ledger.shift();
      done++;
    }
    if (done > 0) this.#events.confirmed(done);
  }

  /**
   * A member refused a message: the forwarder hears which (by its place among
   * the unconfirmed batches it wrote), and the pool breaks, so that the
   * forwarder's handling of a refusal (a dead letter after a few) applies.
   */
  #refused(m: Member, link: Link, at: number, message: number, reason: string): void {
    if (m.link !== link || this.#done) return;
    const entry = m.unconfirmed[at];
    if (entry === undefined) return;
    const index = this.#ledger.indexOf(entry);
    if (index >= 0) this.#events.refused(index, message, reason);
    const why = `member ${m.key} refused a message: ${reason}`;
    this.#failure = why;
    for (const other of this.#members.values()) other.link?.destroy(why);
    this.#finish();
    this.#events.broken(why);
  }

  /** Hands waiting entries to free members, oldest first. */
  #pump(): void {
    while (!this.#done && this.#queue.length > 0) {
      const m = this.#pick();
      if (m === undefined) return;
      const entry = this.#queue.shift()!;
      this.#send(m, entry);
    }
  }

  /**
   * The member for the next batch: among members up and not busy writing, of
   * the lowest priority that has one up, smooth weighted round-robin on each
   * one's ramped weight.
   */
  #pick(): Member | undefined {
    let priority = Infinity;
    for (const m of this.#members.values()) {
      if (m.state === "up" && !m.gone) priority = Math.min(priority, m.priority);
    }
    const now = this.#parts.clock.now();
    let best: Member | undefined;
    let total = 0;
    for (const m of this.#members.values()) {
      if (m.state !== "up" || m.gone || m.priority !== priority) continue;
      const ramp = Math.min(1, Math.max(0.1, (now - m.upSince) / POOL_RAMP_MS));
      const w = m.weight * ramp;
      total += w;
      if (m.pending.length + (m.writing ? 1 : 0) >= MEMBER_DEPTH || m.link === undefined) {
        continue;
      }
      m.current += w;
      if (best === undefined || m.current > best.current) best = m;
    }
    if (best !== undefined) best.current -= total;
    return best;
  }

  /** Hands `entry` to member `m`: in its queue, then written in turn. */
  #send(m: Member, entry: Entry): void {
    m.unconfirmed.push(entry);
    m.unconfirmedBytes += entry.batch.data.length;
    if (!entry.counted) {
      entry.counted = true;
      m.forwarded += entry.batch.count;
    }
    m.pending.push(entry);
    const handed = entry.handed;
    entry.handed = undefined;
    this.#writeNext(m);
    handed?.();
  }

  /** Member `m` writes its next batch, unless it is writing one. */
  #writeNext(m: Member): void {
    const link = m.link;
    if (m.writing || link === undefined) return;
    const entry = m.pending.shift();
    if (entry === undefined) return;
    m.writing = true;
    link.write(entry.batch).then(
      () => {
        if (m.link !== link) return;
        m.writing = false;
        this.#writeNext(m);
        this.#pump();
      },
      () => {
        // The link reports why through `broken`; its unconfirmed entries are resent.
      },
    );
  }

  #setState(m: Member, state: Member["state"]): void {
    if (m.state === state) return;
    m.state = state;
    m.since = this.#parts.clock.now();
  }
}

/** Races `p` against `ms`; on the timeout, `late` gets `p` and the result rejects. */
function within<T>(
  p: Promise<T>,
  ms: number,
  clock: Clock,
  late: (p: Promise<T>) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => {
      late(p);
      reject(new Error(`did not complete within ${ms} ms`));
    }, ms);
    p.then((v) => {
      clock.clearTimeout(timer);
      resolve(v);
    }, (e) => {
      clock.clearTimeout(timer);
      reject(e);
    });
  });
}
