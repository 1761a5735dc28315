import { describe, expect, it } from "vitest";
import { isRegistrationAccepted, ReplyCode, replyCodeName, replyCodeSource } from "../../../../src/wire/mip-codes.ts";

describe("registration reply codes", () => {
  it("names the RFC 3344/5944 3.4, RFC 2794, RFC 4064 and RFC 5563 codes", () => {
    const expected: [number, string][] = [
      [0, "accepted"],
      [1, "accepted-no-simultaneous-bindings"],
      [64, "fa-reason-unspecified"],
      [69, "fa-lifetime-too-long"],
      [73, "fa-reserved-and-unavailable"],
      [77, "fa-invalid-care-of-address"],
      [88, "fa-home-agent-unreachable"],
      [96, "fa-nonzero-home-address-required"],
      [97, "fa-missing-nai"],
      [98, "fa-missing-home-agent"],
      [99, "fa-missing-home-address"],
      [127, "fa-experimental"],
      [128, "ha-reason-unspecified"],
      [131, "ha-mobile-node-failed-authentication"],
      [133, "ha-identification-mismatch"],
      [134, "ha-poorly-formed-request"],
      [136, "ha-unknown-home-agent-address"],
      [149, "ha-pmip-unsupported"],
      [192, "ha-experimental"],
      [194, "fa-invalid-home-agent-address"],
    ];
    for (const [code, name] of expected) expect(replyCodeName(code)).toBe(name);
  });
  it("every constant has a name, and names are unique", () => {
    const values = Object.values(ReplyCode);
    const names = values.map(replyCodeName);
    expect(names.filter((n) => n.startsWith("unknown-"))).toEqual([]);
    expect(new Set(names).size).toBe(values.length);
    expect(ReplyCode.IdentificationMismatch).toBe(133);
    expect(ReplyCode.FaInvalidHomeAgentAddress).toBe(194);
  });
  it("unknown codes keep their number", () => {
    expect(replyCodeName(2)).toBe("unknown-2");
    expect(replyCodeName(255)).toBe("unknown-255");
  });
  it("only 0 and 1 accept", () => {
    for (let c = 0; c < 256; c++) expect(isRegistrationAccepted(c)).toBe(c === 0 || c === 1);
  });
  it("classifies by the RFC 5944 6.4 ranges", () => {
    expect(replyCodeSource(0)).toBe("accepted");
    expect(replyCodeSource(5)).toBe("other");
    expect(replyCodeSource(70)).toBe("foreign-agent");
    expect(replyCodeSource(133)).toBe("home-agent");
    expect(replyCodeSource(194)).toBe("foreign-agent");
    expect(replyCodeSource(195)).toBe("gateway-fa");
    expect(replyCodeSource(201)).toBe("other");
  });
});
