import { OAuthError, OAuthErrorCode, requireBearerAuth } from "@modelcontextprotocol/server";
import { describe, expect, it } from "vitest";
import type { HttpAuthInfo } from "../mcp/http-channel.ts";
import { bearerToken, createAuthenticator, tokenAuth } from "./auth.ts";

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

describe("OAuth on web requests, beside the v2 SDK's requireBearerAuth", () => {
  const resource = new URL("http://127.0.0.1:3000/mcp");
  const metadataUrl = "http://127.0.0.1:3000/.well-known/oauth-protected-resource/mcp";
  const now = () => Math.floor(Date.now() / 1000);
  const tokens: Record<string, () => HttpAuthInfo> = {
    good: () => ({ token: "good", clientId: "c", scopes: ["mcp"], expiresAt: now() + 60, resource }),
    expired: () => ({ token: "expired", clientId: "c", scopes: ["mcp"], expiresAt: now() - 60, resource }),
    "no-expiry": () => ({ token: "no-expiry", clientId: "c", scopes: ["mcp"], resource }),
    "no-scope": () => ({ token: "no-scope", clientId: "c", scopes: [], expiresAt: now() + 60, resource }),
    elsewhere: () => ({
      token: "elsewhere",
      clientId: "c",
      scopes: ["mcp"],
      expiresAt: now() + 60,
      resource: new URL("https://other.example/mcp"),
    }),
  };
  const verifier = {
    async verifyAccessToken(token: string): Promise<HttpAuthInfo> {
      const found = tokens[token];
      if (found === undefined)
        throw new OAuthError(OAuthErrorCode.InvalidToken, `token "${token}" is unknown`);
      return found();
    },
  };

  it("answers every refusal with the SDK's status, error and WWW-Authenticate challenge", async () => {
    const ours = createAuthenticator(
      { oauth: { verifier, authorizationServers: ["https://auth.example"], requiredScopes: ["mcp"] } },
      () => resource,
    );
    const sdk = requireBearerAuth({
      verifier,
      requiredScopes: ["mcp"],
      resourceMetadataUrl: metadataUrl,
      expectedResource: resource,
    });
    const headers = [undefined, "Basic abc", "Bearer expired", "Bearer no-expiry", "Bearer no-scope"];
    for (const authorization of [...headers, "Bearer elsewhere", 'Bearer a"b', "Bearer good"]) {
      const request = new Request(
        resource,
        authorization === undefined ? {} : { headers: { authorization } },
      );
      const theirs = await sdk(request);
      const outcome = await ours.authenticate(request);
      if (!(theirs instanceof Response)) {
        expect(outcome.ok, authorization).toBe(true);
        continue;
      }
      expect(outcome.ok, authorization).toBe(false);
      if (outcome.ok) continue;
      expect(outcome.response.status, authorization).toBe(theirs.status);
      expect(await outcome.response.json(), authorization).toEqual(await theirs.json());
      expect(outcome.response.headers.get("www-authenticate"), authorization).toBe(
        theirs.headers.get("www-authenticate"),
      );
    }
  });
});
