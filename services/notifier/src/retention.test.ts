// The delivery log stays bounded: finished deliveries and run records past their retention are
// removed, pending ones never.
import { FileSystemBlobStore, type BlobStore } from "@retrain/blob";
import { silentLogger } from "@retrain/telemetry";
import { Cleanup, tempDir } from "@retrain/testing";
import { deliveryBlob, runBlob, type DeliveryDocument, type DeliveryState } from "./documents.js";
import { DeliveryRetention } from "./retention.js";

const cleanup = new Cleanup();
afterAll(() => cleanup.run());

async function newStore(): Promise<FileSystemBlobStore> {
  const dir = await tempDir();
  cleanup.add(() => dir.remove());
  return new FileSystemBlobStore({ root: dir.path });
}

function delivery(id: string, state: DeliveryState): DeliveryDocument {
  const at = new Date().toISOString();
  return {
    id,
    subscriptionId: "sub-1",
    eventId: id,
    eventType: "com.retrain.endpoint.updated",
    event: { id },
    state,
    round: 1,
    attempts: [],
    nextAttemptAt: at,
    createdAt: at,
  };
}

const DAY = 86_400_000;

describe("DeliveryRetention", () => {
  it("removes finished deliveries and run records once past the retention, and keeps pending deliveries and unreadable documents", async () => {
    const store = await newStore();
    const states: DeliveryState[] = ["delivered", "dead", "cancelled", "pending"];
    for (const state of states) await store.put(deliveryBlob("sub-1", `d-${state}`), JSON.stringify(delivery(`d-${state}`, state)));
    await store.put(deliveryBlob("sub-1", "d-garbled"), "{not json");
    await store.put(runBlob("run-1"), JSON.stringify({ runId: "run-1", workspace: "ws" }));
    let now = new Date();
    const retention = new DeliveryRetention({ store, logger: silentLogger(), retentionMs: 30 * DAY, sweepIntervalMs: 3_600_000, now: () => now });

    expect(await retention.sweep()).toEqual({ deliveries: 0, runs: 0 });
    expect(await names(store, "notifier/")).toHaveLength(6);

    now = new Date(Date.now() + 30 * DAY + 60_000);
    expect(await retention.sweep()).toEqual({ deliveries: 3, runs: 1 });
    expect(await names(store, "notifier/")).toEqual([deliveryBlob("sub-1", "d-garbled"), deliveryBlob("sub-1", "d-pending")]);
    // Nothing left to remove: a second sweep is a no-op.
    expect(await retention.sweep()).toEqual({ deliveries: 0, runs: 0 });
  });

  it("sweeps on its interval once started, and stops", async () => {
    const store = await newStore();
    await store.put(deliveryBlob("sub-1", "d-old"), JSON.stringify(delivery("d-old", "delivered")));
    const retention = new DeliveryRetention({ store, logger: silentLogger(), retentionMs: 0, sweepIntervalMs: 20, now: () => new Date(Date.now() + 1000) });
    retention.start();
    cleanup.add(() => retention.stop());
    const deadline = Date.now() + 10_000;
    while ((await names(store, "notifier/")).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20)); // time-based by design: polls the store until the timer's sweep ran
    expect(await names(store, "notifier/")).toEqual([]);
    await retention.stop();
  });
});

async function names(store: BlobStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const blob of store.list(prefix)) out.push(blob.name);
  return out;
}
