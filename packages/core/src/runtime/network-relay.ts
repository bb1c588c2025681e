/**
 * A network passed on to Resonate with its requests or its messages seen on the way: the store's own network
 * stays as it is (it is shared with the job model's requests).
 */
import type { Network } from "@resonatehq/sdk";

/** `network` with `send` and `recv` replaced where `relay` gives them; the rest forwards to `network`. */
export function relayed(network: Network, relay: Partial<Pick<Network, "send" | "recv">>): Network {
  return {
    unicast: network.unicast,
    anycast: network.anycast,
    match: (target) => network.match(target),
    init: () => network.init(),
    stop: () => network.stop(),
    send: relay.send ?? (((request) => network.send(request)) as Network["send"]),
    recv: relay.recv ?? ((callback) => network.recv(callback)),
  };
}
