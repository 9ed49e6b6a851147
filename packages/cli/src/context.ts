import { ApiClient } from "./api.js";
import { CliError } from "./errors.js";
import type { CliEnvironment, ServiceName } from "./config.js";
import { Output, type CliIo } from "./output.js";

/** Global options every command accepts. */
export interface GlobalOptions {
  readonly url?: string;
  readonly key?: string;
  readonly workspace?: string;
  readonly json?: boolean;
}

/** What a command's action gets: clients per service, the output and the workspace. */
export class CliContext {
  readonly out: Output;
  constructor(
    private readonly env: CliEnvironment,
    private readonly options: GlobalOptions,
    io: CliIo,
  ) {
    this.out = new Output(io, options.json === true);
  }

  get key(): string | undefined {
    return this.options.key ?? this.env.key;
  }

  /** The workspace commands act in: --workspace, RETRAIN_WORKSPACE, or "default". */
  get workspace(): string {
    return this.options.workspace ?? this.env.workspace ?? "default";
  }

  /** The client of one service: RETRAIN_<SERVICE>_URL, else --url / RETRAIN_URL, else the embedded default. */
  api(service: ServiceName): ApiClient {
    const base = this.env.serviceUrls[service] ?? this.options.url ?? this.env.url ?? "http://127.0.0.1:8080";
    if (!/^https?:\/\//.test(base)) throw new CliError(`the ${service} URL must start with http:// or https:// (got ${base})`, 2, "BadUrl");
    return new ApiClient(service, base, this.key);
  }
}
