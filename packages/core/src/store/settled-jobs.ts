/**
 * Which of the jobs a process runs were settled by someone else meanwhile: a cancel made through another
 * process of the store, the CLI or the dashboard. The process running a job asks this of its store now and
 * then, for all its jobs at once, so it can stop their work.
 */
import type { Network } from "@resonatehq/sdk";
import { resonateRequest } from "./protocol.ts";
import type { SettledJob } from "./store.ts";

/**
 * The jobs among `ids` whose root promise `network` holds as settled. One `promise.get` per job: for a network
 * in this process (the store's owner), or one that has no batched form of the question (a Resonate Server).
 */
export async function settledOn(network: Network, ids: readonly string[]): Promise<SettledJob[]> {
  const answers = await Promise.all(
    ids.map(async (id) => {
      const res = await network.send(resonateRequest("promise.get", { id }));
      if (res.head.status !== 200) return undefined;
      const { state } = (res.data as { promise: { state: SettledJob["state"] | "pending" } }).promise;
      return state === "pending" ? undefined : { id, state };
    }),
  );
  return answers.filter((answer) => answer !== undefined);
}
