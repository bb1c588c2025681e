import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createAsyncTools, defineAsyncTool } from "../index.ts";
import { type AsyncTools, internalsOf } from "../runtime/runtime.ts";
import { QuestionClaims } from "./question-claims.ts";

const runtimes: AsyncTools[] = [];
afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.close();
});

const noop = defineAsyncTool({
  name: "noop",
  description: "Does nothing",
  input: z.object({}),
  run: async () => null,
});

async function claimsWithSlot(slotMs: number): Promise<QuestionClaims> {
  const runtime = await createAsyncTools({ name: "claims", store: "memory", tools: [noop] });
  runtimes.push(runtime);
  return new QuestionClaims(internalsOf(runtime).promises, slotMs);
}

describe("claims on a question being asked", () => {
  it("lets one holder ask at a time, and the holder take its own claim again", async () => {
    const claims = await claimsWithSlot(60_000);
    const release = await claims.claim("job", "job/confirm", "session-a");
    expect(release).toBeTypeOf("function");
    expect(await claims.claim("job", "job/confirm", "session-b")).toBeUndefined();
    const again = await claims.claim("job", "job/confirm", "session-a");
    expect(again).toBeTypeOf("function");
    // Another question of the same job is free.
    expect(await claims.claim("job", "job/other", "session-b")).toBeTypeOf("function");
    release?.();
    again?.();
  });

  it("keeps a claim while its holder renews it, and lets go of a released one within two slots", async () => {
    const slotMs = 1_000;
    const claims = await claimsWithSlot(slotMs);
    const release = await claims.claim("job", "job/confirm", "session-a");
    // Renewed each slot: still held several slots later.
    await new Promise((resolve) => setTimeout(resolve, 3 * slotMs));
    expect(await claims.claim("job", "job/confirm", "session-b")).toBeUndefined();
    release?.();
    await expect
      .poll(async () => (await claims.claim("job", "job/confirm", "session-b")) !== undefined, {
        timeout: 30_000,
        interval: slotMs,
      })
      .toBe(true);
  });
});
