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
const LATEST = Symbol("retrain.latestResponse");
type CountedSocket = Socket & { [IN_FLIGHT]?: number; [LATEST]?: ServerResponse | undefined };

/** Starts a node:http server for `handler`; resolves once it listens. */
export async function startHttpServer(handler: HttpHandler, options: StartHttpServerOptions): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  // Requests in flight per connection and the connection's latest response, kept on the socket itself
  // (no set of responses: adding and deleting one per request made the set rehash), for the two-phase close.
  const sockets = new Set<Socket>();
  let closing = false;
  function onResponseClose(this: ServerResponse): void {
    const socket = this.req.socket as CountedSocket;
    if (socket[LATEST] === this) socket[LATEST] = undefined;
    const remaining = (socket[IN_FLIGHT] ?? 1) - 1;
    socket[IN_FLIGHT] = remaining;
    // Answers started before close() began were sent keep-alive; end those connections now.
    if (closing && remaining === 0) socket.end();
  }

  const server = createServer((req, res) => {
    const socket = req.socket as CountedSocket;
    socket[IN_FLIGHT] = (socket[IN_FLIGHT] ?? 0) + 1;
    socket[LATEST] = res;
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
        // A connection's latest answer, if not yet started, carries Connection: close, so Node ends the
        // connection after it (answers pipelined before it go out first; onResponseClose ends the rest).
        for (const socket of sockets) {
          const latest = (socket as CountedSocket)[LATEST];
          if (latest !== undefined && !latest.headersSent) latest.setHeader("connection", "close");
        }
      });
      return closed;
    },
  };
}
