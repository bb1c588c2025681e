/**
 * What the job view and its server say to each other: the names of the view's app-only tools, the
 * configuration the server writes into the page, and the job those tools answer with. Shared by the server
 * (Node) and the view (browser), so it imports types only.
 */
import type { JobDetail } from "../../../runtime/job-detail.ts";

/** The view's app-only tools (`_meta.ui.visibility: ["app"]`): hidden from models, called by the view. */
export const VIEW_TOOLS = {
  /** Joins (or starts) the job a task tool's arguments name: the view of a task tool call follows it. */
  open: "async_tools_view_open",
  /** The job as the view shows it. */
  read: "async_tools_view_read",
  cancel: "async_tools_view_cancel",
  retry: "async_tools_view_retry",
} as const;

/** The `id` of the page's JSON script element that holds the {@link ViewConfig}. */
export const CONFIG_ELEMENT_ID = "async-tools-view-config";

/** The global under which the page's script puts the definitions' result renderers, by definition name. */
export const RENDERERS_GLOBAL = "asyncToolsRenderers";

/** One definition the view can show, with the tools whose calls it appears beside. */
export interface ViewedTool {
  /** The definition's name, as jobs name their tool. */
  name: string;
  start: string;
  /** The task tool, when it is registered. */
  task?: string;
  /** Where the start tool's result puts the job ID. */
  idField: string;
}

/** The view's configuration, written into the page by the server. */
export interface ViewConfig {
  /** How often the view polls an unfinished job, in ms. */
  pollMs: number;
  tools: ViewedTool[];
}

/**
 * A job as the view's tools return it (`structuredContent.job`): the runtime's job detail with its error in
 * words, and the question a job waits on for a person once jobs can ask one.
 */
export type ViewJob = Omit<JobDetail, "error"> & { error?: string; question?: { message: string } };
