import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Logger } from "@retrain/telemetry";
import { writeError } from "./respond.js";

/** What {@link startHttpServer} serves: an express app or a bare node:http handler (may be async). */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** Options for {@link startHttpServer}. */
export interface StartHttpServerOptions {
  /** Port to listen on; 0 picks a free one (read it back from {@link RunningServer.port}). */
  port: number;
  /** Interface to bind. Default "127.0.0.1"; containers pass "0.0.0.0". */
  host?: string;
  /** Where a rejection of an async bare handler is logged before it is answered with 500. Default none. */
  logger?: Logger;
}

/** A listening server. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  /** True once {@link RunningServer.close} has begun. */
  readonly closing: boolean;
  /**
   * Two-phase close: stops accepting connections and reports not ready at once, closes idle
   * keep-alive connections, lets in-flight requests finish for up to `graceMs` (default 10 000)
   * with `Connection: close` on their answers, then destroys what is left. Idempotent.
   */
  close(graceMs?: number): Promise<void>;
}

// Sockets of servers that are closing: /readyz answers 503 on them (see isServerClosing).
const closingSockets = new WeakSet<Socket>();

/** Whether the server that received `req` has begun closing (package-internal, for /readyz). */
export function isServerClosing(req: IncomingMessage): boolean {
  return closingSockets.has(req.socket);
}

const IN_FLIGHT = Symbol("retrain.inFlight");
type CountedSocket = Socket & { [IN_FLIGHT]?: number };

/** Starts a node:http server for `handler`; resolves once it listens. */
export async function startHttpServer(handler: HttpHandler, options: StartHttpServerOptions): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  // Requests in flight per connection (a counter on the socket itself, so the hot path does no map
  // lookups) and the responses not yet done, for the two-phase close.
  const sockets = new Set<Socket>();
  const responses = new Set<ServerResponse>();
  let closing = false;
  function onResponseClose(this: ServerResponse): void {
    responses.delete(this);
    const socket = this.req.socket as CountedSocket;
    const remaining = (socket[IN_FLIGHT] ?? 1) - 1;
    socket[IN_FLIGHT] = remaining;
    // Answers started before close() began were sent keep-alive; end those connections now.
    if (closing && remaining === 0) socket.end();
  }

  const server = createServer((req, res) => {
    const socket = req.socket as CountedSocket;
    socket[IN_FLIGHT] = (socket[IN_FLIGHT] ?? 0) + 1;
    responses.add(res);
    res.on("close", onResponseClose);
    if (closing) res.setHeader("connection", "close");
    try {
      const result = handler(req, res);
      if (result instanceof Promise) result.catch((error: unknown) => writeError(res, error, options.logger));
    } catch (error) {
      writeError(res, error, options.logger);
    }
  });
  server.on("connection", (socket: Socket) => {
    (socket as CountedSocket)[IN_FLIGHT] = 0;
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    get closing() {
      return closing;
    },
    close(graceMs = 10_000) {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        const timer = setTimeout(() => {
          server.closeAllConnections();
          for (const socket of sockets) socket.destroy();
        }, graceMs);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        for (const socket of sockets) {
          closingSockets.add(socket);
          if (((socket as CountedSocket)[IN_FLIGHT] ?? 0) === 0) socket.destroy();
        }
        // Answers not yet started will carry Connection: close, so Node ends those connections after them.
        for (const response of responses) {
          if (!response.headersSent) response.setHeader("connection", "close");
        }
      });
      return closed;
    },
  };
}
