/**
 * The job view for hosts with MCP Apps (extension `io.modelcontextprotocol/ui`, spec 2026-01-26): one `ui://`
 * resource, a page the host shows beside a start or task tool's call, and the app-only tools the page reads,
 * cancels and retries jobs with. Clients that did not declare the extension see the tools as without it.
 */
import type { CallToolResult, McpServer, ServerContext } from "@modelcontextprotocol/server";
import { z } from "zod";
import { DEFAULTS_VIEW } from "../../../defaults.ts";
import type { AnyAsyncTool } from "../../../define.ts";
import type { JobDetail } from "../../../runtime/job-detail.ts";
import type { AsyncTools, CallerOptions } from "../../../runtime/runtime.ts";
import { principalOf } from "../../principal.ts";
import { errorText, type JobToolNames } from "../../text.ts";
import { fail } from "../../wire.ts";
import { type RawHandler, wrapRequestHandler } from "../sdk-internals.ts";
import { CONFIG_SLOT, inlineScript, jobViewPage } from "./html.ts";
import {
  CONFIG_ELEMENT_ID,
  RENDERERS_GLOBAL,
  VIEW_TOOLS,
  type ViewConfig,
  type ViewedTool,
  type ViewJob,
} from "./protocol.ts";

/** The MCP Apps extension's identifier, as hosts declare it. */
export const UI_EXTENSION = "io.modelcontextprotocol/ui";

/** The MIME type of an MCP Apps page. */
export const UI_MIME_TYPE = "text/html;profile=mcp-app";

/** The job view's resource. */
export const JOB_VIEW_URI = "ui://async-tools/job-view.html";

/** The envelope key under which a 2026-07-28 request carries its client capabilities. */
const CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities";

/** How the job view behaves; `view: true` takes the defaults. */
export interface JobViewOptions {
  /** How often the view polls an unfinished job, in ms. Default 1 s. */
  pollMs?: number;
}

/** A definition the view shows, with the definition itself. */
type Viewed = ViewedTool & { definition: AnyAsyncTool };

/**
 * Registers the view on `server` for `definitions`: the resource, the app-only tools, and `_meta.ui` on each
 * start tool (and task tool, with `tasks`), listed only to clients that declared the extension. `namesOf`
 * gives each definition's tool names as registered.
 */
export function registerJobView(
  server: McpServer,
  runtime: AsyncTools,
  definitions: readonly AnyAsyncTool[],
  namesOf: ReadonlyMap<string, JobToolNames>,
  options: JobViewOptions & { tasks: boolean },
): void {
  const tools = definitions.flatMap((definition): Viewed[] => {
    const names = namesOf.get(definition.name);
    if (names === undefined) return [];
    const task = options.tasks ? definition.toolNames.task : false;
    return [
      {
        definition,
        name: definition.name,
        start: names.start,
        idField: names.idField,
        ...(task === false ? {} : { task }),
      },
    ];
  });
  const config: ViewConfig = {
    pollMs: options.pollMs ?? DEFAULTS_VIEW.pollMs,
    tools: tools.map(({ definition: _, ...tool }) => tool),
  };
  const renderers = tools.flatMap(({ definition }) =>
    definition.view === undefined ? [] : [`${JSON.stringify(definition.name)}: ${definition.view.source}`],
  );
  server.registerResource(
    "Job view",
    JOB_VIEW_URI,
    { mimeType: UI_MIME_TYPE, description: "Live status, progress, steps and result of a job" },
    async (uri) => ({
      contents: [
        {
          uri: uri.href,
          mimeType: UI_MIME_TYPE,
          text: (await jobViewPage()).replace(CONFIG_SLOT, () => configScripts(config, renderers)),
          _meta: { ui: { prefersBorder: true } },
        },
      ],
    }),
  );
  registerViewTools(server, runtime, tools);

  const viewed = new Set(
    tools.flatMap((tool) => (tool.task === undefined ? [tool.start] : [tool.start, tool.task])),
  );
  const appOnly = new Set<string>(Object.values(VIEW_TOOLS));
  const uiMeta = { ui: { resourceUri: JOB_VIEW_URI }, "ui/resourceUri": JOB_VIEW_URI };
  wrapRequestHandler(server, "tools/list", (original: RawHandler) => async (request, ctx) => {
    const result = (await original(request, ctx)) as { tools: { name: string; _meta?: object }[] };
    if (!speaksUi(server, ctx)) {
      return { ...result, tools: result.tools.filter((tool) => !appOnly.has(tool.name)) };
    }
    return {
      ...result,
      tools: result.tools.map((tool) =>
        viewed.has(tool.name) ? { ...tool, _meta: { ...tool._meta, ...uiMeta } } : tool,
      ),
    };
  });
  // Hosts find the page through the tools' `_meta.ui`; other clients are not offered it (the spec allows both).
  wrapRequestHandler(server, "resources/list", (original: RawHandler) => async (request, ctx) => {
    const result = (await original(request, ctx)) as { resources: { uri: string }[] };
    if (speaksUi(server, ctx)) return result;
    return { ...result, resources: result.resources.filter((resource) => resource.uri !== JOB_VIEW_URI) };
  });
}

