/**
 * Random protocol requests for the differential tests of our networks (SQLite, Postgres) against the SDK's
 * in-memory protocol server: mostly well-aimed (ids, versions and pids read from the reference's state), seeded
 * so a failing run replays with `SEED=<n>`.
 */
import { LocalNetwork, type Message, type Request } from "@resonatehq/sdk";

/** The SDK's protocol server (`network/local.js` `Server`), as far as the tests read and drive it. */
export interface ReferenceServer {
  promises: Map<string, { state: string }>;
  tasks: Map<string, { state: string; version: number; pid?: string }>;
  schedules: Map<string, unknown>;
  apply(
    now: number,
    req: Request,
  ): {
    response: { kind: string; head: { status: number }; data: unknown };
    changes: { kind: string; message?: Message }[];
  };
}

/** Every this many requests a fresh generation of ids starts, so old work settles and new work keeps coming. */
export const GENERATION = 150;
const ROOTS = ["a", "b", "c"];
const PIDS = ["p1", "p2"];

/** Where generated work and listeners point; the served store routes them, so there they are real addresses. */
export interface Addresses {
  targets: string[];
  listener: string;
}

export const PLAIN: Addresses = { targets: ["t1", "t2"], listener: "l1" };

/** Builds random, mostly well-aimed requests: ids, versions and pids are often read from the reference. */
export function generator(random: () => number, ref: ReferenceServer, addresses: Addresses = PLAIN) {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const chance = (p: number): boolean => random() < p;
  let corr = 0;
  let generation = 0;
  const head = () => ({ corrId: `c${++corr}`, version: "test" });
  const origin = (id: string): string => id.split(":")[0] as string;

  /** An id of the current generation mostly, of the previous one sometimes, of any (long settled) rarely. */
  const anyId = (): string => {
    const roll = random();
    const gen =
      roll < 0.75 ? generation : roll < 0.95 ? generation - 1 : Math.floor(random() * (generation + 1));
    const root = `${pick(ROOTS)}${Math.max(0, gen)}`;
    return pick([root, `${root}:1`, `${root}:2`, `${root}:3`, `${root}:1.1`]);
  };
  const pendingId = (): string => {
    const ids = [...ref.promises].filter(([, p]) => p.state === "pending").map(([id]) => id);
    return ids.length > 0 && chance(0.6) ? pick(ids) : anyId();
  };
  /** A task id in `state` when one exists (often), else an unfinished one, else any id. */
  const taskId = (state?: string): string => {
    const live = [...ref.tasks].filter(([, t]) => t.state !== "fulfilled");
    const wanted = live.filter(([, t]) => t.state === state);
    if (wanted.length > 0 && chance(0.6)) return pick(wanted)[0];
    return live.length > 0 && chance(0.6) ? pick(live)[0] : anyId();
  };
  const version = (id: string): number =>
    chance(0.85) ? (ref.tasks.get(id)?.version ?? 0) : Math.floor(random() * 4);
  const settleState = () => pick(["resolved", "rejected", "rejected_canceled"] as const);

  const create = (now: number, id: string, target: boolean) => {
    const tags: Record<string, string> = { "resonate:origin": origin(id), "resonate:parent": origin(id) };
    if (chance(0.85)) tags["resonate:branch"] = chance(0.7) ? origin(id) : id;
    if (chance(0.5)) tags["resonate:scope"] = "global";
    if (target) tags["resonate:target"] = pick(addresses.targets);
    if (chance(0.06)) tags["resonate:timer"] = "true";
    if (target && chance(0.06)) tags["resonate:delay"] = String(now + Math.floor(random() * 20_000));
    return {
      kind: "promise.create" as const,
      head: head(),
      data: {
        id,
        timeoutAt: now + pick([-1000, 10_000, 60_000, 300_000, 3_600_000]),
        param: chance(0.9) ? { headers: {}, data: `in-${Math.floor(random() * 100)}` } : { headers: {} },
        tags,
      },
    };
  };
  const settle = (id: string) => ({
    kind: "promise.settle" as const,
    head: head(),
    data: { id, state: settleState(), value: { headers: {}, data: `out-${Math.floor(random() * 100)}` } },
  });

  return (now: number, step: number): Request => {
    generation = Math.floor(step / GENERATION);
    const roll = random();
    if (roll < 0.1) return create(now, anyId(), chance(0.6));
    if (roll < 0.17) {
      const action = create(now, anyId(), true);
      return {
        kind: "task.create",
        head: head(),
        data: { pid: pick(PIDS), ttl: pick([5000, 30_000]), action },
      };
    }
    if (roll < 0.2) return { kind: "promise.get", head: head(), data: { id: anyId() } };
    if (roll < 0.25) return settle(pendingId());
    if (roll < 0.29) {
      const data = { awaited: pendingId(), awaiter: taskId() };
      return { kind: "promise.register_callback", head: head(), data };
    }
    if (roll < 0.32) {
      return {
        kind: "promise.register_listener",
        head: head(),
        data: { awaited: pendingId(), address: addresses.listener },
      };
    }
    const id = taskId(roll < 0.41 ? "pending" : roll < 0.55 || roll >= 0.57 ? "acquired" : "halted");
    if (roll < 0.38) {
      const ttl = pick([5000, 30_000]);
      return { kind: "task.acquire", head: head(), data: { id, version: version(id), pid: pick(PIDS), ttl } };
    }
    if (roll < 0.41) return { kind: "task.release", head: head(), data: { id, version: version(id) } };
    if (roll < 0.46) {
      const action = settle(chance(0.95) ? id : anyId());
      return { kind: "task.fulfill", head: head(), data: { id, version: version(id), action } };
    }
    if (roll < 0.53) {
      const awaited = chance(0.3) ? [pendingId(), pendingId()] : [pendingId()];
      const actions = awaited.map((a) => ({
        kind: "promise.register_callback" as const,
        head: head(),
        data: { awaited: a, awaiter: id },
      }));
      return { kind: "task.suspend", head: head(), data: { id, version: version(id), actions } };
    }
    if (roll < 0.55) return { kind: "task.halt", head: head(), data: { id } };
    if (roll < 0.57) return { kind: "task.continue", head: head(), data: { id } };
    if (roll < 0.65) {
      const child = `${origin(id)}:${pick(["1", "2", "3", "1.1"])}`;
      const action = chance(0.6)
        ? create(now, child, chance(0.3))
        : settle(chance(0.7) ? child : pendingId());
      return { kind: "task.fence", head: head(), data: { id, version: version(id), action } };
    }
    if (roll < 0.68) {
      const pid = chance(0.8) ? (ref.tasks.get(id)?.pid ?? pick(PIDS)) : pick(PIDS);
      return { kind: "task.heartbeat", head: head(), data: { pid, tasks: [{ id, version: version(id) }] } };
    }
    if (roll < 0.71) return { kind: "task.get", head: head(), data: { id: chance(0.5) ? id : anyId() } };
    if (roll < 0.86) return { kind: "debug.tick", head: head(), data: { time: now } };
    const schedule = pick(["s1", "s2"]);
    if (roll < 0.9) {
      const promiseTags: Record<string, string> = chance(0.9)
        ? { "resonate:target": addresses.targets[0] as string }
        : {};
      return {
        kind: "schedule.create",
        head: head(),
        data: {
          id: schedule,
          cron: chance(0.95) ? pick(["* * * * *", "*/2 * * * *"]) : "not a cron",
          promiseId: chance(0.8) ? "{{.id}}-{{.timestamp}}" : "{{.id}}.fixed",
          promiseTimeout: pick([30_000, 120_000]),
          promiseParam: { headers: {}, data: "scheduled" },
          promiseTags,
        },
      };
    }
    if (roll < 0.96) return { kind: "schedule.get", head: head(), data: { id: schedule } };
    return { kind: "schedule.delete", head: head(), data: { id: schedule } };
  };
}

/** A fresh instance of the SDK's protocol server, the reference the networks are held to. */
export function referenceServer(): ReferenceServer {
  return (new LocalNetwork() as unknown as { server: ReferenceServer }).server;
}
