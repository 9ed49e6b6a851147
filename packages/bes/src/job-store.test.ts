// Secrets a BES caller hands in (storage connection strings, SAS URLs, global parameters) are sealed
// in the stored job document and opened on read; a connection string is held to the SSRF allow-list.
import { randomBytes } from "node:crypto";
import { FileSystemBlobStore } from "@retrain/blob";
import { HttpError, SecretBox, SecretBoxError } from "@retrain/service-kit";
import { Cleanup, tempDir } from "@retrain/testing";
import type { JobDocument } from "./job.js";
import { JobStore } from "./job-store.js";
import { connectionStringHost, openLocation } from "./locations.js";

const cleanup = new Cleanup();
afterAll(() => cleanup.run());

const accountKey = randomBytes(32).toString("base64");
const connectionString = `DefaultEndpointsProtocol=https;AccountName=customer;AccountKey=${accountKey};EndpointSuffix=core.windows.net`;
const sasSignature = randomBytes(16).toString("hex");
const sasUrl = `https://customer.blob.core.windows.net/data/input.csv?sv=2021-08-06&sr=b&sp=r&sig=${sasSignature}`;
const uriSignature = randomBytes(16).toString("hex");

function job(id: string): JobDocument {
  return {
    version: 1,
    id,
    host: "trainer",
    workspace: "ws1",
    service: "churn",
    status: "NotStarted",
    createdAt: new Date().toISOString(),
    attempts: 0,
    inputs: { input1: { kind: "url", url: sasUrl } },
    outputs: { output1: { kind: "azure", connectionString, container: "models", blob: "m.ilearner" } },
    globalParameters: { URI: `https://customer.blob.core.windows.net/data/x.csv?sig=${uriSignature}` },
    outbox: [],
  };
}

async function store(): Promise<FileSystemBlobStore> {
  const dir = await tempDir("retrain-jobs-");
  cleanup.add(() => dir.remove());
  return new FileSystemBlobStore({ root: dir.path });
}

async function storedBytes(blobs: FileSystemBlobStore): Promise<string> {
  let all = "";
  for await (const blob of blobs.list("")) all += (await blobs.getBuffer(blob.name)).body.toString("utf8");
  return all;
}

describe("JobStore with a SecretBox", () => {
  it("keeps connection strings, SAS URLs and global parameters sealed at rest and opens them on read", async () => {
    const blobs = await store();
    const jobs = new JobStore(blobs, "trainer", new SecretBox(randomBytes(32), "bes-jobs"));
    expect(await jobs.create(job("j1"))).toBe(true);
    await jobs.update("ws1", "churn", "j1", (current) => ({
      ...current,
      status: "Finished",
      results: { output1: { location: current.outputs["output1"] ?? { kind: "store", name: "x" }, contentType: "application/octet-stream", size: 1, etag: '"1"' } },
    }));
    const text = await storedBytes(blobs);
    for (const secret of [accountKey, sasSignature, uriSignature]) expect(text).not.toContain(secret);
    expect(text).toContain("enc:v1:");
    const read = await jobs.get("ws1", "churn", "j1");
    expect(read?.inputs["input1"]).toEqual({ kind: "url", url: sasUrl });
    expect(read?.outputs["output1"]).toMatchObject({ kind: "azure", connectionString });
    expect(read?.results?.["output1"]?.location).toMatchObject({ connectionString });
    expect(read?.globalParameters["URI"]).toContain(uriSignature);
    expect((await jobs.list("ws1", "churn")).map((j) => j.id)).toEqual(["j1"]);
  });

  it("does not open a sealed value under another KEK, nor one copied into another job", async () => {
    const blobs = await store();
    const kek = randomBytes(32);
    await new JobStore(blobs, "trainer", new SecretBox(kek, "bes-jobs")).create(job("j1"));
    await expect(new JobStore(blobs, "trainer", new SecretBox(randomBytes(32), "bes-jobs")).get("ws1", "churn", "j1")).rejects.toMatchObject({ code: "WrongKek" });
    const raw = JSON.parse((await blobs.getBuffer("trainer/jobs/ws1/churn/j1.json")).body.toString("utf8")) as JobDocument;
    await blobs.put("trainer/jobs/ws1/churn/j2.json", JSON.stringify({ ...raw, id: "j2" }));
    const error: unknown = await new JobStore(blobs, "trainer", new SecretBox(kek, "bes-jobs")).get("ws1", "churn", "j2").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretBoxError);
    expect((error as SecretBoxError).code).toBe("Tampered");
  });
});

describe("connection-string locations and the SSRF allow-list", () => {
  it("names the host a connection string would call", () => {
    expect(connectionStringHost(connectionString)).toBe("customer.blob.core.windows.net");
    expect(connectionStringHost("UseDevelopmentStorage=true")).toBe("127.0.0.1:10000");
    expect(connectionStringHost(`AccountName=a;AccountKey=${accountKey};BlobEndpoint=http://169.254.169.254/a`)).toBe("169.254.169.254");
  });

  it("refuses a BlobEndpoint outside the allow-list before any request (400 BlobLocationNotAllowed)", async () => {
    const blobs = await store();
    const location = { kind: "azure" as const, connectionString: `DefaultEndpointsProtocol=http;AccountName=a;AccountKey=${accountKey};BlobEndpoint=http://169.254.169.254/a`, container: "c", blob: "x.csv" };
    const error: unknown = await openLocation(location, { store: blobs, allowedHosts: ["*.blob.core.windows.net"] }, "input1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).status).toBe(400);
    expect((error as HttpError).details?.[0]?.code).toBe("BlobLocationNotAllowed");
    expect((error as Error).message).not.toContain(accountKey);
  });
});