/** The page's configuration and renderers, as two script elements for its head. */
function configScripts(config: ViewConfig, renderers: string[]): string {
  const json = JSON.stringify(config).replace(/</g, "\\u003c");
  const code = `window[${JSON.stringify(RENDERERS_GLOBAL)}] = {${renderers.join(",\n")}};`;
  return (
    `<script type="application/json" id="${CONFIG_ELEMENT_ID}">${json}</script>\n` +
    `<script>${inlineScript(code)}</script>`
  );
}

/**
 * Whether the client declared MCP Apps: per request on 2026-07-28 (its envelope), at `initialize` on
 * 2025-11-25.
 */
function speaksUi(server: McpServer, ctx: ServerContext): boolean {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  const capabilities = (
    envelope === undefined ? server.server.getClientCapabilities() : envelope[CLIENT_CAPABILITIES]
  ) as { extensions?: Record<string, unknown> } | undefined;
  return capabilities?.extensions?.[UI_EXTENSION] !== undefined;
}

const jobIdArgs = z.object({ job_id: z.string().min(1).describe("The job's ID") });

/**
 * The view's app-only tools. Each acts as the calling principal, exactly like the job tools: another
 * principal's job is `not_found`, and a job the view starts belongs to the caller.
 */
function registerViewTools(server: McpServer, runtime: AsyncTools, tools: readonly Viewed[]): void {
  const register = (
    name: string,
    description: string,
    inputSchema: z.ZodObject,
    act: (args: Record<string, unknown>, caller: CallerOptions) => Promise<CallToolResult>,
  ) =>
    server.registerTool(
      name,
      {
        title: description,
        description: `${description}. For the job view of MCP Apps hosts.`,
        inputSchema,
        _meta: { ui: { resourceUri: JOB_VIEW_URI, visibility: ["app"] } },
      },
      (args: Record<string, unknown>, ctx: ServerContext) => {
        const principal = principalOf(ctx.http?.authInfo);
        return act(args, principal === undefined ? {} : { principal });
      },
    );
  const shown = async (jobId: string, caller: CallerOptions) => viewResult(await runtime.get(jobId, caller));

  register(VIEW_TOOLS.read, "Read a job", jobIdArgs, ({ job_id }, caller) => shown(job_id as string, caller));
  register(VIEW_TOOLS.cancel, "Cancel a job", jobIdArgs, async ({ job_id }, caller) => {
    await runtime.cancel(job_id as string, "cancelled in the job view", caller);
    return shown(job_id as string, caller);
  });
  register(VIEW_TOOLS.retry, "Retry a failed or cancelled job", jobIdArgs, async ({ job_id }, caller) => {
    const started = await runtime.retry(job_id as string, caller);
    return shown(started.jobId, caller);
  });
  const byName = new Map(tools.map((tool) => [tool.name, tool.definition]));
  register(
    VIEW_TOOLS.open,
    "Open the job of a task tool call",
    z.object({
      tool: z.string().describe("The async tool's name"),
      arguments: z.record(z.string(), z.unknown()).describe("The task tool call's arguments"),
    }),
    async ({ tool, arguments: input }, caller) => {
      const definition = byName.get(tool as string);
      if (definition === undefined)
        return fail(`No async tool named ${JSON.stringify(tool)} has a view here.`);
      const parsed = definition.input.safeParse(input);
      if (!parsed.success) return fail(`Invalid arguments for ${definition.name}: ${parsed.error.message}`);
      const started = await runtime.start(definition, parsed.data, caller);
      return shown(started.jobId, caller);
    },
  );
}

/** A job for the view: a line of text, and the job itself as structured content, its error in words. */
function viewResult(detail: JobDetail): CallToolResult {
  const { error: _code, ...rest } = detail;
  const error = errorText(detail);
  const job: ViewJob = error === undefined ? rest : { ...rest, error };
  return {
    content: [{ type: "text", text: `Job ${job.jobId}: ${job.status}` }],
    structuredContent: { job },
  };
}
