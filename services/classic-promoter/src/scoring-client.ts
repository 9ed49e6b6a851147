import { callScoringHost, isRecord, PromotionRefusedError, refusal, ScoringHostError, type HostAnswer, type ModelLocation } from "@retrain/promotion";

/** Options of {@link ClassicScoringClient}. */
export interface ClassicScoringClientOptions {
  /** Base URL of the scoring host. */
  readonly baseUrl: string;
  /** Admin or workspace key. */
  readonly key: string;
  readonly timeoutMs?: number;
}

/** An endpoint as the classic management API shows it (the fields the promoter reads). */
export interface ClassicEndpoint {
  readonly name: string;
  readonly apiLocation: string;
  readonly primaryKey: string;
  readonly resources: ReadonlyArray<{ name: string; relativeLocation: string }>;
}

/** The model a target serves, from `GET /v1/…/model`. */
export interface ServedModelInfo {
  readonly modelId: string;
  readonly revision: number;
  readonly runId: string | null;
  readonly runSequence: number | null;
  readonly pipeline: string | null;
  readonly sha256: string;
}

/** One audit entry of `GET /v1/…/history` (the fields the promoter reads). */
export interface HistoryEntry {
  readonly revision: number;
  readonly from: { modelId: string; runId?: string; runSequence?: number } | null;
}

/** The run identity a PATCH carries in its `Retrain` extension. */
export interface RetrainExtension {
  readonly runId: string;
  readonly runSequence: number;
  readonly pipeline: string;
  readonly modelId: string;
  readonly reason: "promotion" | "rollback";
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function expectRecord(answer: HostAnswer, what: string): Record<string, unknown> {
  if (!isRecord(answer.body)) throw new ScoringHostError(`${what}: expected a JSON object, got HTTP ${answer.status}`, { method: "GET", url: what, status: answer.status });
  return answer.body;
}

/** The classic management API, `/v1` and RRS of the scoring host, as the classic promoter uses them. */
export class ClassicScoringClient {
  constructor(private readonly options: ClassicScoringClientOptions) {}

  #url(path: string): string {
    return `${this.options.baseUrl.replace(/\/+$/, "")}${path}`;
  }

