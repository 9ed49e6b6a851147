import type { BlobRef, EndpointTarget, ModelRef, RunPlan } from "./values.js";
import { EventTypes } from "./events.js";

const dataset: BlobRef = {
  container: "retrain",
  name: "ingestion/datasets/bike-rental/01JD0Q8J1XK7G3S5R2P4M6N8B0.csv",
  etag: '"0x8DCB1A2B3C4D5E6"',
  size: 2_481_337,
  sha256: "9f2c7a1e4b3d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8",
  contentType: "text/csv",
};
const target: EndpointTarget = {
  kind: "classic",
  workspace: "ws-contoso",
  webService: "bike-rental",
  endpoint: "store-042",
  resourceName: "Bike Rental [trained model]",
  createIfMissing: true,
};
const plan: RunPlan = {
  pipeline: "bike-rental",
  runSequence: 42,
  trainingWebService: { workspace: "ws-contoso", service: "bike-rental-training" },
  evaluation: { mode: "automatic", primaryMetric: "AUC", threshold: 0.7, minGain: { kind: "absolute", value: 0.002 } },
  targets: [target],
  split: { fraction: 0.2, seed: 7 },
};
const model: ModelRef = {
  modelId: "01JD0Q9A7ZC4V9W2X5Y8T1R3E6",
  blob: {
    container: "retrain",
    name: "trainer/jobs/3f1c0b2a9e8d4c7b/output1.ilearner",
    etag: '"0x8DCB1A2B3C4D5F1"',
    size: 18_204,
    sha256: "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809",
  },
  learner: "Two-Class Logistic Regression",
  task: "binary",
  runId: "01JD0Q8J1XK7G3S5R2P4M6N8B0",
  runSequence: 42,
};
const run = { runId: "01JD0Q8J1XK7G3S5R2P4M6N8B0", pipeline: "bike-rental", runSequence: 42 };
const metrics = { AUC: 0.912, Accuracy: 0.861, Precision: 0.84, Recall: 0.79, "F1 Score": 0.814, "Average Log Loss": 0.331 };
const judgement = {
  plan,
  model,
  challenger: metrics,
  champions: [{ target: "classic:ws-contoso/bike-rental/store-042", modelId: "01JCZZ1B2C3D4E5F6G7H8J9K0M", metrics: { ...metrics, AUC: 0.897 } }],
};

/** One valid example payload per event type. */
export const examples: Record<(typeof EventTypes)[keyof typeof EventTypes], unknown> = {
  [EventTypes.DataArrived]: { ...run, trigger: { kind: "upload", by: "key:primary" }, dataset, plan },
  [EventTypes.TrainingFailed]: {
    ...run,
    jobId: "3f1c0b2a9e8d4c7b",
    code: "CsvRaggedRow",
    reason: "line 1207 has 18 fields; the header has 21",
    location: "line 1207",
  },
  [EventTypes.ModelTrained]: {
    ...run,
    plan,
    jobId: "3f1c0b2a9e8d4c7b",
    model,
    evaluation: { ...dataset, name: "trainer/jobs/3f1c0b2a9e8d4c7b/output2.csv", size: 402 },
    holdout: { ...dataset, name: "trainer/jobs/3f1c0b2a9e8d4c7b/holdout.csv", size: 496_120 },
    metrics,
    lineage: {
      datasetSha256: dataset.sha256,
      rows: 50_000,
      trainingRows: 40_000,
      holdoutRows: 10_000,
      learner: "Two-Class Logistic Regression",
      seed: 7,
      durationMs: 812,
    },
  },
  [EventTypes.ModelApproved]: {
    ...run,
    ...judgement,
    reason: "AUC 0.912 ≥ threshold 0.7 and beats the champion's 0.897 by 0.015 (≥ 0.002)",
    kind: "evaluation",
  },
  [EventTypes.ModelRejected]: {
    ...run,
    ...judgement,
    reason: "AUC 0.681 is below the threshold 0.7",
  },
  [EventTypes.ModelAwaitingApproval]: {
    ...run,
    ...judgement,
    reason: "the pipeline's policy requires a person to approve",
  },
  [EventTypes.EndpointUpdated]: {
    ...run,
    target,
    model,
    previousModel: { modelId: "01JCZZ1B2C3D4E5F6G7H8J9K0M", runId: "01JCZZ0A1B2C3D4E5F6G7H8J9K", runSequence: 41 },
    revision: 7,
    kind: "promotion",
    updatedAt: "2026-11-28T20:15:03.412Z",
  },
  [EventTypes.BatchJobQueued]: {
    jobId: "3f1c0b2a9e8d4c7b9a1e5d2c4b6a8f01",
    host: "trainer",
    workspace: "ws-contoso",
    service: "bike-rental-training",
    runId: run.runId,
  },
  [EventTypes.DatasetAvailable]: {
    pipeline: "bike-rental",
    dataset: { url: "https://contosodata.blob.core.windows.net/exports/bike-rental/2026-11-28.csv" },
    sha256: dataset.sha256,
    by: "contoso-etl",
  },
  [EventTypes.RunCancelled]: {
    ...run,
    plan,
    cancelledBy: "ws-contoso/primary",
    reason: "the upload was the wrong month",
  },
  [EventTypes.RunRedriveRequested]: {
    runId: run.runId,
    pipeline: run.pipeline,
    stage: "promotion",
    attempt: 1,
  },
  [EventTypes.PromotionFailed]: {
    ...run,
    target,
    model,
    code: "Superseded",
    reason: "the endpoint already serves run sequence 43 of this pipeline",
  },
};
