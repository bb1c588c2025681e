/**
 * The job view, in the host's sandboxed frame: it finds the job its tool call started (the start tool's
 * result names it; a task tool's arguments name it), polls it through the host with the app-only read tool
 * until it ends, and cancels or retries it on a click. It follows the host's theme and tells the model how
 * a job the person watched ended.
 */
import {
  App,
  applyDocumentTheme,
  applyHostFonts,
  applyHostStyleVariables,
  type McpUiHostContext,
  PostMessageTransport,
} from "@modelcontextprotocol/ext-apps";
import type { RenderKit } from "../../../../define.ts";
import {
  CONFIG_ELEMENT_ID,
  RENDERERS_GLOBAL,
  VIEW_TOOLS,
  type ViewConfig,
  type ViewedTool,
  type ViewJob,
} from "../protocol.ts";
import {
  el,
  isFinished,
  type Renderer,
  renderHeader,
  renderOutcome,
  renderProgress,
  renderQuestion,
  renderSteps,
} from "./render.ts";

type ToolResult = Awaited<ReturnType<App["callServerTool"]>>;

const config = JSON.parse(document.getElementById(CONFIG_ELEMENT_ID)?.textContent ?? "{}") as ViewConfig;
const renderers = ((window as unknown as Record<string, unknown>)[RENDERERS_GLOBAL] ?? {}) as Record<
  string,
  Renderer
>;

const section = (id: string) => document.getElementById(id) as HTMLElement;
const parts = {
  header: section("header"),
  progress: section("progress"),
  question: section("question"),
  steps: section("steps"),
  outcome: section("outcome"),
  notice: section("notice"),
  cancel: section("cancel") as HTMLButtonElement,
  retry: section("retry") as HTMLButtonElement,
};

const app = new App({ name: "async-tools job view", version: "1.0.0" }, {}, { autoResize: true });
let theme: RenderKit["theme"] = "light";
/** The job followed now; a retry follows its new run. */
let current: string | undefined;
/** Bumped whenever the followed job changes, so an older poll loop stops. */
let generation = 0;
let drawnOutcome: string | undefined;
let reported: string | undefined;

function notice(text: string): void {
  parts.notice.textContent = text;
  parts.notice.hidden = text === "";
}

function applyContext(context: Partial<McpUiHostContext>): void {
  if (context.theme !== undefined) {
    theme = context.theme;
    applyDocumentTheme(context.theme);
  }
  if (context.styles?.variables !== undefined) applyHostStyleVariables(context.styles.variables);
  if (context.styles?.css?.fonts !== undefined) applyHostFonts(context.styles.css.fonts);
}

/** The definition a tool call of the host was to, by its start or task tool. */
function viewedBy(toolName: string | undefined): { tool: ViewedTool; task: boolean } | undefined {
  for (const tool of config.tools) {
    if (tool.start === toolName) return { tool, task: false };
    if (tool.task !== undefined && tool.task === toolName) return { tool, task: true };
  }
  return undefined;
}

function jobOf(result: ToolResult): ViewJob | undefined {
  if (result.isError) {
    notice(result.content.map((c) => (c.type === "text" ? c.text : "")).join("\n"));
    return undefined;
  }
  return (result.structuredContent as { job?: ViewJob } | undefined)?.job;
}

async function call(name: string, args: Record<string, unknown>): Promise<ViewJob | undefined> {
  try {
    return jobOf(await app.callServerTool({ name, arguments: args }));
  } catch (error) {
    notice(`The host did not pass the call on: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

function draw(job: ViewJob): void {
  notice("");
  document.body.dataset.status = job.status;
  renderHeader(parts.header, job);
  renderProgress(parts.progress, job);
  renderQuestion(parts.question, job);
  renderSteps(parts.steps, job);
  const outcomeKey = isFinished(job) ? `${job.jobId}:${job.status}` : undefined;
  if (outcomeKey !== drawnOutcome) {
    renderOutcome(parts.outcome, job, job.tool === undefined ? undefined : renderers[job.tool], theme);
    drawnOutcome = outcomeKey;
  }
  parts.cancel.hidden = isFinished(job);
  parts.retry.hidden = job.status !== "failed" && job.status !== "cancelled";
  if (isFinished(job)) void report(job);
}

/** Tells the model how a job ended, once per job: the person may have cancelled or retried it here. */
async function report(job: ViewJob): Promise<void> {
  if (reported === job.jobId) return;
  reported = job.jobId;
  const detail = job.status === "completed" ? "" : ` (${job.error ?? job.status})`;
  await app
    .updateModelContext({
      content: [
        { type: "text", text: `Job ${job.jobId} of ${job.tool ?? "a tool"} is ${job.status}${detail}.` },
      ],
    })
    .catch(() => undefined);
}

/** Follows `jobId`: draws it now and on every poll until it ends. */
async function follow(jobId: string, first?: ViewJob): Promise<void> {
  current = jobId;
  const mine = ++generation;
  let job = first ?? (await call(VIEW_TOOLS.read, { job_id: jobId }));
  while (mine === generation) {
    if (job !== undefined) {
      draw(job);
      if (isFinished(job)) return;
    }
    await new Promise((resolve) => setTimeout(resolve, config.pollMs));
    if (mine !== generation) return;
    job = await call(VIEW_TOOLS.read, { job_id: jobId });
  }
}

app.onhostcontextchanged = applyContext;
app.ontoolinput = ({ arguments: args }) => {
  const viewed = viewedBy(app.getHostContext()?.toolInfo?.tool.name);
  if (viewed?.task !== true || current !== undefined) return;
  const { fresh: _fresh, ...input } = args ?? {};
  void call(VIEW_TOOLS.open, { tool: viewed.tool.name, arguments: input }).then((job) => {
    if (job !== undefined && current === undefined) void follow(job.jobId, job);
  });
};
app.ontoolresult = (result) => {
  const structured = result.structuredContent as Record<string, unknown> | undefined;
  const viewed = config.tools.find((tool) => tool.name === structured?.tool);
  const jobId = viewed === undefined ? undefined : structured?.[viewed.idField];
  if (typeof jobId === "string") {
    if (jobId !== current) void follow(jobId);
  } else if (result.isError && current === undefined) {
    notice(result.content.map((c) => (c.type === "text" ? c.text : "")).join("\n"));
  }
};
app.ontoolcancelled = ({ reason }) => {
  if (current === undefined) notice(`The tool call was cancelled${reason ? `: ${reason}` : ""}.`);
};
app.onteardown = async () => {
  generation += 1;
  return {};
};

parts.cancel.addEventListener("click", async () => {
  if (current === undefined) return;
  parts.cancel.disabled = true;
  const job = await call(VIEW_TOOLS.cancel, { job_id: current });
  parts.cancel.disabled = false;
  if (job !== undefined) void follow(job.jobId, job);
});
parts.retry.addEventListener("click", async () => {
  if (current === undefined) return;
  parts.retry.disabled = true;
  const job = await call(VIEW_TOOLS.retry, { job_id: current });
  parts.retry.disabled = false;
  if (job !== undefined) {
    await app
      .updateModelContext({
        content: [{ type: "text", text: `The person retried job ${current} as job ${job.jobId}.` }],
      })
      .catch(() => undefined);
    void follow(job.jobId, job);
  }
});

parts.header.append(el("p", "note", "Waiting for the job…"));
await app.connect(new PostMessageTransport(window.parent, window.parent));
applyContext(app.getHostContext() ?? {});
