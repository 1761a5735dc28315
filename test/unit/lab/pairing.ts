// The lab home agent and real AN engines wired together in-process: the engines'
// actions become the HA's inputs and the other way round, over an ideal network
// (FIFO, no loss), with one made-up clock. Both sides' interop without namespaces.
import type { EngineConfig } from "../../../src/core/config.ts";
import { Engine } from "../../../src/core/engine.ts";
import type { EngineInput } from "../../../src/core/engine.ts";
import type { Action, AnEvent } from "../../../src/core/events.ts";
import { seededRandom } from "../../../src/core/random.ts";
import { MIP_UDP_PORT } from "../../../src/wire/mip-types.ts";
import type { HaConfigFile } from "../../lab/home-agent/config.ts";
import { loadHaConfig } from "../../lab/home-agent/config.ts";
import type { HaEvent, HaInput, HaOutput } from "../../lab/home-agent/events.ts";
import { HomeAgent } from "../../lab/home-agent/home-agent.ts";
import { HA, KEY, makeConfig, WALL } from "../core/harness.ts";

export const HA_TEXT = "192.0.2.1";
export const HA_MAC_TEXT = "02:00:5e:00:53:01";

/** A home agent config file matching the core harness's realm and key. */
export function haConfigFile(over: Partial<HaConfigFile> = {}): HaConfigFile {
  return {
    address: HA_TEXT,
    realms: [{ realm: "example.net", spi: KEY.spi, key: `hex:${Buffer.from(KEY.secret).toString("hex")}` }],
    homePrefix: "2001:db8:1::/64",
    homeLinkMac: HA_MAC_TEXT,
    homeAddresses: ["2001:db8:1::1"],
    ...over,
  };
}

export interface AnNode {
  readonly name: string;
  readonly engine: Engine;
  readonly config: EngineConfig;
  /** Every action the engine produced, in order. */
  readonly actions: Action[];
  /** Packets delivered to MNs: Ethernet destination, source and the IPv6 packet. */
  readonly toMn: { readonly dst: Uint8Array; readonly src: Uint8Array; readonly packet: Uint8Array }[];
}

type Delivery = { readonly to: "ha"; readonly input: HaInput } | { readonly to: AnNode; readonly input: EngineInput };

export class World {
  now = 0;
  readonly ha: HomeAgent;
  readonly ans: AnNode[] = [];
  readonly haOutputs: HaOutput[] = [];
  /** Packets the HA routed to the home link (its TUN). */
  readonly homeLink: Uint8Array[] = [];
  /** Signalling and tunnel packets addressed to no one (an AN removed, say). */
  readonly lost: HaOutput[] = [];
  private readonly queue: Delivery[] = [];

  constructor(ha: Partial<HaConfigFile> = {}, haClockSkewMs = 0) {
    this.ha = new HomeAgent(loadHaConfig(haConfigFile(ha)).config, { wallOffsetMs: WALL + haClockSkewMs });
  }

  addAn(name: string, over: Partial<EngineConfig>, seed = this.ans.length + 1): AnNode {
    const config = makeConfig(over);
    const node: AnNode = { name, engine: new Engine(config, { random: seededRandom(seed), wallOffsetMs: WALL }), config, actions: [], toMn: [] };
    this.ans.push(node);
    return node;
  }

  /** Takes an AN off the network (it receives nothing more). */
  removeAn(an: AnNode): void {
    this.ans.splice(this.ans.indexOf(an), 1);
  }

  toAn(an: AnNode, input: EngineInput): void {
    this.queue.push({ to: an, input });
    this.run();
  }

  toHa(input: HaInput): void {
    this.queue.push({ to: "ha", input });
    this.run();
  }

  fromMn(an: AnNode, frame: Uint8Array): void {
    this.toAn(an, { kind: "frame-from-mn", frame });
  }

  fromHomeLink(packet: Uint8Array): void {
    this.toHa({ kind: "from-home-link", packet });
  }

  /** Fires every deadline of every party up to `t`, each at its own time. */
  advance(ms: number): void {
    const until = this.now + ms;
    for (let i = 0; i < 10_000; i++) {
      let next = this.ha.nextDeadline();
      let who: AnNode | "ha" = "ha";
      for (const an of this.ans) {
        const d = an.engine.nextDeadline();
        if (d !== undefined && (next === undefined || d < next)) {
          next = d;
          who = an;
        }
      }
      if (next === undefined || next > until) break;
      this.now = Math.max(this.now, next);
      this.queue.push(who === "ha" ? { to: "ha", input: { kind: "deadline" } } : { to: who, input: { kind: "deadline" } });
      this.run();
    }
    this.now = until;
  }

