/**
 * DNS-rebinding protection: which `Host` and `Origin` headers a server accepts. A page on `evil.example`
 * whose name resolves to 127.0.0.1 makes the browser send `Host: evil.example` and `Origin:
 * http://evil.example`; only names the server knows itself by pass. The v2 SDK's `validateHostHeader` and
 * `validateOriginHeader` compare host names only; this policy is kept because it also tells ports apart (an
 * allowed `name:port`, and a page on another localhost port is another site), knows the listening address and
 * the machine's interfaces, and serves both SDK generations.
 */
import { networkInterfaces } from "node:os";

/** Names of the loopback interface, as a Host header holds them (IPv6 in brackets). */
const LOOPBACK = ["localhost", "127.0.0.1", "[::1]"];

/** The host part of a `Host` header or an origin's authority, lower case, IPv6 in brackets, no port. */
export function hostnameOf(authority: string): string | undefined {
  const value = authority.trim().toLowerCase();
  if (value === "") return undefined;
  if (value.startsWith("[")) {
    const end = value.indexOf("]");
    return end < 0 ? undefined : value.slice(0, end + 1);
  }
  const colons = value.split(":").length - 1;
  // A bare IPv6 address (no brackets) is no valid Host header, but name it the way the allow-list does.
  if (colons > 1) return `[${value}]`;
  return colons === 1 ? value.slice(0, value.indexOf(":")) : value;
}

/** `::1` or `[::1]` → `[::1]`; names and IPv4 addresses lower-cased. */
function normalizeHost(host: string): string {
  const value = host.trim().toLowerCase();
  if (value.startsWith("[")) return value;
  return value.includes(":") ? `[${value}]` : value;
}

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "[::]" || host === "";
}

/** Options of {@link HostPolicy}. */
export interface HostPolicyOptions {
  /** The address the server listens on. */
  listenHost: string;
  /** Host names (or `name:port`) accepted besides the defaults; `"any"` turns Host checks off. */
  allowedHosts?: readonly string[] | "any";
  /**
   * Origins accepted besides those whose host is allowed, e.g. `https://app.example.com`; `"any"` turns Origin
   * checks off.
   */
  allowedOrigins?: readonly string[] | "any";
}

/**
 * Decides on Host and Origin. By default a server accepts the loopback names, the address it listens on, and
 * (listening on every interface) this machine's interface addresses; an `Origin` is accepted when its host is.
 */
export class HostPolicy {
  private readonly hosts: Set<string> | "any";
  private readonly origins: Set<string> | "any";

  constructor(options: HostPolicyOptions) {
    if (options.allowedHosts === "any") {
      this.hosts = "any";
    } else {
      const hosts = new Set(LOOPBACK);
      const listen = options.listenHost.trim().toLowerCase();
      if (isWildcard(listen)) {
        for (const addresses of Object.values(networkInterfaces())) {
          for (const address of addresses ?? [])
            hosts.add(normalizeHost(address.address.split("%")[0] ?? ""));
        }
      } else {
        hosts.add(normalizeHost(listen));
      }
      for (const host of options.allowedHosts ?? []) hosts.add(normalizeHost(host));
      this.hosts = hosts;
    }
    this.origins =
      options.allowedOrigins === "any"
        ? "any"
        : new Set(
            (options.allowedOrigins ?? []).map((origin) => origin.trim().toLowerCase().replace(/\/$/, "")),
          );
  }

  /** Whether a request with this `Host` header may be answered. */
  allowsHost(header: string | null | undefined): boolean {
    if (this.hosts === "any") return true;
    if (header == null) return false;
    const value = header.trim().toLowerCase();
    const name = hostnameOf(value);
    // An entry with a port matches that port only; one without matches any port.
    return name !== undefined && (this.hosts.has(name) || this.hosts.has(value));
  }

  /**
   * Whether `origin` was listed in `allowedOrigins` (or they are `"any"`): only such origins get CORS headers,
   * so a page on another localhost port may not read answers just because its host is loopback.
   */
  listsOrigin(origin: string): boolean {
    return this.origins === "any" || this.origins.has(origin.trim().toLowerCase());
  }

  /** Whether a request with this `Origin` header may be answered; no `Origin` (not a browser) passes. */
  allowsOrigin(header: string | null | undefined): boolean {
    if (header == null || this.origins === "any") return true;
    const origin = header.trim().toLowerCase();
    if (this.origins.has(origin)) return true;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false; // `null` (opaque origins: sandboxed frames, file://) and garbage
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") return false;
    return this.allowsHost(url.host);
  }
}
