// RRS metrics per endpoint and model, bound once per served model so a request records into plain
// numbers: no label hashing, no allocation on the hot path.
import type { BoundCounter, BoundHistogram, MetricsRegistry, SeriesFamily } from "@retrain/service-kit";
import type { LiveTarget, Serving } from "./live.js";
import { targetKeyOf } from "./model-updates.js";

type RrsLabel = "endpoint" | "model";

/** The series one served model records into. */
export interface RrsSeries {
  readonly requests: BoundCounter;
  readonly duration: BoundHistogram;
  /** Counts a failed request by its error code (series bound on first use of a code). */
  error(code: string): void;
}

// The OTel HTTP duration buckets, finer at the low end where scoring one row lands.
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * `retrain_rrs_requests_total{endpoint, model}`, `retrain_rrs_request_duration_seconds{endpoint, model}`
 * and `retrain_rrs_errors_total{endpoint, model, code}`. `endpoint` is the target key
 * (`classic:<workspace>/<web service id>/<endpoint>` or `new:<subscription>/<group>/<name>`), `model`
 * the served model's id. When an endpoint's model is replaced the old model's series are dropped, so
 * the series stay one model per endpoint.
 */
export class RrsMetrics {
  readonly #requests: SeriesFamily<RrsLabel, BoundCounter>;
  readonly #duration: SeriesFamily<RrsLabel, BoundHistogram>;
  readonly #errors: SeriesFamily<RrsLabel | "code", BoundCounter>;
  // Keyed by the Serving object: a swapped-in model is a new Serving, so it binds anew.
  readonly #bound = new WeakMap<Serving, RrsSeries>();
  readonly #current = new Map<string, { model: string; codes: Set<string> }>();

  constructor(registry: MetricsRegistry) {
    this.#requests = registry.fastCounter({ name: "retrain_rrs_requests_total", help: "RRS execute requests answered by a served model, per endpoint and model.", labelNames: ["endpoint", "model"] });
    this.#duration = registry.fastHistogram({
      name: "retrain_rrs_request_duration_seconds",
      help: "RRS execute latency from request to answer, per endpoint and model, in seconds.",
      labelNames: ["endpoint", "model"],
      buckets: BUCKETS,
    });
    this.#errors = registry.fastCounter({ name: "retrain_rrs_errors_total", help: "RRS execute requests that failed, per endpoint, model and error code.", labelNames: ["endpoint", "model", "code"] });
  }

  /** The series of the model `serving` of `target` (bound on its first request). */
  seriesFor(target: LiveTarget, serving: Serving): RrsSeries {
    return this.#bound.get(serving) ?? this.#bind(target, serving);
  }

  #bind(target: LiveTarget, serving: Serving): RrsSeries {
    const endpoint = targetKeyOf(target.doc);
    const model = serving.state.modelId;
    const previous = this.#current.get(endpoint);
    if (previous !== undefined && previous.model !== model) {
      this.#requests.remove({ endpoint, model: previous.model });
      this.#duration.remove({ endpoint, model: previous.model });
      for (const code of previous.codes) this.#errors.remove({ endpoint, model: previous.model, code });
    }
    const codes = previous !== undefined && previous.model === model ? previous.codes : new Set<string>();
    this.#current.set(endpoint, { model, codes });
    const errors = new Map<string, BoundCounter>();
    const series: RrsSeries = {
      requests: this.#requests.bind({ endpoint, model }),
      duration: this.#duration.bind({ endpoint, model }),
      error: (code) => {
        let counter = errors.get(code);
        if (counter === undefined) {
          counter = this.#errors.bind({ endpoint, model, code });
          errors.set(code, counter);
          codes.add(code);
        }
        counter.inc();
      },
    };
    this.#bound.set(serving, series);
    return series;
  }
}
