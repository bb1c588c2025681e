import type { Message } from "@resonatehq/sdk";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MessageRouter } from "./router.ts";

const execute = (id: string): Message =>
  ({ kind: "execute", head: {}, data: { task: { id, version: 1 } } }) as Message;
const unblock = (id: string): Message =>
  ({ kind: "unblock", head: {}, data: { promise: { id } } }) as unknown as Message;

afterEach(() => {
  vi.useRealTimers();
});

function sink(into: Message[]) {
  return (message: Message) => {
    into.push(message);
    return true;
  };
}

describe("routing the messages of a served store", () => {
  it("delivers unicast and anycast to the named process, whatever the address's scheme", () => {
    const router = new MessageRouter({ graceMs: 1000, replayMs: 0, onDead: () => undefined });
    const a: Message[] = [];
    const b: Message[] = [];
    router.connect("g", "a", sink(a));
    router.connect("g", "b", sink(b));
    router.route("poll://uni@g/a", unblock("p1"));
    router.route("sqlite://any@g/b", execute("t1"));
    expect(a).toEqual([unblock("p1")]);
    expect(b).toEqual([execute("t1")]);
  });

  it("sends anycast work for a process that is gone to another live process of its group", () => {
    const router = new MessageRouter({ graceMs: 1000, replayMs: 0, onDead: () => undefined });
    const b: Message[] = [];
    router.connect("g", "b", sink(b));
    router.route("poll://any@g/dead-owner", execute("t1"));
    router.route("poll://any@g", execute("t2"));
    expect(b).toEqual([execute("t1"), execute("t2")]);
  });

  it("keeps messages for a process that is reconnecting, and sends the last ones again after it does", () => {
    vi.useFakeTimers();
    const router = new MessageRouter({ graceMs: 3000, replayMs: 5000, onDead: () => undefined });
    const first: Message[] = [];
    const detach = router.connect("g", "a", sink(first));
    router.route("poll://uni@g/a", unblock("p1"));
    detach();
    router.route("poll://uni@g/a", unblock("p2"));
    vi.advanceTimersByTime(1000);
    const second: Message[] = [];
    router.connect("g", "a", sink(second));
    expect(first).toEqual([unblock("p1")]);
    // p1 may have vanished with the dropping stream; a duplicate unblock or execute is harmless.
    expect(second).toEqual([unblock("p1"), unblock("p2")]);
  });

  it("declares a process dead after the grace period, hands its queued work on, and reports it", () => {
    vi.useFakeTimers();
    const dead: string[] = [];
    const router = new MessageRouter({ graceMs: 3000, replayMs: 0, onDead: (pid) => dead.push(pid) });
    const b: Message[] = [];
    const detach = router.connect("g", "a", sink([]));
    router.connect("g", "b", sink(b));
    detach();
    router.route("poll://any@g/a", execute("t1"));
    router.route("poll://uni@g/a", unblock("p1"));
    expect(b).toEqual([]);
    vi.advanceTimersByTime(3001);
    expect(dead).toEqual(["a"]);
    expect(b).toEqual([execute("t1")]);
  });

  it("holds work for a group with no process until one connects", () => {
    const router = new MessageRouter({ graceMs: 1000, replayMs: 0, onDead: () => undefined });
    router.route("poll://any@g/x", execute("t1"));
    const late: Message[] = [];
    router.connect("g", "late", sink(late));
    expect(late).toEqual([execute("t1")]);
  });
});
