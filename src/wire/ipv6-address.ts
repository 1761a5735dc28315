// IPv6 addresses are 16-byte Uint8Arrays (often views into a packet). Text forms
// follow RFC 4291 2.2 on input and RFC 5952 (canonical) on output.

export const IPV6_ADDRESS_LENGTH = 16;

/** ff02::1 */
export const ALL_NODES_MULTICAST: Uint8Array = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
/** ff02::2 */
export const ALL_ROUTERS_MULTICAST: Uint8Array = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2);
/** :: */
export const UNSPECIFIED_ADDRESS: Uint8Array = new Uint8Array(IPV6_ADDRESS_LENGTH);

function word(a: Uint8Array, offset: number, i: number): number {
  return ((a[offset + 2 * i] ?? 0) << 8) | (a[offset + 2 * i + 1] ?? 0);
}

/** RFC 5952 text: lowercase, no leading zeros, the longest (first on a tie) run of two or more zero words as "::". */
export function formatIpv6(addr: Uint8Array, offset = 0): string {
  let bestStart = -1;
  let bestLen = 1; // a single zero word is never compressed (RFC 5952 4.2.2)
  for (let i = 0; i < 8; ) {
    if (word(addr, offset, i) !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && word(addr, offset, j) === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  // RFC 5952 5: IPv4-mapped addresses keep the dotted quad.
  if (bestStart === 0 && bestLen === 5 && word(addr, offset, 5) === 0xffff) {
    const b = (i: number): number => addr[offset + i] ?? 0;
    return `::ffff:${b(12)}.${b(13)}.${b(14)}.${b(15)}`;
  }
  // One join, not += per group: the result is one flat string rather than a chain
  // of concatenations (a session keeps its addresses: about 80 B less each, issue 12).
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      // The empty group makes "::" between its neighbours; at either end it needs one more.
      if (i === 0) groups.push("");
      groups.push("");
      i += bestLen - 1;
      if (i === 7) groups.push("");
      continue;
    }
    groups.push(word(addr, offset, i).toString(16));
  }
  return groups.join(":");
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const DOTTED_QUAD = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;

/** Appends the 16-bit words of `groups` to `words`; false if a group is malformed. */
function pushGroups(groups: readonly string[], words: number[], allowQuadLast: boolean): boolean {
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (HEX_GROUP.test(g)) {
      words.push(parseInt(g, 16));
    } else if (allowQuadLast && i === groups.length - 1 && DOTTED_QUAD.test(g)) {
      const o = g.split(".").map(Number);
      words.push(((o[0] ?? 0) << 8) | (o[1] ?? 0), ((o[2] ?? 0) << 8) | (o[3] ?? 0));
    } else {
      return false;
    }
  }
  return true;
}

/** RFC 4291 2.2 text forms (full, "::"-compressed, trailing dotted quad); no zone index. */
export function parseIpv6(text: string): Uint8Array | null {
  if (text.length < 2 || text.length > 45) return null;
  const dbl = text.indexOf("::");
  const head: number[] = [];
  const tail: number[] = [];
  if (dbl === -1) {
    if (!pushGroups(text.split(":"), head, true) || head.length !== 8) return null;
  } else {
    if (text.indexOf("::", dbl + 1) !== -1) return null;
    const left = text.slice(0, dbl);
    const right = text.slice(dbl + 2);
    if (left !== "" && !pushGroups(left.split(":"), head, false)) return null;
    if (right !== "" && !pushGroups(right.split(":"), tail, true)) return null;
    if (head.length + tail.length > 7) return null;
  }
  const out = new Uint8Array(IPV6_ADDRESS_LENGTH);
  for (let i = 0; i < head.length; i++) {
    out[2 * i] = head[i]! >>> 8;
    out[2 * i + 1] = head[i]!;
  }
  const base = 8 - tail.length;
  for (let i = 0; i < tail.length; i++) {
    out[2 * (base + i)] = tail[i]! >>> 8;
    out[2 * (base + i) + 1] = tail[i]!;
  }
  return out;
}

export function ipv6Equal(a: Uint8Array, b: Uint8Array, aOffset = 0, bOffset = 0): boolean {
  for (let i = 0; i < IPV6_ADDRESS_LENGTH; i++) if (a[aOffset + i] !== b[bOffset + i]) return false;
  return true;
}

/** fe80::/10 */
export function isLinkLocal(addr: Uint8Array, offset = 0): boolean {
  return addr[offset] === 0xfe && ((addr[offset + 1] ?? 0) & 0xc0) === 0x80;
}

export function isUnspecified(addr: Uint8Array, offset = 0): boolean {
  for (let i = 0; i < IPV6_ADDRESS_LENGTH; i++) if (addr[offset + i] !== 0) return false;
  return true;
}

/** ff00::/8 */
export function isMulticastIpv6(addr: Uint8Array, offset = 0): boolean {
  return addr[offset] === 0xff;
}

/** RFC 4291 2.7.1: ff02::1:ff00:0/104 plus the low 24 bits of the address. */
export function solicitedNodeMulticast(addr: Uint8Array, offset = 0): Uint8Array {
  const out = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0);
  out[13] = addr[offset + 13] ?? 0;
  out[14] = addr[offset + 14] ?? 0;
  out[15] = addr[offset + 15] ?? 0;
  return out;
}

/** RFC 2464 7: the Ethernet destination for an IPv6 multicast address is 33:33 plus its low 32 bits. */
export function writeIpv6MulticastMac(addr: Uint8Array, addrOffset: number, out: Uint8Array, offset: number): number {
  out[offset] = 0x33;
  out[offset + 1] = 0x33;
  for (let i = 0; i < 4; i++) out[offset + 2 + i] = addr[addrOffset + 12 + i] ?? 0;
  return 6;
}
