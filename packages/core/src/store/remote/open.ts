/**
 * Opening a store this process reaches over the network: a Resonate Server or `async-tools store serve` at an
 * `http(s)://` URL (Resonate's HTTP protocol, the SDK's own client), or a `Network` object passed in code.
 * `store serve` holds the job index and the step log too; for the others they stay in this process.
 */
import { HttpNetwork, type Network, PollMessageSource } from "@resonatehq/sdk";
import { DEFAULTS } from "../../defaults.ts";
import { reachable, redact, storeToken } from "../connect.ts";
import { settledOn } from "../settled-jobs.ts";
import { privateIndex } from "../sqlite/open.ts";
import type { OpenStoreOptions, Store } from "../store.ts";
import { ProtocolClient } from "./protocol-client.ts";
import { RemoteJobIndex } from "./remote-job-index.ts";
import { RemoteStepLog } from "./remote-step-log.ts";

/**
 * Opens the store at `url`, failing fast when it does not answer within `options.connectTimeoutMs`.
 *
 * @throws AsyncToolsError `STORE_UNREACHABLE` when it does not answer.
 */
export async function openRemoteStore(url: string, options: OpenStoreOptions): Promise<Store> {
  const timeoutMs = options.connectTimeoutMs ?? DEFAULTS.storeConnectTimeoutMs;
  const token = storeToken(process.env);
  const adapter = new PollMessageSource({
    url: `${url}/poll/${encodeURIComponent(options.group)}/${encodeURIComponent(options.pid)}`,
    logger: options.logger,
    ...(token === undefined ? {} : { token }),
  });
  const network = new HttpNetwork({
    url,
    timeout: timeoutMs,
    adapter,
    logger: options.logger,
    ...(token === undefined ? {} : { token }),
  });
  const about = { kind: "http", description: redact(url), durable: true, role: "remote" } as const;
  await reachable(network, about.description, timeoutMs);
  // `async-tools store serve` holds the job index too; a Resonate Server does not, so then it stays here.
  const client = new ProtocolClient({ url, timeoutMs, ...(token === undefined ? {} : { token }) });
  const served = await client.jobs("asyncTools.jobs.get", { id: "async-tools-ping" }).then(
    () => true,
    () => false,
  );
  if (!served) return { ...networkStore(network), ...about };
  const jobs = new RemoteJobIndex(client);
  const steps = new RemoteStepLog(client);
  return {
    ...about,
    network,
    jobs,
    steps,
    settled: (ids) => jobs.settledJobs(ids),
    recover: () => undefined,
    close: async () => {
      await jobs.flush().catch(() => undefined);
      await steps.settled();
      steps.close();
      await network.stop();
    },
  };
}

/**
 * A store on `network` (a `Network` passed in code, or a Resonate Server), with the job index and the step log
 * in this process's memory.
 */
export function networkStore(network: Network): Store {
  const index = privateIndex();
  return {
    kind: "custom",
    description: "a Network passed in code",
    durable: true,
    role: "remote",
    network,
    jobs: index.jobs,
    steps: index.steps,
    settled: (ids) => settledOn(network, ids),
    recover: () => undefined,
    close: async () => {
      await index.close();
      await network.stop();
    },
  };
}
