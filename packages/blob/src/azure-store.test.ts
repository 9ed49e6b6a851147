import { ContainerClient } from "@azure/storage-blob";
import { freePort, startAzurite, uniqueName, type AzuriteFixture } from "@retrain/testing";
import { AzureBlobStore, splitSasUrl } from "./azure-store.js";
import { describeBlobStoreContract } from "./blob-store.contract.js";
import { BlobError } from "./errors.js";

describeBlobStoreContract("azure (Azurite)", async () => {
  const azurite = await startAzurite();
  const store = new AzureBlobStore({ connectionString: azurite.connectionString, container: uniqueName("contract"), createContainer: true });
  return {
    store,
    async teardown() {
      await store.close();
      await azurite.stop();
    },
  };
});

describe("AzureBlobStore", () => {
  let azurite: AzuriteFixture;
  beforeAll(async () => {
    azurite = await startAzurite();
  }, 60_000);
  afterAll(async () => {
    if (azurite !== undefined) await azurite.stop();
  });

  it("splits its read URL into BaseLocation, RelativeLocation and SasBlobToken", async () => {
    const container = uniqueName("sas");
    const store = new AzureBlobStore({ connectionString: azurite.connectionString, container, createContainer: true });
    await store.put("datasets/input.csv", "a,b\n");
    const url = await store.readUrl("datasets/input.csv", 60_000);
    const parts = splitSasUrl(url);
    expect(parts.baseLocation).toBe(`${azurite.blobEndpoint}/`);
    expect(parts.relativeLocation).toBe(`${container}/datasets/input.csv`);
    expect(parts.sasBlobToken).toMatch(/^\?.*\bsp=r\b/);
    expect(parts.sasBlobToken).toMatch(/[?&]se=/);
    const response = await fetch(`${parts.baseLocation}${parts.relativeLocation}${parts.sasBlobToken}`);
    expect(await response.text()).toBe("a,b\n");
  });

  it("reports a missing container as ContainerNotFound unless asked to create it", async () => {
    const store = new AzureBlobStore({ connectionString: azurite.connectionString, container: uniqueName("absent") });
    await expect(store.put("x", "y")).rejects.toMatchObject({ name: "BlobError", code: "ContainerNotFound" });
    await expect(store.head("x")).rejects.toMatchObject({ code: "ContainerNotFound" });
  });

  it("accepts a ready-made ContainerClient", async () => {
    const client = new ContainerClient(azurite.connectionString, uniqueName("client"));
    const store = new AzureBlobStore({ containerClient: client, createContainer: true });
    const put = await store.put("a", "b");
    expect((await store.head("a"))?.etag).toBe(put.etag);
  });

  it("translates an unreachable service into BlobError Unavailable", async () => {
    const port = await freePort();
    const connectionString = azurite.connectionString.replace(`:${azurite.port}/`, `:${port}/`);
    // One try only: the SDK's default retry schedule would take half a minute to give up.
    const client = new ContainerClient(connectionString, "c", { retryOptions: { maxTries: 1 } });
    const store = new AzureBlobStore({ containerClient: client });
    const error: unknown = await store.getBuffer("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BlobError);
    expect(error).toMatchObject({ code: "Unavailable", blobName: "x" });
    expect((error as Error).cause).toBeDefined();
  });
});

describe("splitSasUrl", () => {
  it("splits a virtual-host Azure URL after the host", () => {
    const url = "https://acct.blob.core.windows.net/models/run%201/model.bin?sv=2024-01-01&sp=r&sig=abc%3D";
    const parts = splitSasUrl(url);
    expect(parts).toEqual({
      baseLocation: "https://acct.blob.core.windows.net/",
      relativeLocation: "models/run%201/model.bin",
      sasBlobToken: "?sv=2024-01-01&sp=r&sig=abc%3D",
    });
    expect(parts.baseLocation + parts.relativeLocation + parts.sasBlobToken).toBe(url);
  });

  it.each([
    ["http://127.0.0.1:10000/devstoreaccount1/c/b.csv?sig=x", "http://127.0.0.1:10000/devstoreaccount1/"],
    ["http://localhost:41234/devstoreaccount1/c/b.csv?sig=x", "http://localhost:41234/devstoreaccount1/"],
    ["http://azurite:10000/devstoreaccount1/c/b.csv?sig=x", "http://azurite:10000/devstoreaccount1/"],
  ])("keeps the account in the base of the path-style URL %s", (url, base) => {
    const parts = splitSasUrl(url);
    expect(parts.baseLocation).toBe(base);
    expect(parts.relativeLocation).toBe("c/b.csv");
    expect(parts.sasBlobToken).toBe("?sig=x");
  });

  it("rejects what is not a blob URL", () => {
    expect(() => splitSasUrl("not a url")).toThrow(expect.objectContaining({ code: "UrlInvalid" }));
    expect(() => splitSasUrl("https://acct.blob.core.windows.net/")).toThrow(expect.objectContaining({ code: "UrlInvalid" }));
  });
});
