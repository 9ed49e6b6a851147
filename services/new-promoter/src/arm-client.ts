import { setTimeout as sleep } from "node:timers/promises";
import type { NewWebServiceTarget } from "@retrain/contracts";
import { callScoringHost, isRecord, PromotionRefusedError, refusal, ScoringHostError, type HostAnswer } from "@retrain/promotion";

/** Options of {@link ArmClient}. */
export interface ArmClientOptions {
  /** Base URL of the scoring host (ARM's `management.azure.com` stand-in). */
  readonly baseUrl: string;
  /** Bearer token: an admin or workspace key of the scoring host. */
  readonly key: string;
  /** Pause between polls of an async operation. Default 1 s. */
  readonly pollIntervalMs?: number;
  /** Longest wait for an async operation. Default 10 min. */
  readonly operationTimeoutMs?: number;
}

/** The run identity sent as `x-retrain-*` headers (ARM's body is the resource). */
export interface RunHeaders {
  readonly runId: string;
  readonly runSequence: number;
  readonly pipeline: string;
  readonly modelId: string;
  readonly reason: "promotion" | "rollback";
}

/** The model a new web service serves, from `GET /v1/…/model`. */
export interface ServedModelInfo {
  readonly modelId: string;
  readonly revision: number;
  readonly runSequence: number | null;
  readonly pipeline: string | null;
}

/** One audit entry's `from` (the model served before a revision). */
export interface PreviousModel {
  readonly modelId: string;
  readonly runId?: string;
  readonly runSequence?: number;
}

export const ARM_API_VERSION = "2017-01-01";

/** The ARM `Microsoft.MachineLearning/webServices` API, `/v1` and RRS of the scoring host. */
export class ArmClient {
  constructor(private readonly options: ArmClientOptions) {}

