// Test support: a real HTTP webhook receiver that answers the validation handshake and scripted statuses.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One POST the receiver got. */
export interface ReceivedWebhook {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** What the receiver answered. */
  readonly status: number;
}

/** Options for {@link startWebhookReceiver}. */
export interface WebhookReceiverOptions {
  /**
   * How the `OPTIONS` validation handshake is answered: `allow` echoes the origin, `wildcard` answers
   * `*`, `wrong-origin` allows another origin, `none` answers 405 without the header. Default `allow`.
   */
  readonly handshake?: "allow" | "wildcard" | "wrong-origin" | "none";
  /** Statuses for the 1st, 2nd, … POST; the last repeats; `0` never answers (a timeout). Default [200]. */
  readonly statuses?: readonly number[];
}

/** A running receiver. */
export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>/hook`. */
  readonly url: string;
  readonly received: ReceivedWebhook[];
  /** The `WebHook-Request-Origin` of every handshake. */
  readonly handshakes: string[];
  /** Replaces the status script (counting restarts from the next POST). */
  respondWith(statuses: readonly number[]): void;
  close(): Promise<void>;
}

/** Starts a webhook receiver on a free loopback port. */
export async function startWebhookReceiver(options: WebhookReceiverOptions = {}): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const handshakes: string[] = [];
  let statuses = options.statuses ?? [200];
  let served = 0;
  const handshake = options.handshake ?? "allow";
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === "OPTIONS") {
      const origin = String(req.headers["webhook-request-origin"] ?? "");
      handshakes.push(origin);
      if (handshake === "none") {
        res.writeHead(405).end();
        return;
      }
      const allowed = handshake === "allow" ? origin : handshake === "wildcard" ? "*" : "someone-else.example";
      res.writeHead(200, { "webhook-allowed-origin": allowed, allow: "POST" }).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const status = statuses[Math.min(served, statuses.length - 1)] ?? 200;
      served++;
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") headers[name] = value;
      received.push({ headers, body: Buffer.concat(chunks).toString("utf8"), status });
      // 0: hold the request open until the caller gives up (or the receiver closes).
      if (status !== 0) res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    handshakes,
    respondWith(next) {
      statuses = next;
      served = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
