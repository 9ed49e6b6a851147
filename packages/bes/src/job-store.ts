import { readJson, updateJson, BlobConflictError, type BlobStore } from "@retrain/blob";
import { parseJob, type JobDocument } from "./job.js";

/**
 * Jobs of one host under its own blob prefix: `<prefix>/jobs/<workspace>/<service>/<id>.json`.
 * Every change is a compare-and-set on the job's document.
 */
export class JobStore {
  constructor(
    private readonly store: BlobStore,
    private readonly prefix: string,
  ) {}

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
      await this.store.put(this.#name(job.workspace, job.service, job.id), JSON.stringify(job), {
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
    return (await readJson(this.store, this.#name(workspace, service, id), parseJob))?.value;
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
    const result = await updateJson(this.store, this.#name(workspace, service, id), parseJob, (current) =>
      current === undefined ? undefined : mutate(current),
    );
    return { job: result.value, changed: result.changed };
  }

  /** Jobs of a service, newest first. */
  async list(workspace: string, service: string, limit = 100): Promise<JobDocument[]> {
    const jobs: JobDocument[] = [];
    for await (const blob of this.store.list(`${this.prefix}/jobs/${workspace}/${service}/`)) {
      if (!blob.name.endsWith(".json") || blob.name.split("/").length !== this.prefix.split("/").length + 4) continue;
      const job = (await readJson(this.store, blob.name, parseJob))?.value;
      if (job !== undefined) jobs.push(job);
    }
    jobs.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    return jobs.slice(0, limit);
  }
}
