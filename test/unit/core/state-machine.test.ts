// The whole state machine as two pure tables, walked row by row: classifyReply
// (which input an authenticated, matching reply is) and TRANSITIONS (where that
// input leads). Nothing here runs the engine.
import { describe, expect, it } from "vitest";
import { classifyReply, nextState, TRANSITIONS } from "../../../src/core/transitions.ts";
import type { RegistrationFacts, ReplyFacts, ReplyVerdict, SessionInput, SessionState } from "../../../src/core/transitions.ts";

const STATES: SessionState[] = ["registering", "bound", "renewing", "deregistering", "failed", "no-service"];

/** Every row of TRANSITIONS, written out: state, input, next. */
const ROWS: [SessionState, SessionInput, string][] = [
  ["registering", "accepted-v6", "bound"],
  ["registering", "accepted-no-v6", "no-service"],
  ["registering", "id-mismatch", "registering"],
  ["registering", "denied", "failed"],
  ["registering", "timeout-retry", "registering"],
  ["registering", "timeout-give-up", "failed"],
  ["registering", "revoked", "released"],
  ["registering", "left", "deregistering"],
  ["registering", "handed-over", "released"],
  ["registering", "shutdown", "deregistering"],
  ["bound", "refresh-due", "renewing"],
  ["bound", "expired", "released"],
  ["bound", "revoked", "released"],
  ["bound", "left", "deregistering"],
  ["bound", "handed-over", "released"],
  ["bound", "shutdown", "deregistering"],
  ["renewing", "accepted-v6", "bound"],
  ["renewing", "accepted-no-v6", "bound"],
  ["renewing", "id-mismatch", "renewing"],
  ["renewing", "denied", "released"],
  ["renewing", "timeout-retry", "renewing"],
  ["renewing", "expired", "released"],
  ["renewing", "revoked", "released"],
  ["renewing", "left", "deregistering"],
  ["renewing", "handed-over", "released"],
  ["renewing", "shutdown", "deregistering"],
  ["deregistering", "accepted-v6", "released"],
  ["deregistering", "accepted-no-v6", "released"],
  ["deregistering", "id-mismatch", "deregistering"],
  ["deregistering", "denied", "released"],
  ["deregistering", "timeout-retry", "deregistering"],
  ["deregistering", "timeout-give-up", "released"],
  ["deregistering", "revoked", "released"],
  ["deregistering", "handed-over", "released"],
  ["deregistering", "shutdown", "released"],
  ["failed", "hold-off-over", "released"],
  ["failed", "left", "released"],
  ["failed", "handed-over", "released"],
  ["failed", "shutdown", "released"],
  ["no-service", "hold-off-over", "released"],
  ["no-service", "left", "released"],
  ["no-service", "handed-over", "released"],
  ["no-service", "shutdown", "released"],
];

const facts = (state: SessionState, over: Partial<RegistrationFacts> = {}): RegistrationFacts => ({
  state,
  cleanupDue: false,
  resyncFloorReset: false,
  attempts: 1,
  resynced: false,
  sharedCoa: false,
  ...over,
});

const ACCEPT: ReplyFacts = { accepted: true, code: 0, lifetimeS: 600, ipv6HomeAddress: true, greKey: false };
const reply = (over: Partial<ReplyFacts> = {}): ReplyFacts => ({ ...ACCEPT, ...over });
const DENY = reply({ accepted: false, code: 129, lifetimeS: 0, ipv6HomeAddress: false });
const MISMATCH = reply({ accepted: false, code: 133, lifetimeS: 0, ipv6HomeAddress: false });

