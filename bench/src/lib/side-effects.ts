/**
 * Reading the side-effect file the three-step job writes, `<job_id> <step>` per line, outside the store.
 */
import { existsSync, readFileSync, statSync } from "node:fs";

/** One line of the side-effect file, with its byte offset (to tell which server process wrote it). */
export interface SideEffect {
  jobId: string;
  step: number;
  offset: number;
}

/** Every complete line of the file, in order; unreadable lines are returned as `step: NaN`. */
export function readSideEffects(path: string): SideEffect[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, "utf8");
  const out: SideEffect[] = [];
  let offset = 0;
  for (const line of text.split("\n")) {
    const bytes = Buffer.byteLength(line) + 1;
    if (line !== "") {
      const [jobId = "", step = ""] = line.split(" ");
      out.push({ jobId, step: /^[123]$/.test(step) ? Number(step) : Number.NaN, offset });
    }
    offset += bytes;
  }
  return out;
}

/** The file's size in bytes, 0 when it does not exist yet. */
export function sizeOf(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}
