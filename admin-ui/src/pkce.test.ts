import { describe, expect, it } from "vitest";
import { base64url, challengeFor, randomVerifier } from "./pkce";

describe("PKCE", () => {
  it("derives the RFC 7636 appendix B challenge from its verifier", async () => {
    // GIVEN the verifier of RFC 7636, appendix B WHEN its S256 challenge is computed THEN it is the RFC's value
    expect(await challengeFor("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });

  it("makes verifiers of 43 base64url characters that differ each time", () => {
    const a = randomVerifier();
    const b = randomVerifier();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
  });

  it("encodes without padding or URL-unsafe characters", () => {
    expect(base64url(new Uint8Array([0xfb, 0xff, 0xfe]))).toBe("-__-");
  });
});
