// The fields of the servers' answers the commands read. Answers are printed as the server sent them
// under --json; these types only name what the human output uses (see ApiClient.request).

/** A stage of a run's timeline (registry `GET /v1/runs/{id}`). */
export interface StageView {
  readonly stage: string;
  readonly at: string;
  /** Time since the previous stage (null for the first). */
  readonly durationMs: number | null;
  readonly eventType?: string;
  readonly target?: string;
  readonly detail?: string;
}

/** A run as the registry lists it (`GET /v1/runs`). */
export interface RunSummaryView {
  readonly runId: string;
  readonly pipeline: string;
  readonly runSequence: number;
  readonly workspace?: string | null;
  readonly trigger?: { readonly kind: string; readonly by?: string } | null;
  readonly datasetSha256?: string | null;
  readonly outcome: string;
  readonly terminal: boolean;
  readonly startedAt: string | null;
  readonly lastEventAt: string | null;
}

/** A run's timeline (`GET /v1/runs/{id}`). */
export interface RunTimelineView extends RunSummaryView {
  readonly totalMs: number | null;
  readonly stages: readonly StageView[];
}

/** A pipeline (ingestion `GET /v1/pipelines`). */
export interface PipelineView {
  readonly name: string;
  readonly trainingWebService: { readonly workspace: string; readonly service: string };
  readonly evaluation: { readonly mode: string; readonly primaryMetric?: string; readonly threshold?: number };
  readonly targets: readonly Record<string, unknown>[];
  readonly schedule?: string;
  readonly paused?: boolean;
  readonly pausedAt?: string;
  readonly pausedBy?: string;
  readonly heldTriggers?: number;
}

/** An upload's answer: a run (new or deduplicated) or a held trigger (the pipeline is paused). */
export interface UploadAnswer {
  readonly runId?: string;
  readonly runSequence?: number;
  readonly deduplicated?: boolean;
  readonly held?: boolean;
  readonly pipeline?: string;
  readonly triggerId?: string;
}

/** One change of what a target serves (registry `GET /v1/targets/history`). */
export interface PromotionView {
  readonly revision: number;
  readonly modelId: string;
  readonly runId: string;
  readonly runSequence: number;
  readonly kind: string;
  readonly at: string;
}

/** A target as the registry lists it (`GET /v1/targets`). */
export interface TargetView {
  readonly target: string;
  readonly current: PromotionView | null;
  readonly changes: number;
}

/** The classic `WebService` object. */
export interface WebServiceView {
  readonly Id: string;
  readonly Name: string;
  readonly Description?: string;
  readonly CreationTime?: string;
  readonly DefaultEndpointName?: string;
  readonly EndpointCount?: number;
}

/** The classic `Endpoint` object (only what the CLI reads). */
export interface EndpointView {
  readonly Name: string;
  readonly WebServiceId: string;
  readonly ApiLocation: string;
  readonly PrimaryKey: string;
  readonly ThrottleLevel?: string;
  readonly MaxConcurrentCalls?: number;
  readonly Version?: string;
}

/** The model a target serves (scoring `GET /v1/…/endpoints/{e}/model`). */
export interface CurrentModelView {
  readonly modelId: string;
  readonly revision: number;
  readonly runId: string | null;
  readonly since: string;
  readonly reason: string;
}

/** An evaluation with its approval (evaluator `POST /v1/runs/{id}/approve|reject`). */
export interface EvaluationView {
  readonly runId: string;
  readonly pipeline: string;
  readonly state: string;
  readonly reason: string;
  readonly approval?: { readonly state: string; readonly decidedBy?: string; readonly decidedAt?: string; readonly comment?: string } | null;
}

/** A run's lineage (registry `GET /v1/runs/{id}/lineage`): dataset → job → model → evaluation → approval → endpoints. */
export interface LineageView {
  readonly runId: string;
  readonly pipeline: string;
  readonly runSequence: number;
  readonly dataset: { readonly sha256?: string; readonly name?: string; readonly size?: number } | null;
  readonly job: { readonly jobId: string; readonly learner?: string; readonly rows?: number; readonly trainingRows?: number; readonly holdoutRows?: number; readonly durationMs?: number } | null;
  readonly model: { readonly modelId: string; readonly blob: string; readonly learner: string; readonly task: string } | null;
  readonly evaluation: {
    readonly challenger: Record<string, number>;
    readonly champions: ReadonlyArray<{ readonly target: string; readonly modelId: string; readonly metrics: Record<string, number> }>;
    readonly reason: string;
  } | null;
  readonly approval: { readonly decision: string; readonly kind?: string; readonly by?: string; readonly reason: string; readonly at: string } | null;
  readonly endpoints: ReadonlyArray<{ readonly target: string; readonly outcome: string; readonly at: string; readonly modelId: string; readonly revision?: number; readonly kind?: string; readonly code?: string; readonly reason?: string }>;
}
