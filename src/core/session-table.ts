// Every live session and the indexes the engine looks it up by: 48-bit MAC number
// (the per-frame path; MAC text from link events and contexts is parsed), NAI (replies,
// revocations), CoA or GRE key (downlink), the low word of the newest
// identification (replies without an NAI), and sessions per care-of address
// (what the daemon needs to know before it closes a signalling socket).
// Adding and removing touch indexes only: what a removal means (CoA quarantine,
// revocation memory, events) is the lifecycle's business.
import { macKey, parseMac } from "../wire/mac.ts";
import type { Session } from "./session.ts";

export class SessionTable {
  /**
   * The sessions by 48-bit MAC number: the per-frame lookup needs no MAC text, and
   * lookups by text parse it (one index less per session: issue 12).
   */
  readonly byMacKey = new Map<number, Session>();
  readonly byNai = new Map<string, Session>();
  /** Downlink lookup: CoA (pool mode) or GRE key (shared mode). */
  readonly byCoa = new Map<number, Session>();
  readonly byKey = new Map<number, Session>();
  /** Sessions by the low 32 bits of their newest identification (replies without an NAI). */
  private readonly byIdLow = new Map<number, Session>();
  /** Sessions per care-of address (many in shared-CoA mode). */
  private readonly perCoa = new Map<number, number>();

  get size(): number {
    return this.byMacKey.size;
  }

  /** By MAC text as sessions carry it ("aa:bb:cc:dd:ee:ff", lower case): other spellings find nothing. */
  get(mac: string): Session | undefined {
    const bytes = parseMac(mac);
    if (!bytes) return undefined;
    const s = this.byMacKey.get(macKey(bytes));
    return s && s.mac === mac ? s : undefined;
  }

  has(mac: string): boolean {
    return this.get(mac) !== undefined;
  }

  /** Whether `s` is the live session for its MAC (not one already removed). */
  holds(s: Session): boolean {
    return this.byMacKey.get(s.macKey) === s;
  }

  values(): IterableIterator<Session> {
    return this.byMacKey.values();
  }

  /** Whether any live session registers from this care-of address. */
  careOfInUse(address: number): boolean {
    return this.perCoa.has(address);
  }

  add(s: Session): void {
    this.byMacKey.set(s.macKey, s);
    this.byNai.set(s.nai, s);
    if (s.careOf.greKey !== null) this.byKey.set(s.careOf.greKey, s);
    else this.byCoa.set(s.careOf.address, s);
    this.perCoa.set(s.careOf.address, (this.perCoa.get(s.careOf.address) ?? 0) + 1);
  }

  remove(s: Session): void {
    if (this.byMacKey.get(s.macKey) !== s) return;
    this.byMacKey.delete(s.macKey);
    if (this.byNai.get(s.nai) === s) this.byNai.delete(s.nai);
    this.forgetIdentification(s, s.lastIdentification);
    if (s.careOf.greKey !== null) {
      if (this.byKey.get(s.careOf.greKey) === s) this.byKey.delete(s.careOf.greKey);
    } else if (this.byCoa.get(s.careOf.address) === s) this.byCoa.delete(s.careOf.address);
    const n = (this.perCoa.get(s.careOf.address) ?? 1) - 1;
    if (n > 0) this.perCoa.set(s.careOf.address, n);
    else this.perCoa.delete(s.careOf.address);
  }

  /** For replies without the NAI: the session whose newest request has this low word (RFC 5944 5.7). */
  findByIdentification(id: bigint): Session | undefined {
    const s = this.byIdLow.get(Number(id & 0xffff_ffffn));
    return s && this.holds(s) ? s : undefined;
  }

  /** `s` sent a new identification; `previous` no longer finds it. */
  rememberIdentification(s: Session, previous: bigint | undefined): void {
    this.forgetIdentification(s, previous);
    if (s.lastIdentification !== undefined) this.byIdLow.set(Number(s.lastIdentification & 0xffff_ffffn), s);
  }

  private forgetIdentification(s: Session, id: bigint | undefined): void {
    if (id === undefined) return;
    const low = Number(id & 0xffff_ffffn);
    if (this.byIdLow.get(low) === s) this.byIdLow.delete(low);
  }
}
