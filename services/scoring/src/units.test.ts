// Pure pieces: ordering rules of model changes, the key vault, a target's key check, ARM body
// canonicalization, the execute URL matcher and query reader, the RRS answer writer.
import { randomBytes } from "node:crypto";
import type { TargetDoc } from "./documents.js";
import { formatOf, matchExecute } from "./handlers/execute.js";
import { KeyVault, KeyVaultError, parseKek } from "./key-vault.js";
import { LiveTarget } from "./live.js";
import { planModelChange, type ModelChange } from "./model-updates.js";
import { canonicalResource, mergePatch, splitSecrets, trainedModelAsset } from "./wire/arm.js";
import { executeResult, executeResultJson } from "./wire/rrs.js";

const vault = new KeyVault(randomBytes(32));

function target(): TargetDoc {
  return {
    version: 1,
    id: "0123456789abcdef0123456789abcdef",
    kind: "classic",
    workspace: "ws",
    classic: { webServiceId: "svc", endpointName: "ep", isDefault: false },
    createdAt: new Date(0).toISOString(),
    description: "",
    throttleLevel: "Low",
    maxConcurrentCalls: 4,
    diagnosticsTraceLevel: "None",
    keys: { primary: vault.seal("p", "x/primary"), secondary: vault.seal("s", "x/secondary") },
    resourceName: "R [trained model]",
    inputSchema: [],
    training: false,
    sequences: {},
    outbox: [],
    generation: 0,
  };
}

function change(sha: string, run?: ModelChange["run"], reason: ModelChange["reason"] = "promotion"): ModelChange {
  return {
    candidate: { sha256: sha.repeat(64).slice(0, 64), blob: `scoring/models/${sha}.ilearner`, size: 1, learner: "L", task: "binary" },
    ...(run !== undefined ? { run } : {}),
    reason,
    caller: "test",
    now: new Date(1000),
  };
}

describe("planModelChange", () => {
  it("numbers revisions, writes the audit entry into the outbox and derives a model id", () => {
    const first = planModelChange(target(), change("a"));
    expect(first.outcome).toBe("applied");
    if (first.outcome !== "applied") return;
    expect(first.doc.model).toMatchObject({ revision: 1, modelId: `sha256-${"a".repeat(16)}` });
    expect(first.doc.outbox).toEqual([expect.objectContaining({ revision: 1, from: null, target: "classic:ws/svc/ep", caller: "test" })]);
    const second = planModelChange(first.doc, change("b"));
    expect(second.outcome === "applied" && second.doc.model?.revision).toBe(2);
    expect(second.outcome === "applied" && second.entry.from?.revision).toBe(1);
  });

  it("is idempotent per run, refuses older runs per pipeline, and lets rollbacks through without lowering the mark", () => {
    let doc = target();
    const apply = (c: ModelChange) => {
      const plan = planModelChange(doc, c);
      if (plan.outcome === "applied") doc = plan.doc;
      return plan;
    };
    expect(apply(change("a", { runId: "r5", runSequence: 5, pipeline: "p" })).outcome).toBe("applied");
    expect(apply(change("a", { runId: "r5", runSequence: 5, pipeline: "p" })).outcome).toBe("unchanged");
    expect(apply(change("b", { runId: "r4", runSequence: 4, pipeline: "p" }))).toMatchObject({ outcome: "stale", highest: 5, pipeline: "p" });
    // Other pipelines have their own sequences.
    expect(apply(change("c", { runId: "q1", runSequence: 1, pipeline: "q" })).outcome).toBe("applied");
    expect(apply(change("b", { runId: "r4", runSequence: 4, pipeline: "p" }, "rollback")).outcome).toBe("applied");
    expect(doc.sequences).toEqual({ p: 5, q: 1 });
    expect(apply(change("d", { runId: "r4b", runSequence: 4, pipeline: "p" })).outcome).toBe("stale");
    expect(apply(change("d", { runId: "r6", runSequence: 6, pipeline: "p" })).outcome).toBe("applied");
    // A classic client that names no run always gets a new revision.
    expect(apply(change("d")).outcome).toBe("applied");
    expect(doc.model?.revision).toBe(5);
  });

  it("applies a rollback once: the same rollback straggling in after a newer promotion is stale, as is the old promotion it restored", () => {
    let doc = target();
    const apply = (c: ModelChange) => {
      const plan = planModelChange(doc, c);
      if (plan.outcome === "applied") doc = plan.doc;
      return plan;
    };
    apply(change("a", { runId: "r1", runSequence: 1, pipeline: "p" }));
    apply(change("b", { runId: "r2", runSequence: 2, pipeline: "p" }));
    const rollback = change("a", { runId: "rb1", runSequence: 1, pipeline: "p" }, "rollback");
    expect(apply(rollback).outcome).toBe("applied");
    expect(doc.model).toMatchObject({ revision: 3, reason: "rollback", runId: "rb1" });
    // Delivered twice in a row: the same revision stands.
    expect(apply(rollback).outcome).toBe("unchanged");
    // A stale duplicate of the older normal promotion is still refused.
    expect(apply(change("a", { runId: "r1", runSequence: 1, pipeline: "p" })).outcome).toBe("stale");
    expect(apply(change("c", { runId: "r3", runSequence: 3, pipeline: "p" })).outcome).toBe("applied");
    // The rollback again, after the newer promotion: refused, the endpoint does not move back.
    expect(apply(rollback)).toMatchObject({ outcome: "stale", highest: 3 });
    expect(doc.model).toMatchObject({ revision: 4, runId: "r3" });
    // A new rollback (its own run id) is a decision of its own and goes through.
    expect(apply(change("a", { runId: "rb2", runSequence: 1, pipeline: "p" }, "rollback")).outcome).toBe("applied");
    expect(doc.rollbacks).toEqual(["rb1", "rb2"]);
  });
});