  #call(method: string, url: string, body?: unknown, key = this.options.key): Promise<HostAnswer> {
    return callScoringHost(method, url, { key, ...(body !== undefined ? { body } : {}), ...(this.options.timeoutMs !== undefined ? { timeoutMs: this.options.timeoutMs } : {}) });
  }

  /** The Id of the workspace's web service named `name` (an Id is accepted too). */
  // Web service ids never change for a name while the service exists: resolved once per name, and
  // again (`fresh`) when an endpoint lookup through the cached id finds nothing.
  readonly #serviceIds = new Map<string, string>();

  /** The id of the web service named `name` (cached; `fresh` asks the host again). */
  async webServiceId(workspace: string, name: string, fresh = false): Promise<string> {
    const cacheKey = `${workspace}\u0000${name}`;
    const cached = fresh ? undefined : this.#serviceIds.get(cacheKey);
    if (cached !== undefined) return cached;
    const id = await this.#lookupWebServiceId(workspace, name);
    this.#serviceIds.set(cacheKey, id);
    return id;
  }

  async #lookupWebServiceId(workspace: string, name: string): Promise<string> {
    const answer = await this.#call("GET", this.#url(`/workspaces/${encodeURIComponent(workspace)}/webservices`));
    if (answer.status >= 400) throw refusal(answer, `listing the web services of workspace '${workspace}'`);
    const services = answer.status === 204 || !Array.isArray(answer.body) ? [] : answer.body.filter(isRecord);
    const matches = services.filter((s) => s["Name"] === name);
    const match = matches.length === 1 ? matches[0] : services.find((s) => s["Id"] === name);
    if (match === undefined) {
      throw new PromotionRefusedError(
        matches.length > 1 ? "WebServiceAmbiguous" : "WebServiceNotFound",
        matches.length > 1 ? `Workspace '${workspace}' has ${matches.length} web services named '${name}'.` : `Web service '${name}' was not found in workspace '${workspace}'.`,
      );
    }
    return text(match["Id"]);
  }

  #endpointPath(workspace: string, serviceId: string, endpoint: string): string {
    return `/workspaces/${encodeURIComponent(workspace)}/webservices/${encodeURIComponent(serviceId)}/endpoints/${encodeURIComponent(endpoint)}`;
  }

  static #endpoint(body: Record<string, unknown>): ClassicEndpoint {
    const resources = Array.isArray(body["Resources"]) ? body["Resources"].filter(isRecord) : [];
    return {
      name: text(body["Name"]),
      apiLocation: text(body["ApiLocation"]),
      primaryKey: text(body["PrimaryKey"]),
      resources: resources.map((r) => ({ name: text(r["Name"]), relativeLocation: isRecord(r["Location"]) ? text(r["Location"]["RelativeLocation"]) : "" })),
    };
  }

  /** The endpoint, or undefined when it does not exist. */
  async getEndpoint(workspace: string, serviceId: string, endpoint: string): Promise<ClassicEndpoint | undefined> {
    const answer = await this.#call("GET", this.#url(this.#endpointPath(workspace, serviceId, endpoint)));
    if (answer.status === 404 && answer.code === "EndpointNotFound") return undefined;
    if (answer.status >= 400) throw refusal(answer, `reading endpoint '${endpoint}'`);
    return ClassicScoringClient.#endpoint(expectRecord(answer, "GET endpoint"));
  }

  /** Creates the endpoint (the classic PUT; it starts with the default endpoint's model). */
  async createEndpoint(workspace: string, serviceId: string, endpoint: string, description: string): Promise<ClassicEndpoint> {
    const answer = await this.#call("PUT", this.#url(this.#endpointPath(workspace, serviceId, endpoint)), { Description: description, ThrottleLevel: "High" });
    if (answer.status >= 400) throw refusal(answer, `creating endpoint '${endpoint}'`);
    return ClassicScoringClient.#endpoint(expectRecord(answer, "PUT endpoint"));
  }

  /** PATCHes the endpoint's trained-model resource; returns the revision the scoring host answered with. */
  async patchTrainedModel(workspace: string, serviceId: string, endpoint: string, resourceName: string, location: ModelLocation, run: RetrainExtension): Promise<number> {
    const body = {
      Resources: [{ Name: resourceName, Location: { BaseLocation: location.BaseLocation, RelativeLocation: location.RelativeLocation, SasBlobToken: location.SasBlobToken } }],
      Retrain: run,
    };
    const answer = await this.#call("PATCH", this.#url(this.#endpointPath(workspace, serviceId, endpoint)), body);
    if (answer.status >= 400) throw refusal(answer, `updating the trained model of endpoint '${endpoint}'`);
    const revision = Number(answer.headers.get("x-retrain-revision"));
    if (!Number.isInteger(revision) || revision < 1) {
      throw new ScoringHostError("the PATCH answer carries no x-retrain-revision header", { method: "PATCH", url: this.#endpointPath(workspace, serviceId, endpoint), status: answer.status });
    }
    return revision;
  }

  /** The model the endpoint serves now. */
  async servedModel(workspace: string, serviceId: string, endpoint: string): Promise<ServedModelInfo> {
    const answer = await this.#call("GET", this.#url(`/v1${this.#endpointPath(workspace, serviceId, endpoint)}/model`));
    if (answer.status >= 400) throw refusal(answer, `reading the model of endpoint '${endpoint}'`);
    const body = expectRecord(answer, "GET model");
    return {
      modelId: text(body["modelId"]),
      revision: typeof body["revision"] === "number" ? body["revision"] : 0,
      runId: typeof body["runId"] === "string" ? body["runId"] : null,
      runSequence: typeof body["runSequence"] === "number" ? body["runSequence"] : null,
      pipeline: typeof body["pipeline"] === "string" ? body["pipeline"] : null,
      sha256: text(body["sha256"]),
    };
  }

  /** The endpoint's audit log. */
  async history(workspace: string, serviceId: string, endpoint: string): Promise<HistoryEntry[]> {
    const answer = await this.#call("GET", this.#url(`/v1${this.#endpointPath(workspace, serviceId, endpoint)}/history`));
    if (answer.status >= 400) throw refusal(answer, `reading the history of endpoint '${endpoint}'`);
    const value = isRecord(answer.body) && Array.isArray(answer.body["value"]) ? answer.body["value"].filter(isRecord) : [];
    return value.map((e) => {
      const from = isRecord(e["from"]) ? e["from"] : null;
      return {
        revision: typeof e["revision"] === "number" ? e["revision"] : 0,
        from:
          from === null
            ? null
            : {
                modelId: text(from["modelId"]),
                ...(typeof from["runId"] === "string" ? { runId: from["runId"] } : {}),
                ...(typeof from["runSequence"] === "number" ? { runSequence: from["runSequence"] } : {}),
              },
      };
    });
  }

  /** The Swagger document of an endpoint (its input columns), read with the endpoint's key. */
  async swagger(apiLocation: string, key: string): Promise<unknown> {
    const answer = await this.#call("GET", `${apiLocation}/swagger.json`, undefined, key);
    if (answer.status >= 400) throw refusal(answer, "reading the endpoint's swagger.json");
    return answer.body;
  }

  /** One RRS call (swagger format); answers the `x-retrain-model` label (`<modelId>@r<revision>`). */
  async execute(apiLocation: string, key: string, row: Record<string, number | string>): Promise<{ status: number; model: string | null; code: string | undefined; message: string | undefined }> {
    const answer = await this.#call("POST", `${apiLocation}/execute?api-version=2.0&format=swagger`, { Inputs: { input1: [row] }, GlobalParameters: {} }, key);
    return { status: answer.status, model: answer.headers.get("x-retrain-model"), code: answer.code, message: answer.message };
  }
}
