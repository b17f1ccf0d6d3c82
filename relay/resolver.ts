/**
 * Name resolution for collector pools: every address of a name, and the
 * targets of a DNS SRV name.
 *
 * @module
 */

/** One target of a DNS SRV answer (RFC 2782). */
export interface SrvTarget {
  /** The target's host name. */
  target: string;
  /** Its port. */
  port: number;
  /** Lower is preferred: the pool uses a higher one only while every lower one is down. */
  priority: number;
  /** Share of the traffic among targets of one priority. */
  weight: number;
}

/** How a pool finds its members (tests: a table in memory). */
export interface Resolver {
  /** Every IPv4 and IPv6 address of `host`; a literal address is its own answer. */
  addresses(host: string): Promise<string[]>;
  /** The targets of the SRV name `name`. */
  srv(name: string): Promise<SrvTarget[]>;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Whether `host` is an IPv4 or IPv6 address rather than a name. */
function isAddress(host: string): boolean {
  if (IPV4.test(host)) return true;
  if (!host.includes(":")) return false;
  try {
    new URL(`http://[${host}]/`);
    return true;
  } catch {
    return false;
  }
}

/**
 * The system's resolver: addresses through getaddrinfo (so `/etc/hosts` and
 * nsswitch apply, as for every other program on the host), SRV through the
 * name servers of `/etc/resolv.conf`. `node:dns` is loaded when a name is
 * first looked up: an agent given addresses only does without its 6 MiB.
 */
export const systemResolver: Resolver = {
  async addresses(host) {
    if (isAddress(host)) return [host];
    const { promises: dns } = await import("node:dns");
    const found = await dns.lookup(host, { all: true });
    return [...new Set(found.map((a) => a.address))];
  },
  async srv(name) {
    const found = await Deno.resolveDns(name, "SRV");
    return found.map((r) => ({
      target: r.target.replace(/\.$/, ""),
      port: r.port,
      priority: r.priority,
      weight: r.weight,
    }));
  },
};