  #base(): string {
    return this.options.baseUrl.replace(/\/+$/, "");
  }

  #resource(target: NewWebServiceTarget, suffix = ""): string {
    const path = `/subscriptions/${encodeURIComponent(target.subscription)}/resourceGroups/${encodeURIComponent(target.resourceGroup)}/providers/Microsoft.MachineLearning/webServices/${encodeURIComponent(target.webService)}`;
    return `${this.#base()}${path}${suffix}?api-version=${ARM_API_VERSION}`;
  }

  #v1(target: NewWebServiceTarget, what: "model" | "history"): string {
    return `${this.#base()}/v1/subscriptions/${encodeURIComponent(target.subscription)}/resourceGroups/${encodeURIComponent(target.resourceGroup)}/webServices/${encodeURIComponent(target.webService)}/${what}`;
  }

  /** The web service's definition (the PowerShell `Get-AzureRmMlWebService`); refused when it does not exist. */
  async get(target: NewWebServiceTarget): Promise<Record<string, unknown>> {
    const answer = await callScoringHost("GET", this.#resource(target), { key: this.options.key });
    if (answer.status === 404) throw new PromotionRefusedError("WebServiceNotFound", `New web service '${target.webService}' was not found in resource group '${target.resourceGroup}'.`);
    if (answer.status >= 400) throw refusal(answer, `reading web service '${target.webService}'`);
    if (!isRecord(answer.body)) throw new ScoringHostError("GET web service: expected a JSON object", { method: "GET", url: this.#resource(target) });
    return answer.body;
  }

  /**
   * Applies a definition (PATCH or PUT, as the target says) with the run headers and waits for its
   * async operation (`Azure-AsyncOperation`) to end; a Failed operation is refused with its code.
   */
  async apply(target: NewWebServiceTarget, definition: Record<string, unknown>, run: RunHeaders): Promise<void> {
    const method = target.method ?? "PATCH";
    const answer = await callScoringHost(method, this.#resource(target), {
      key: this.options.key,
      body: definition,
      headers: {
        "x-retrain-run-id": run.runId,
        "x-retrain-run-sequence": String(run.runSequence),
        "x-retrain-pipeline": run.pipeline,
        "x-retrain-model-id": run.modelId,
        "x-retrain-reason": run.reason,
      },
    });
    if (answer.status >= 400) throw refusal(answer, `${method} of web service '${target.webService}'`);
    const operation = answer.headers.get("azure-asyncoperation");
    if (operation !== null) await this.#await(operation, target);
  }

  async #await(url: string, target: NewWebServiceTarget): Promise<void> {
    const deadline = Date.now() + (this.options.operationTimeoutMs ?? 600_000);
    for (;;) {
      const answer: HostAnswer = await callScoringHost("GET", url, { key: this.options.key });
      if (answer.status >= 400) throw refusal(answer, "polling the update's operation");
      const body = isRecord(answer.body) ? answer.body : {};
      const status = body["status"];
      if (status === "Succeeded") return;
      if (status === "Failed" || status === "Canceled") {
        const error = isRecord(body["error"]) ? body["error"] : {};
        const code = typeof error["code"] === "string" ? error["code"] : "OperationFailed";
        const message = typeof error["message"] === "string" ? error["message"] : `the update of '${target.webService}' ended ${String(status)}`;
        throw refusal({ status: 400, headers: answer.headers, body, code, message }, `the update of web service '${target.webService}'`);
      }
      if (Date.now() >= deadline) throw new ScoringHostError(`the update of '${target.webService}' did not finish in time`, { method: "GET", url: url.split("?")[0] ?? url });
      await sleep(this.options.pollIntervalMs ?? 1000);
    }
  }

  /** The model the web service serves now. */
  async servedModel(target: NewWebServiceTarget): Promise<ServedModelInfo> {
    const answer = await callScoringHost("GET", this.#v1(target, "model"), { key: this.options.key });
    if (answer.status >= 400) throw refusal(answer, `reading the model of '${target.webService}'`);
    const body = isRecord(answer.body) ? answer.body : {};
    return {
      modelId: typeof body["modelId"] === "string" ? body["modelId"] : "",
      revision: typeof body["revision"] === "number" ? body["revision"] : 0,
      runSequence: typeof body["runSequence"] === "number" ? body["runSequence"] : null,
      pipeline: typeof body["pipeline"] === "string" ? body["pipeline"] : null,
    };
  }

  /** The model served before `revision` (from the audit log), if any. */
  async previousModel(target: NewWebServiceTarget, revision: number): Promise<PreviousModel | undefined> {
    const answer = await callScoringHost("GET", this.#v1(target, "history"), { key: this.options.key });
    if (answer.status >= 400) throw refusal(answer, `reading the history of '${target.webService}'`);
    const entries = isRecord(answer.body) && Array.isArray(answer.body["value"]) ? answer.body["value"].filter(isRecord) : [];
    const from = entries.find((e) => e["revision"] === revision)?.["from"];
    if (!isRecord(from) || typeof from["modelId"] !== "string") return undefined;
    return {
      modelId: from["modelId"],
      ...(typeof from["runId"] === "string" ? { runId: from["runId"] } : {}),
      ...(typeof from["runSequence"] === "number" ? { runSequence: from["runSequence"] } : {}),
    };
  }

  /** The web service's primary key (`listKeys`). */
  async primaryKey(target: NewWebServiceTarget): Promise<string> {
    const answer = await callScoringHost("POST", this.#resource(target, "/listKeys"), { key: this.options.key });
    if (answer.status >= 400) throw refusal(answer, `listing the keys of '${target.webService}'`);
    const primary = isRecord(answer.body) ? answer.body["primary"] : undefined;
    if (typeof primary !== "string") throw new ScoringHostError("listKeys answered no primary key", { method: "POST", url: this.#resource(target, "/listKeys").split("?")[0] ?? "" });
    return primary;
  }

  /** A JSON GET with a web service key (its swagger.json). */
  async swagger(url: string, key: string): Promise<unknown> {
    const answer = await callScoringHost("GET", url, { key });
    if (answer.status >= 400) throw refusal(answer, "reading the web service's swagger.json");
    return answer.body;
  }

  /** One RRS call (swagger format); answers the `x-retrain-model` label. */
  async execute(executeUrl: string, key: string, row: Record<string, number | string>): Promise<{ status: number; model: string | null; code: string | undefined; message: string | undefined }> {
    const answer = await callScoringHost("POST", `${executeUrl}?api-version=2.0&format=swagger`, { key, body: { Inputs: { input1: [row] }, GlobalParameters: {} } });
    return { status: answer.status, model: answer.headers.get("x-retrain-model"), code: answer.code, message: answer.message };
  }
}
