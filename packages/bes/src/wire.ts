import { z } from "zod";

/**
 * `AzureBlobDataReference` of BES v2.0: a blob named by connection string + relative location, or by
 * SAS (BaseLocation + RelativeLocation + SasBlobToken). Every field is optional on the wire.
 */
export const AzureBlobDataReference = z.object({
  ConnectionString: z.string().nullish(),
  RelativeLocation: z.string().nullish(),
  BaseLocation: z.string().nullish(),
  SasBlobToken: z.string().nullish(),
});
export type AzureBlobDataReference = z.infer<typeof AzureBlobDataReference>;

/** Global parameters: clients send strings, and sometimes JSON numbers or booleans. */
const GlobalParameterValue = z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v));

/** `BatchExecutionRequest`: the submit body (with the legacy single `Input`). */
export const BatchExecutionRequest = z.object({
  Inputs: z.record(z.string(), AzureBlobDataReference).nullish(),
  Input: AzureBlobDataReference.nullish(),
  Outputs: z.record(z.string(), AzureBlobDataReference).nullish(),
  GlobalParameters: z.record(z.string(), GlobalParameterValue).nullish(),
});
export type BatchExecutionRequest = z.infer<typeof BatchExecutionRequest>;

/** `StatusCode` values, in the classic C# enum order (NotStarted=0 … Finished=4). */
export const BES_STATUS_CODES = ["NotStarted", "Running", "Failed", "Cancelled", "Finished"] as const;
/** A BES job status. */
export type BesStatusCode = (typeof BES_STATUS_CODES)[number];

/** True for a status the job never leaves. */
export function isTerminalStatus(status: BesStatusCode): boolean {
  return status === "Failed" || status === "Cancelled" || status === "Finished";
}

/** `BatchExecutionStatus`: the GET body. */
export interface BatchExecutionStatus {
  StatusCode: BesStatusCode;
  Results: Record<string, { ConnectionString: string | null; RelativeLocation: string; BaseLocation: string; SasBlobToken: string }> | null;
  Details: string | null;
}