describe("KeyVault", () => {
  it("round-trips, binds a secret to where it is stored, and names a wrong key-encryption key", () => {
    const sealed = vault.seal("secret-key", "t1/primary");
    expect(JSON.stringify(sealed)).not.toContain("secret-key");
    expect(vault.open(sealed, "t1/primary")).toBe("secret-key");
    expect(() => vault.open(sealed, "t2/primary")).toThrow(expect.objectContaining({ code: "Tampered" }));
    expect(() => new KeyVault(randomBytes(32)).open(sealed, "t1/primary")).toThrow(expect.objectContaining({ code: "WrongKek" }));
    expect(() => parseKek(randomBytes(16).toString("base64"))).toThrow(KeyVaultError);
  });
});

describe("ARM bodies", () => {
  it("matches known property names case-insensitively, keeps map keys, coerces booleans and numbers", () => {
    const body = canonicalResource({
      Location: "West Europe",
      Properties: {
        ReadOnly: "true",
        RealtimeConfiguration: { MaxConcurrentCalls: "8" },
        Assets: { MyAsset: { Name: "M [trained model]", Type: "Resource", LocationInfo: { Uri: "https://a/b.ilearner" } } },
        Package: { Nodes: { NodeA: { AssetId: "MyAsset", Parameters: { "R Script": { Value: "x" } } } } },
        Input: { Properties: { input1: { Properties: { Age: { Type: "Integer", "X-Ms-IsNullable": true } } } } },
      },
    });
    expect(body).toEqual({
      location: "West Europe",
      properties: {
        readOnly: true,
        realtimeConfiguration: { maxConcurrentCalls: 8 },
        assets: { MyAsset: { name: "M [trained model]", type: "Resource", locationInfo: { uri: "https://a/b.ilearner" } } },
        package: { nodes: { NodeA: { assetId: "MyAsset", parameters: { "R Script": { value: "x" } } } } },
        input: { properties: { input1: { properties: { Age: { type: "Integer", "x-ms-isnullable": true } } } } },
      },
    });
    expect(trainedModelAsset(body["properties"] as Record<string, unknown>)).toEqual({ key: "MyAsset", name: "M [trained model]", uri: "https://a/b.ilearner" });
    expect(() => canonicalResource({ properties: { readOnly: "maybe" } })).toThrow(expect.objectContaining({ code: "InvalidRequestContent" }));
  });

  it("splits secrets off and merges patches", () => {
    const split = splitSecrets({ title: "t", keys: { primary: "k1" }, storageAccount: { name: "a", key: "s" }, provisioningState: "Succeeded" });
    expect(split).toEqual({ properties: { title: "t", storageAccount: { name: "a" } }, keys: { primary: "k1" }, storageKey: "s" });
    expect(mergePatch({ a: { b: 1, c: 2 }, d: [1] }, { a: { c: null, e: 3 }, d: [2] })).toEqual({ a: { b: 1, e: 3 }, d: [2] });
  });
});

