// Issue 9 item 5: an MLD report (RFC 3810 / RFC 2710) is what a Linux MN sends
// first on a new link, before its DAD NS. From an unknown station it is expected,
// not suspicious: counted apart so the daemon does not warn about it.
/** `frame` is an Ethernet frame whose IPv6 packet starts at `ipOffset`. */
export function isMldReport(frame: Uint8Array, ipOffset: number): boolean {
  if (frame.length < ipOffset + 48) return false;
  let next = frame[ipOffset + 6]!;
  let at = ipOffset + 40;
  // MLD rides behind a Hop-by-Hop header with the Router Alert option.
  if (next === 0) {
    next = frame[at]!;
    at += (frame[at + 1]! + 1) * 8;
  }
  if (next !== 58 || frame.length <= at) return false;
  const type = frame[at]!;
  return type === 131 || type === 143;
}
