import { connect } from "node:net";
import { Cleanup, deferred } from "@retrain/testing";
import { silentLogger } from "@retrain/telemetry";
import { createHttpApp, sendJson, startHttpServer } from "./index.js";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Resolves when a TCP connection to `port` is accepted, rejects with the socket error otherwise. */
function tryConnect(port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve();
    });
    socket.once("error", reject);
  });
}

describe("startHttpServer", () => {
  it("serves a bare node:http handler and reports its url and port", async () => {
    const server = await startHttpServer((_req, res) => sendJson(res, 200, { bare: true }), { port: 0 });
    cleanup.add(() => server.close(1000));
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const response = await fetch(`${server.url}/anything`);
    expect(await response.json()).toEqual({ bare: true });
  });

  it("answers a rejected async bare handler with 500", async () => {
    const server = await startHttpServer(
      async () => {
        await Promise.resolve();
        throw new Error("secret detail");
      },
      { port: 0 },
    );
    cleanup.add(() => server.close(1000));
    const response = await fetch(server.url);
    expect(response.status).toBe(500);
    expect(await response.text()).not.toContain("secret detail");
  });

  it("closes gracefully: refuses new connections while the in-flight request completes", async () => {
    const entered = deferred();
    const release = deferred();
    const { app } = createHttpApp({
      serviceName: "graceful",
      logger: silentLogger(),
      routes: (router) =>
        router.get("/slow", async (_req, res) => {
          entered.resolve();
          await release.promise;
          sendJson(res, 200, { finished: true });
        }),
    });
    const server = await startHttpServer(app, { port: 0 });
    cleanup.add(() => server.close(1000));

    const slow = fetch(`${server.url}/slow`);
    await entered.promise;
    const closed = server.close(10_000);
    expect(server.closing).toBe(true);

    await expect(tryConnect(server.port)).rejects.toMatchObject({ code: "ECONNREFUSED" });

    release.resolve();
    const response = await slow;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ finished: true });
    // The answer tells the client not to reuse the connection.
    expect(response.headers.get("connection")).toBe("close");
    await closed;
  });

  it("reports not ready on /readyz once close has begun", async () => {
    const checking = deferred();
    const verdict = deferred<boolean>();
    const { app } = createHttpApp({
      serviceName: "readiness",
      logger: silentLogger(),
      readiness: () => {
        checking.resolve();
        return verdict.promise;
      },
    });
    const server = await startHttpServer(app, { port: 0 });
    cleanup.add(() => server.close(1000));

    const probe = fetch(`${server.url}/readyz`);
    await checking.promise;
    const closed = server.close(10_000);
    verdict.resolve(true);
    const response = await probe;
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: "not ready" });
    await closed;
  });

  it("destroys requests still running when the grace period ends", async () => {
    const entered = deferred();
    const never = deferred();
    const server = await startHttpServer(
      async (_req, res) => {
        entered.resolve();
        await never.promise;
        res.end();
      },
      { port: 0 },
    );
    const stuck = fetch(server.url);
    await entered.promise;
    await server.close(50);
    await expect(stuck).rejects.toThrow();
    never.resolve();
  });
});