/** Every row of classifyReply: the session's facts, the reply's, and the verdict. */
const REPLY_ROWS: [string, RegistrationFacts, ReplyFacts, ReplyVerdict][] = [
  ["registering: accepted with v6", facts("registering"), ACCEPT, { input: "accepted-v6", why: "accepted" }],
  ["registering: accepted without v6", facts("registering"), reply({ ipv6HomeAddress: false }), { input: "accepted-no-v6", why: "ha-lacks-v6-over-v4" }],
  ["registering, shared CoA: accepted without GRE key", facts("registering", { sharedCoa: true }), ACCEPT, { input: "accepted-no-v6", why: "ha-refused-gre-key" }],
  ["registering, shared CoA: accepted with GRE key", facts("registering", { sharedCoa: true }), reply({ greKey: true }), { input: "accepted-v6", why: "accepted" }],
  ["registering, shared CoA: no v6 wins over no key", facts("registering", { sharedCoa: true }), reply({ ipv6HomeAddress: false }), { input: "accepted-no-v6", why: "ha-lacks-v6-over-v4" }],
  ["registering: accepted, lifetime 0", facts("registering"), reply({ lifetimeS: 0 }), { input: "denied", why: "zero-lifetime" }],
  ["registering: denied", facts("registering"), DENY, { input: "denied", why: "denied" }],
  ["registering: 133", facts("registering"), MISMATCH, { input: "id-mismatch", why: "resync" }],
  ["registering: second 133", facts("registering", { resynced: true }), MISMATCH, { input: "denied", why: "denied" }],
  ["registering: copy of a 133 acted on", facts("registering", { resyncFloorReset: true }), ACCEPT, { input: null, why: "resend-pending" }],
  ["renewing: accepted with v6", facts("renewing"), ACCEPT, { input: "accepted-v6", why: "accepted" }],
  ["renewing: accepted without v6 (refresh)", facts("renewing"), reply({ ipv6HomeAddress: false }), { input: "accepted-no-v6", why: "accepted" }],
  ["renewing, shared CoA: no GRE key on refresh", facts("renewing", { sharedCoa: true }), ACCEPT, { input: "accepted-v6", why: "accepted" }],
  ["renewing: accepted, lifetime 0", facts("renewing"), reply({ lifetimeS: 0 }), { input: "denied", why: "zero-lifetime" }],
  ["renewing: denied", facts("renewing"), DENY, { input: "denied", why: "denied" }],
  ["renewing: 133", facts("renewing"), MISMATCH, { input: "id-mismatch", why: "resync" }],
  ["deregistering: accepted, lifetime 0", facts("deregistering"), reply({ lifetimeS: 0, ipv6HomeAddress: false }), { input: "accepted-no-v6", why: "accepted" }],
  ["deregistering: accepted with v6", facts("deregistering"), ACCEPT, { input: "accepted-v6", why: "accepted" }],
  ["deregistering: denied", facts("deregistering"), DENY, { input: "denied", why: "denied" }],
  ["deregistering: 133", facts("deregistering"), MISMATCH, { input: "id-mismatch", why: "resync" }],
  ["deregistering, request still waiting for its slot", facts("deregistering", { attempts: 0 }), ACCEPT, { input: null, why: "superseded" }],
  ["bound: anything", facts("bound"), ACCEPT, { input: null, why: "not-awaiting" }],
  ["failed: cleanup deregistration accepted", facts("failed"), reply({ lifetimeS: 0 }), { input: null, why: "cleanup-accepted" }],
  ["no-service: cleanup deregistration accepted", facts("no-service"), reply({ lifetimeS: 0 }), { input: null, why: "cleanup-accepted" }],
  ["no-service: cleanup not sent yet", facts("no-service", { cleanupDue: true }), reply({ lifetimeS: 0 }), { input: null, why: "not-awaiting" }],
  ["no-service: a binding reply", facts("no-service"), ACCEPT, { input: null, why: "not-awaiting" }],
  ["failed: denial", facts("failed"), DENY, { input: null, why: "not-awaiting" }],
];

describe("TRANSITIONS, row by row", () => {
  it.each(ROWS)("%s --%s--> %s", (state, input, next) => {
    expect(nextState(state, input)).toBe(next);
  });

  it("has no row the list above does not name", () => {
    const listed = new Set(ROWS.map(([s, i]) => `${s}/${i}`));
    for (const s of STATES) for (const i of Object.keys(TRANSITIONS[s])) expect(listed, `${s}/${i}`).toContain(`${s}/${i}`);
    expect(Object.values(TRANSITIONS).reduce((n, row) => n + Object.keys(row).length, 0)).toBe(ROWS.length);
  });
});

describe("classifyReply, row by row", () => {
  it.each(REPLY_ROWS)("%s", (_name, s, r, verdict) => {
    expect(classifyReply(s, r)).toEqual(verdict);
  });

  it("only yields inputs TRANSITIONS lists for the state", () => {
    for (const [name, s, r] of REPLY_ROWS) {
      const v = classifyReply(s, r);
      if (v.input !== null) expect(nextState(s.state, v.input), name).toBeDefined();
    }
  });

  it("covers every state and every verdict", () => {
    expect(new Set(REPLY_ROWS.map(([, s]) => s.state))).toEqual(new Set(STATES));
    const whys = new Set(REPLY_ROWS.map(([, , , v]) => v.why));
    expect([...whys].sort()).toEqual(
      ["accepted", "cleanup-accepted", "denied", "ha-lacks-v6-over-v4", "ha-refused-gre-key", "not-awaiting", "resend-pending", "resync", "superseded", "zero-lifetime"].sort(),
    );
  });
});
