/**
 * The job view's page, read as its `ui://` resource. From source the page is bundled by esbuild, a child
 * process, on the first read: an integration test (`BESIDE_SOURCE_NOT_UNIT` in the root vitest.config.ts).
 */

import { statelessCaller } from "@async-tools/test-helpers/mcp";
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import { expect, it } from "vitest";
import { z } from "zod";
import { createAsyncTools, defineAsyncTool } from "../../../index.ts";
import { registerTools } from "../register.ts";
import { JOB_VIEW_URI, UI_EXTENSION, UI_MIME_TYPE } from "./job-view.ts";
import { CONFIG_ELEMENT_ID } from "./protocol.ts";

const shout = defineAsyncTool({
  name: "shout",
  description: "Shouts a word",
  input: z.object({ word: z.string() }),
  run: async (ctx, { word }) => ctx.run("shout", () => word.toUpperCase()),
  view: {
    render(result, kit) {
      return `<strong>${kit.escape(result)}</strong>`;
    },
  },
});

it("serves the view as one text/html;profile=mcp-app page with its configuration and renderers", async () => {
  await using runtime = await createAsyncTools({ tools: [shout], store: "memory" });
  const handler = createMcpHandler(() => {
    const server = new McpServer({ name: "shout", version: "0" });
    registerTools(server, runtime, { view: true });
    return server;
  });
  const capabilities = { extensions: { [UI_EXTENSION]: { mimeTypes: [UI_MIME_TYPE] } } };
  const answer = await statelessCaller(handler.fetch)(
    { method: "resources/read", params: { uri: JOB_VIEW_URI } },
    { principal: "alice", clientName: "host", capabilities },
  );
  const { contents } = answer.result as { contents: { uri: string; mimeType: string; text: string }[] };
  expect(contents).toHaveLength(1);
  const [page] = contents;
  expect(page?.uri).toBe(JOB_VIEW_URI);
  expect(page?.mimeType).toBe("text/html;profile=mcp-app");
  expect(page?.text).toMatch(/^<!doctype html>/);
  expect(page?.text).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
  const config = page?.text.match(new RegExp(`id="${CONFIG_ELEMENT_ID}">(.*?)</script>`))?.[1];
  expect(JSON.parse(config ?? "null")).toEqual({
    pollMs: 1000,
    tools: [{ name: "shout", start: "start_shout", task: "shout", idField: "job_id" }],
  });
  expect(page?.text).toContain(`"shout": ({ render(result, kit)`);
});
