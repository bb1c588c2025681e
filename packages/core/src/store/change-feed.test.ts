import { describe, expect, it } from "vitest";
import { ChangeHub, changeFrom, changeOfPromise, maySettle } from "./change-feed.ts";
import { changesOfNotice } from "./postgres/postgres-changes.ts";
import { type JobChange, PRINCIPAL_TAG, QUESTION_TAG } from "./store.ts";

const job = { id: "job-1", state: "pending", tags: { "resonate:origin": "job-1", [PRINCIPAL_TAG]: "alice" } };
const roots = (id: string) => (id === job.id ? job : undefined);

describe("the change feed's rule for a job's changes", () => {
  it("tells a job's own promise created or settled, with whose job it is", () => {
    expect(changeOfPromise(job, roots)).toEqual({ id: "job-1", what: "created", principal: "alice" });
    expect(changeOfPromise({ id: "job-2", state: "rejected_canceled", tags: {} }, roots)).toEqual({
      id: "job-2",
      what: "settled",
      principal: "",
    });
  });

  it("tells a question as its job's, whose principal it takes from the job when it holds it", () => {
    const tags = { "resonate:origin": "job-1", [QUESTION_TAG]: "job-1/confirm" };
    expect(changeOfPromise({ id: "job-1:ask.0", state: "resolved", tags }, roots)).toEqual({
      id: "job-1",
      what: "question",
      principal: "alice",
    });
    const elsewhere = { "resonate:origin": "job-9", [QUESTION_TAG]: "job-9/confirm" };
    expect(changeOfPromise({ id: "job-9:ask.0", state: "pending", tags: elsewhere }, roots)).toEqual({
      id: "job-9",
      what: "question",
    });
  });

  it("tells nothing of a step", () => {
    expect(
      changeOfPromise({ id: "job-1.3", state: "resolved", tags: { "resonate:origin": "job-1" } }, roots),
    ).toBe(undefined);
  });

  it("takes only a settle, or a change that does not say what it is, for a possible settle", () => {
    const of = (what: JobChange["what"]) => maySettle({ id: "j", what });
    expect([of("created"), of("question"), of("progress"), of("settled"), of("changed")]).toEqual([
      false,
      false,
      false,
      true,
      true,
    ]);
  });

  it("tells every listener until it unsubscribes, and tells no one of nothing", () => {
    const hub = new ChangeHub();
    const heard: unknown[] = [];
    const stop = hub.subscribe((changed) => heard.push(changed));
    hub.emit([]);
    hub.emit([{ id: "a", what: "created" }]);
    stop();
    hub.emit([{ id: "b", what: "created" }]);
    expect(heard).toEqual([[{ id: "a", what: "created" }]]);
  });
});

describe("a change another process sent", () => {
  it("reads a change with what changed and whose job it is", () => {
    expect(changeFrom({ id: "a", what: "progress", principal: "bob" })).toEqual({
      id: "a",
      what: "progress",
      principal: "bob",
    });
    expect(changeFrom({ id: "a", what: "settled" })).toEqual({ id: "a", what: "settled" });
  });

  it("reads a job's ID alone, or a kind it does not know, as any change of the job", () => {
    expect(changeFrom("a")).toEqual({ id: "a", what: "changed" });
    expect(changeFrom({ id: "a", what: "renamed", principal: 7 })).toEqual({ id: "a", what: "changed" });
    expect([changeFrom(""), changeFrom({ what: "settled" }), changeFrom(null), changeFrom(3)]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("reads a Postgres notice of migration 0012, of migration 0008 (an ID alone), and an empty one", () => {
    expect(changesOfNotice('{"id":"weather-1","what":"created","principal":""}')).toEqual([
      { id: "weather-1", what: "created", principal: "" },
    ]);
    expect(changesOfNotice("weather-1")).toEqual([{ id: "weather-1", what: "changed" }]);
    expect(changesOfNotice("{not json")).toEqual([{ id: "{not json", what: "changed" }]);
    expect(changesOfNotice("")).toBe("any");
  });
});
