import { readJson, updateJson, BlobConflictError, type BlobStore } from "@retrain/blob";
import { SecretBox } from "@retrain/service-kit";
import { parseJob, type JobDocument, type JobResult } from "./job.js";
import type { DataLocation } from "./locations.js";

/**
 * Jobs of one host under its own blob prefix: `<prefix>/jobs/<workspace>/<service>/<id>.json`.
 * Every change is a compare-and-set on the job's document. With a {@link SecretBox}, the secrets a
 * caller handed in (storage connection strings, SAS URLs, global parameter values) are sealed in the
 * stored document and opened on read, so a reader of the blob store does not learn them.
 */
export class JobStore {
  readonly #parse: (value: unknown) => JobDocument;

  constructor(
    private readonly store: BlobStore,
    private readonly prefix: string,
    private readonly secrets?: SecretBox,
  ) {
    this.#parse = (value) => this.#open(parseJob(value));
  }

  #name(workspace: string, service: string, id: string): string {
    return `${this.prefix}/jobs/${workspace}/${service}/${id}.json`;
  }

  /** Where a job's own artifacts (default outputs, holdout rows) live. */
  artifactName(job: Pick<JobDocument, "workspace" | "service" | "id">, file: string): string {
    return `${this.prefix}/jobs/${job.workspace}/${job.service}/${job.id}/${file}`;
  }

  /** Creates the job; false when a job with this id exists already (a replayed request or event). */
  async create(job: JobDocument): Promise<boolean> {
    try {
      await this.store.put(this.#name(job.workspace, job.service, job.id), JSON.stringify(this.#seal(job)), {
        ifNoneMatch: "*",
        contentType: "application/json",
      });
      return true;
    } catch (error) {
      if (error instanceof BlobConflictError) return false;
      throw error;
    }
  }

  async get(workspace: string, service: string, id: string): Promise<JobDocument | undefined> {
    return (await readJson(this.store, this.#name(workspace, service, id), this.#parse))?.value;
  }

  /**
   * Applies `mutate` by compare-and-set (retried on conflict); `mutate` returns undefined for "no
   * change". Returns the job as it now stands, and whether this call changed it.
   */
  async update(
    workspace: string,
    service: string,
    id: string,
    mutate: (job: JobDocument) => JobDocument | undefined,
  ): Promise<{ job: JobDocument | undefined; changed: boolean }> {
    let written: JobDocument | undefined;
    const result = await updateJson(this.store, this.#name(workspace, service, id), this.#parse, (current) => {
      written = current === undefined ? undefined : mutate(current);
      return written === undefined ? undefined : this.#seal(written);
    });
    return { job: result.changed ? written : result.value, changed: result.changed };
  }

  /** Jobs of a service, newest first. */
  async list(workspace: string, service: string, limit = 100): Promise<JobDocument[]> {
    const jobs: JobDocument[] = [];
    for await (const blob of this.store.list(`${this.prefix}/jobs/${workspace}/${service}/`)) {
      if (!blob.name.endsWith(".json") || blob.name.split("/").length !== this.prefix.split("/").length + 4) continue;
      const job = (await readJson(this.store, blob.name, this.#parse))?.value;
      if (job !== undefined) jobs.push(job);
    }
    jobs.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    return jobs.slice(0, limit);
  }

  #seal(job: JobDocument): JobDocument {
    const box = this.secrets;
    if (box === undefined) return job;
    return transformSecrets(job, (value, field) => (SecretBox.isSealed(value) ? value : box.seal(value, aadOf(job, field))));
  }

  #open(job: JobDocument): JobDocument {
    const box = this.secrets;
    // A sealed value read without a box stays sealed, and then fails where it is used (naming RETRAIN_KEK).
    if (box === undefined) return job;
    return transformSecrets(job, (value, field) => (SecretBox.isSealed(value) ? box.open(value, aadOf(job, field)) : value));
  }
}

/** Binds a sealed value to its job and field: copied into another job or field, it does not open. */
function aadOf(job: Pick<JobDocument, "host" | "workspace" | "service" | "id">, field: string): string {
  return `bes-job:${job.host}/${job.workspace}/${job.service}/${job.id}#${field}`;
}

function transformLocation(location: DataLocation, field: string, apply: (value: string, field: string) => string): DataLocation {
  switch (location.kind) {
    case "store":
      return location;
    case "azure":
      return { ...location, connectionString: apply(location.connectionString, `${field}.connectionString`) };
    case "url":
      return { ...location, url: apply(location.url, `${field}.url`) };
  }
}

/** The job with every secret-bearing string passed through `apply` (seal or open). */
function transformSecrets(job: JobDocument, apply: (value: string, field: string) => string): JobDocument {
  const locations = (entries: Record<string, DataLocation>, field: string) =>
    Object.fromEntries(Object.entries(entries).map(([name, location]) => [name, transformLocation(location, `${field}.${name}`, apply)]));
  const results =
    job.results === undefined
      ? undefined
      : Object.fromEntries(
          Object.entries(job.results).map(([name, result]): [string, JobResult] => [name, { ...result, location: transformLocation(result.location, `results.${name}`, apply) }]),
        );
  return {
    ...job,
    inputs: locations(job.inputs, "inputs"),
    outputs: locations(job.outputs, "outputs"),
    // A global parameter may be a URL with a SAS token (`URI`) or any other credential.
    globalParameters: Object.fromEntries(Object.entries(job.globalParameters).map(([name, value]) => [name, apply(value, `globalParameters.${name}`)])),
    ...(results !== undefined ? { results } : {}),
  };
}
