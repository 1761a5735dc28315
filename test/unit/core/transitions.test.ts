// The state table itself: what it allows, and that every state can end.
import { describe, expect, it } from "vitest";
import { isForwarding, nextState, TRANSITIONS } from "../../../src/core/transitions.ts";
import type { Next, SessionInput, SessionState } from "../../../src/core/transitions.ts";

const STATES = Object.keys(TRANSITIONS) as SessionState[];
const INPUTS: SessionInput[] = [
  "accepted-v6",
  "accepted-no-v6",
  "id-mismatch",
  "denied",
  "timeout-retry",
  "timeout-give-up",
  "refresh-due",
  "expired",
  "revoked",
  "left",
  "handed-over",
  "hold-off-over",
  "shutdown",
];

describe("TRANSITIONS", () => {
  it("covers the six states", () => {
    expect(STATES.sort()).toEqual(["bound", "deregistering", "failed", "no-service", "registering", "renewing"]);
  });

  it("names only known states and inputs", () => {
    for (const s of STATES) {
      for (const [input, next] of Object.entries(TRANSITIONS[s])) {
        expect(INPUTS).toContain(input);
        expect([...STATES, "released"]).toContain(next);
      }
    }
  });

  it("reaches released from every state, whatever the HA does (left, then silence)", () => {
    for (const s of STATES) {
      let state: Next = s;
      for (let i = 0; i < 4 && state !== "released"; i++) {
        state = nextState(state, "timeout-give-up") ?? nextState(state, "hold-off-over") ?? nextState(state, "left") ?? state;
      }
      expect(state, `from ${s}`).toBe("released");
    }
  });

  it("forwards only in bound and renewing", () => {
    expect(STATES.filter(isForwarding).sort()).toEqual(["bound", "renewing"]);
  });

  it("lets no input but an accepted-v6 reply make a session forwarding from a non-forwarding state", () => {
    for (const s of STATES.filter((x) => !isForwarding(x))) {
      for (const i of INPUTS) {
        const n = nextState(s, i);
        if (n !== undefined && n !== "released" && isForwarding(n)) expect([s, i]).toEqual(["registering", "accepted-v6"]);
      }
    }
  });

  it("ignores inputs a state does not list", () => {
    expect(nextState("bound", "accepted-v6")).toBeUndefined();
    expect(nextState("failed", "revoked")).toBeUndefined();
    expect(nextState("renewing", "timeout-give-up")).toBeUndefined();
    expect(nextState("registering", "refresh-due")).toBeUndefined();
  });
});
