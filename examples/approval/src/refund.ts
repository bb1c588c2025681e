/**
 * `refund`: looks up an order, asks a person whether to refund it (an MCP elicitation form), and refunds it or
 * not. While it waits the job is `input_required`: it holds no process and no slot, and survives restarts.
 */
import { defineAsyncTool } from "@async-tools/core";
import { z } from "zod";

export const refund = defineAsyncTool({
  name: "refund",
  description: "Refunds an order after a person approves it",
  input: z.object({ order: z.string() }),
  output: z.object({ refunded: z.boolean(), amount: z.number(), reason: z.string() }),
  // Adds respond_refund, through which a model relays the person's answer when the client cannot be asked.
  asks: true,
  run: async (ctx, { order }) => {
    const amount = await ctx.run("look up", () => 42.5);
    const answer = await ctx.ask("approve", {
      message: `Refund $${amount} for order ${order}?`,
      schema: z.object({ approve: z.boolean(), reason: z.string().max(200).optional() }),
      // Nobody answered within a day: treat it as a no.
      timeoutMs: 24 * 60 * 60 * 1000,
      onTimeout: { action: "decline" },
    });
    if (answer.action !== "accept" || !answer.content.approve) {
      return { refunded: false, amount, reason: answer.action === "accept" ? "not approved" : answer.action };
    }
    await ctx.run("refund", () => true);
    return { refunded: true, amount, reason: answer.content.reason ?? "approved" };
  },
});