describe("the execute URL", () => {
  it("matches only the two execute routes", () => {
    expect(matchExecute("/workspaces/ws/services/abc/execute?api-version=2.0")).toEqual({ kind: "classic", scope: "ws", id: "abc", query: "api-version=2.0" });
    expect(matchExecute("/subscriptions/s/services/abc/execute")).toEqual({ kind: "new", scope: "s", id: "abc", query: "" });
    expect(matchExecute("/workspaces/ws/services/abc/EXECUTE")).toEqual({ kind: "classic", scope: "ws", id: "abc", query: "" });
    for (const url of [
      "/workspaces/ws/services/abc/jobs",
      "/workspaces/ws/services/abc/execute/x",
      "/v1/workspaces/ws/services/abc/execute",
      "/workspaces//services/abc/execute",
      "/workspaces/ws/services//execute",
      "/workspaces/ws/webservices/abc/execute",
      "/workspaces/ws/services/a/b/execute",
      "/workspaces/ws/services/abc/executes",
      "/workspaces/ws/services/abc/execut",
      "/workspaces/ws?/services/abc/execute",
      "/workspaces/ws/services/abc?/execute",
    ]) {
      expect(matchExecute(url)).toBeUndefined();
    }
  });

  it("reads format, details and api-version from the query", () => {
    expect(formatOf("api-version=2.0&details=true&format=swagger")).toEqual({ swagger: true, details: true, apiVersion: "2.0" });
    expect(formatOf("details=false&format=%53wagger")).toEqual({ swagger: true, details: false, apiVersion: undefined });
    expect(formatOf("")).toEqual({ swagger: false, details: false, apiVersion: undefined });
  });
});

describe("LiveTarget.verify", () => {
  const sealedFor = (doc: TargetDoc, primary: string, secondary: string): TargetDoc => ({
    ...doc,
    keys: { primary: vault.seal(primary, `${doc.id}/primary`), secondary: vault.seal(secondary, `${doc.id}/secondary`) },
  });

  it("accepts the primary and secondary keys (also when asked again), refuses others, and forgets accepted keys once the keys change", () => {
    const doc = sealedFor(target(), "primary-1", "secondary-1");
    const live = new LiveTarget("blob", doc, vault);
    for (let round = 0; round < 2; round++) {
      expect(live.verify("primary-1")?.name).toBe("classic:ws/svc/ep/primary");
      expect(live.verify("secondary-1")?.name).toBe("classic:ws/svc/ep/secondary");
      expect(live.verify("primary-2")).toBeUndefined();
      expect(live.verify("primary-")).toBeUndefined();
    }
    live.setKeys(sealedFor(doc, "primary-2", "secondary-1"), vault);
    expect(live.verify("primary-1")).toBeUndefined();
    expect(live.verify("primary-2")?.name).toBe("classic:ws/svc/ep/primary");
    expect(live.verify("secondary-1")?.name).toBe("classic:ws/svc/ep/secondary");
  });
});

describe("executeResultJson", () => {
  const scored = (columnNames: string[], columnTypes: string[], values: (string | null)[][]) => ({ columnNames, columnTypes, values });
  const tables = [
    scored(["Scored Labels", "Scored Probabilities"], ["String", "Double"], [["yes", "0.75"], [null, null], ['"quoted" \\ label', "1e-7"]]),
    scored(["Scored Labels"], ["Double"], [["3.5"]]),
    scored(["Scored Labels"], ["Double"], []),
  ];

  it("writes the same bytes as serializing executeResult, in every format, for tables of several models", () => {
    for (let pass = 0; pass < 2; pass++) {
      for (const table of tables) {
        for (const format of [
          { swagger: false, details: false },
          { swagger: false, details: true },
          { swagger: true, details: false },
          { swagger: true, details: true },
        ]) {
          expect(executeResultJson(table, format)).toBe(JSON.stringify(executeResult(table, format)));
        }
      }
    }
  });

  it("does not reuse a written head for other column types under the same names", () => {
    const names = ["Scored Labels"];
    const first = executeResultJson(scored(names, ["Double"], [["1"]]), { swagger: false, details: true });
    const second = executeResultJson(scored(names, ["Int32"], [["1"]]), { swagger: false, details: true });
    expect(first).toContain('"ColumnTypes":["Double"]');
    expect(second).toContain('"ColumnTypes":["Int32"]');
  });
});
