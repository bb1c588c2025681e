import { describe, expect, it } from "vitest";
import { bearerToken, tokenAuth } from "./auth.ts";

describe("bearer tokens", () => {
  it("reads the scheme in any case and the token whole", () => {
    expect(bearerToken("Bearer abc")).toBe("abc");
    expect(bearerToken("bearer abc")).toBe("abc");
    expect(bearerToken("BEARER   abc  ")).toBe("abc");
    expect(bearerToken("Basic abc")).toBeUndefined();
    expect(bearerToken("Bearer a b")).toBeUndefined();
    expect(bearerToken(null)).toBeUndefined();
  });

  it("reads token flags: one plain token, or tokens by principal", () => {
    expect(tokenAuth([])).toBeUndefined();
    expect(tokenAuth(["s3cret"])).toEqual({ token: "s3cret" });
    expect(tokenAuth(["YWJj=="])).toEqual({ token: "YWJj==" });
    expect(tokenAuth(["YWJjZA="])).toEqual({ token: "YWJjZA=" });
    expect(tokenAuth(["alice=T1", "bob=T2"])).toEqual({ tokens: { alice: "T1", bob: "T2" } });
    expect(tokenAuth(["alice=dG9r=="])).toEqual({ tokens: { alice: "dG9r==" } });
    expect(() => tokenAuth(["a", "b"])).toThrow(/name each/);
    expect(() => tokenAuth(["alice=T1", "plain"])).toThrow(/Mixed/);
    expect(() => tokenAuth(["alice=T1", "alice=T2"])).toThrow(/two tokens/);
  });
});
