import { describe, expect, it } from "vitest";
import { ChangeHub, jobOfPromise } from "./change-feed.ts";
import { QUESTION_TAG } from "./store.ts";

describe("the change feed's rule for a job's changes", () => {
  it("counts a job's own promise and its questions, not its steps", () => {
    expect(jobOfPromise("job-1", { "resonate:origin": "job-1" })).toBe("job-1");
    expect(jobOfPromise("job-1", {})).toBe("job-1");
    expect(jobOfPromise("job-1:ask.0", { "resonate:origin": "job-1", [QUESTION_TAG]: "job-1/confirm" })).toBe(
      "job-1",
    );
    expect(jobOfPromise("job-1.3", { "resonate:origin": "job-1" })).toBeUndefined();
  });

  it("tells every listener until it unsubscribes, and tells no one of nothing", () => {
    const hub = new ChangeHub();
    const heard: unknown[] = [];
    const stop = hub.subscribe((changed) => heard.push(changed));
    hub.emit([]);
    hub.emit(["a"]);
    stop();
    hub.emit(["b"]);
    expect(heard).toEqual([["a"]]);
  });
});
