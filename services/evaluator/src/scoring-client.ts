// The scoring host as the evaluator sees it: "which model does this target serve?" and its bytes.
import { targetKey, type EndpointTarget } from "@retrain/contracts";
import { tracedFetch } from "@retrain/telemetry";
import { z } from "zod";

/** Options of {@link ScoringClient}. */
export interface ScoringClientOptions {
  /** Base URL of the scoring host, e.g. `http://127.0.0.1:8082`. */
  readonly baseUrl: string;
  /** Bearer API key for its `/v1/…/model` routes. */
  readonly apiKey: string;
  /** Time allowed per call. Default 60 s. */
  readonly timeoutMs?: number;
}

/** The model a target serves now, with its bytes. */
export interface Champion {
  readonly target: string;
  readonly modelId: string;
  readonly revision: number;
  readonly runSequence: number | null;
  readonly sha256: string;
  readonly bytes: Buffer;
}

/** The scoring host could not be asked (network, auth, 5xx, a body that is not the expected one). */
export class ScoringLookupError extends Error {
  override readonly name = "ScoringLookupError";
  constructor(
    message: string,
    readonly target: string,
    /** HTTP status, when there was an answer. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const CurrentModel = z.object({
  modelId: z.string(),
  revision: z.number().int(),
  runSequence: z.number().int().nullable(),
  sha256: z.string(),
  readUrl: z.string().nullable(),
});

/** Asks the scoring host for each target's champion over HTTP. */
export class ScoringClient {
  readonly #base: string;
  readonly #key: string;
  readonly #timeoutMs: number;

  constructor(options: ScoringClientOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, "");
    this.#key = options.apiKey;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** The `/v1` path of a target's served model. */
  modelPath(target: EndpointTarget): string {
    const e = encodeURIComponent;
    return target.kind === "classic"
      ? `/v1/workspaces/${e(target.workspace)}/webservices/${e(target.webService)}/endpoints/${e(target.endpoint)}/model`
      : `/v1/subscriptions/${e(target.subscription)}/resourceGroups/${e(target.resourceGroup)}/webServices/${e(target.webService)}/model`;
  }

  /** The target's champion, or `undefined` when it serves no model yet (404 from the scoring host). */
  async championOf(target: EndpointTarget, signal?: AbortSignal): Promise<Champion | undefined> {
    const key = targetKey(target);
    const answer = await this.#fetch(`${this.#base}${this.modelPath(target)}`, key, signal, { authorization: `Bearer ${this.#key}` });
    if (answer.status === 404) {
      await answer.body?.cancel();
      return undefined;
    }
    if (!answer.ok) throw new ScoringLookupError(`the scoring host answered ${answer.status} for the model of ${key}: ${(await answer.text()).slice(0, 300)}`, key, answer.status);
    const parsed = CurrentModel.safeParse(await answer.json().catch(() => undefined));
    if (!parsed.success) throw new ScoringLookupError(`the scoring host's answer for ${key} is not a served model: ${parsed.error.message}`, key, answer.status);
    const served = parsed.data;
    if (served.readUrl === null) throw new ScoringLookupError(`the scoring host gave no read URL for the model of ${key}`, key, answer.status);
    const download = await this.#fetch(served.readUrl, key, signal, {});
    if (!download.ok) throw new ScoringLookupError(`downloading the model of ${key} failed with ${download.status}`, key, download.status);
    return {
      target: key,
      modelId: served.modelId,
      revision: served.revision,
      runSequence: served.runSequence,
      sha256: served.sha256,
      bytes: Buffer.from(await download.arrayBuffer()),
    };
  }

  async #fetch(url: string, key: string, signal: AbortSignal | undefined, headers: Record<string, string>): Promise<Response> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    try {
      // 404: the target serves no model yet (no champion), an answer rather than a failure.
      return await tracedFetch(url, { headers, expectedStatuses: [404], signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) });
    } catch (error) {
      signal?.throwIfAborted();
      throw new ScoringLookupError(`the scoring host could not be reached for ${key}: ${(error as Error).message}`, key, undefined, { cause: error });
    }
  }
}
