import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { WebhookUrlError } from "./errors.js";

/** Which webhook URLs the notifier calls. */
export interface UrlPolicy {
  /**
   * Hosts allowed for local delivery: they may be called over plain http and may resolve to a
   * loopback address (e.g. `127.0.0.1`, `localhost`). Every other URL must be https to a
   * non-loopback address. Default none.
   */
  readonly allowHttpHosts: readonly string[];
}

// Cloud metadata services and link-local addresses: reaching them from inside a deployment hands out
// credentials, so no subscription may point there, whatever DNS says.
const METADATA_HOSTS = new Set(["metadata.google.internal", "metadata.goog", "metadata"]);
const blocked = new BlockList();
blocked.addSubnet("169.254.0.0", 16, "ipv4");
blocked.addAddress("100.100.100.200", "ipv4");
blocked.addSubnet("0.0.0.0", 8, "ipv4");
blocked.addSubnet("fe80::", 10, "ipv6");
blocked.addAddress("fd00:ec2::254", "ipv6");
blocked.addAddress("::", "ipv6");
const loopback = new BlockList();
loopback.addSubnet("127.0.0.0", 8, "ipv4");
loopback.addAddress("::1", "ipv6");

/** The host of a URL as compared and resolved: lowercase, no IPv6 brackets, no trailing dot. */
export function hostOf(url: URL): string {
  return url.hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");
}

function isLocalHost(host: string, policy: UrlPolicy): boolean {
  return policy.allowHttpHosts.some((allowed) => allowed.toLowerCase() === host);
}

/** An IPv4-mapped IPv6 address (`::ffff:a9fe:a9fe` or `::ffff:169.254.169.254`) as its IPv4 address. */
function unmapped(address: string): { address: string; family: "ipv4" | "ipv6" } {
  if (isIP(address) === 4) return { address, family: "ipv4" };
  const mapped = /^(?:0{0,4}:){0,5}:?ffff:(.+)$/i.exec(address)?.[1];
  if (mapped !== undefined) {
    if (isIP(mapped) === 4) return { address: mapped, family: "ipv4" };
    const groups = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(mapped);
    if (groups !== null) {
      const hi = parseInt(groups[1] ?? "0", 16);
      const lo = parseInt(groups[2] ?? "0", 16);
      return { address: [hi >> 8, hi & 255, lo >> 8, lo & 255].join("."), family: "ipv4" };
    }
  }
  return { address, family: "ipv6" };
}

/** Throws `AddressNotAllowed` when `address` (what `host` resolved to) must not be called. */
export function checkAddress(host: string, address: string, policy: UrlPolicy): void {
  const ip = unmapped(address);
  if (blocked.check(ip.address, ip.family)) {
    throw new WebhookUrlError("AddressNotAllowed", `${host} resolves to ${address}, a link-local or cloud metadata address; webhooks are never sent there`, host);
  }
  if (loopback.check(ip.address, ip.family) && !isLocalHost(host, policy)) {
    throw new WebhookUrlError("AddressNotAllowed", `${host} resolves to the loopback address ${address}; only hosts allowed for local delivery may (NOTIFIER_ALLOW_HTTP_HOSTS)`, host);
  }
}

/**
 * Checks a URL's form: absolute http(s), https unless the host is allowed for local delivery, not a
 * metadata host, and (for an IP literal) an allowed address. DNS is checked separately.
 */
export function checkUrlForm(raw: string, policy: UrlPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (error) {
    throw new WebhookUrlError("InvalidUrl", "the webhook URL is not an absolute URL", "", { cause: error });
  }
  const host = hostOf(url);
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new WebhookUrlError("InvalidUrl", `the webhook URL must be https (got ${url.protocol})`, host);
  if (url.protocol === "http:" && !isLocalHost(host, policy)) {
    throw new WebhookUrlError("HttpsRequired", `the webhook URL must be https; plain http is allowed only for hosts allowed for local delivery (${host} is not)`, host);
  }
  if (METADATA_HOSTS.has(host)) throw new WebhookUrlError("AddressNotAllowed", `${host} is a cloud metadata service; webhooks are never sent there`, host);
  if (isIP(host) !== 0) checkAddress(host, host, policy);
  return url;
}

/** Resolves a URL's host and checks every address it resolves to (registration: refuse early and clearly). */
export async function resolveChecked(url: URL, policy: UrlPolicy): Promise<readonly LookupAddress[]> {
  const host = hostOf(url);
  if (isIP(host) !== 0) {
    checkAddress(host, host, policy);
    return [{ address: host, family: isIP(host) }];
  }
  const addresses = await new Promise<LookupAddress[]>((resolve, reject) =>
    dnsLookup(host, { all: true }, (error, found) => (error ? reject(new WebhookUrlError("UnresolvableHost", `${host} does not resolve (${error.code ?? error.message})`, host, { cause: error })) : resolve(found))),
  );
  for (const { address } of addresses) checkAddress(host, address, policy);
  return addresses;
}

/**
 * A `lookup` for node:http(s) that resolves and checks in the same step the socket connects with, so
 * a name that re-binds to a forbidden address between the registration check and a delivery (DNS
 * rebinding) is refused at connect time. Any forbidden address among the answers refuses the call.
 */
export function guardedLookup(policy: UrlPolicy): LookupFunction {
  return (hostname, options, callback) => {
    const host = hostname.toLowerCase().replace(/\.$/, "");
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, "", 4);
      try {
        for (const { address } of addresses) checkAddress(host, address, policy);
      } catch (refused) {
        return callback(refused as NodeJS.ErrnoException, "", 4);
      }
      if (options.all === true) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (first === undefined) return callback(Object.assign(new Error(`${host} has no address`), { code: "ENOTFOUND" }), "", 4);
      callback(null, first.address, first.family);
    });
  };
}