  haEvents<T extends HaEvent["type"]>(type: T): Extract<HaEvent, { type: T }>[] {
    const out: Extract<HaEvent, { type: T }>[] = [];
    for (const o of this.haOutputs) if (o.kind === "event" && o.event.type === type) out.push(o.event as Extract<HaEvent, { type: T }>);
    return out;
  }

  haSent(messageType: number): Extract<HaOutput, { kind: "send-signalling" }>[] {
    return this.haOutputs.filter((o): o is Extract<HaOutput, { kind: "send-signalling" }> => o.kind === "send-signalling" && o.bytes[0] === messageType);
  }

  private run(): void {
    for (let n = 0; n < 10_000; n++) {
      const d = this.queue.shift();
      if (!d) return;
      if (d.to === "ha") {
        for (const o of this.ha.handle(this.now, d.input)) this.fromHa(o);
      } else if (this.ans.includes(d.to)) {
        d.to.engine.handle(this.now, d.input);
        for (let a = d.to.engine.poll(); a; a = d.to.engine.poll()) this.fromEngine(d.to, a);
      }
    }
    throw new Error("the world did not settle in 10000 deliveries");
  }

  private fromEngine(an: AnNode, a: Action): void {
    // Actions may be views into the input's buffer: copy what travels.
    const copy = copyAction(a);
    an.actions.push(copy);
    switch (copy.kind) {
      case "send-signalling":
        if (copy.to === HA) this.queue.push({ to: "ha", input: { kind: "signalling", from: copy.from, fromPort: MIP_UDP_PORT, bytes: copy.bytes } });
        return;
      case "to-tunnel":
        this.queue.push({ to: "ha", input: { kind: "tunnel-packet", outerSrc: copy.tunnel.careOf, gre: copy.tunnel.greKey !== null, greKey: copy.tunnel.greKey, packet: copy.packet } });
        return;
      case "to-mn":
        an.toMn.push({ dst: copy.dst, src: copy.src, packet: copy.packet });
        return;
      case "to-peer": {
        // Issue 10: 6in4 from the old AN's CoA to the new AN's.
        const peer = this.owner(copy.tunnel.homeAgent);
        if (peer) this.queue.push({ to: peer, input: { kind: "tunnel-packet", outerSrc: copy.tunnel.careOf, outerDst: copy.tunnel.homeAgent, greKey: null, packet: copy.packet } });
        return;
      }
      default:
        return;
    }
  }

  private fromHa(o: HaOutput): void {
    const copy = copyOutput(o);
    this.haOutputs.push(copy);
    switch (copy.kind) {
      case "send-signalling": {
        const an = this.owner(copy.to);
        if (an) this.queue.push({ to: an, input: { kind: "signalling", from: copy.from, fromPort: MIP_UDP_PORT, local: copy.to, bytes: copy.bytes } });
        else this.lost.push(copy);
        return;
      }
      case "to-tunnel": {
        const an = this.owner(copy.tunnel.careOf);
        if (an) this.queue.push({ to: an, input: { kind: "tunnel-packet", outerSrc: HA, outerDst: copy.tunnel.careOf, greKey: copy.tunnel.gre ? copy.tunnel.greKey : null, packet: copy.packet } });
        else this.lost.push(copy);
        return;
      }
      case "to-home-link":
        this.homeLink.push(copy.packet);
        return;
      case "event":
        return;
    }
  }

  private owner(coa: number): AnNode | undefined {
    return this.ans.find((an) => {
      const c = an.config.careOf;
      return c.mode === "pool" ? c.addresses.includes(coa) : c.address === coa;
    });
  }
}

function copyAction(a: Action): Action {
  switch (a.kind) {
    case "send-signalling":
      return { ...a, bytes: a.bytes.slice() };
    case "to-tunnel":
    case "to-peer":
      return { ...a, packet: a.packet.slice() };
    case "to-mn":
      return { ...a, dst: a.dst.slice(), src: a.src.slice(), packet: a.packet.slice() };
    default:
      return a;
  }
}

function copyOutput(o: HaOutput): HaOutput {
  switch (o.kind) {
    case "send-signalling":
      return { ...o, bytes: o.bytes.slice() };
    case "to-tunnel":
    case "to-home-link":
      return { ...o, packet: o.packet.slice() };
    case "event":
      return "packet" in o.event ? { kind: "event", event: { ...o.event, packet: o.event.packet.slice() } } : o;
  }
}

export function anEvents<T extends AnEvent["type"]>(an: AnNode, type: T): Extract<AnEvent, { type: T }>[] {
  const out: Extract<AnEvent, { type: T }>[] = [];
  for (const a of an.actions) if (a.kind === "event" && a.event.type === type) out.push(a.event as Extract<AnEvent, { type: T }>);
  return out;
}

export function anActions<K extends Action["kind"]>(an: AnNode, kind: K): Extract<Action, { kind: K }>[] {
  return an.actions.filter((a): a is Extract<Action, { kind: K }> => a.kind === kind);
}
