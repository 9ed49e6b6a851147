// Subscribe to Retrain's events straight from NATS JetStream, with a durable consumer of your own.
//
//   pnpm --filter @retrain/event-examples exec tsc -b && \
//     NATS_URL=nats://127.0.0.1:4222 RETRAIN_PREFIX=retrain CONSUMER=team-storefront \
//     node docs/examples/dist/nats-subscriber.js
//
// Retrain publishes every event on the subject `<prefix>.<event type>` (prefix `retrain` unless the
// deployment sets NATS_PREFIX) of the stream `RETRAIN_<PREFIX>`, as a structured-mode CloudEvent
// (JSON). Your durable consumer keeps its position on the server: stop and start your process and
// it resumes where it left off, and Retrain's own consumer groups are not touched.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages } from "@nats-io/jetstream";
import { catalog, decodeEvent, EventTypes, EventValidationError, type AnyEvent, type EventType } from "@retrain/contracts";

/** Options for {@link subscribeToRetrainEvents}. */
export interface RetrainSubscriberOptions {
  /** NATS servers, e.g. `nats://127.0.0.1:4222`. */
  readonly servers: string | string[];
  /** The deployment's prefix (its NATS_PREFIX). Default `retrain`. */
  readonly prefix?: string;
  /** Your team's consumer name: one durable per event type is created as `<durable>_<EventName>`. */
  readonly durable: string;
  /** The event types you want. Default: EndpointUpdated. */
  readonly types?: readonly EventType[];
  /** `new`: events published from now on (default); `all`: everything the stream still holds (7 days by default). */
  readonly from?: "new" | "all";
  /** Called once per valid event; throw to have it redelivered later. */
  readonly onEvent: (event: AnyEvent) => Promise<void>;
  /** Called for a message that is not a valid Retrain event (it is not redelivered). */
  readonly onInvalid?: (error: EventValidationError, subject: string) => void;
}

/** A running subscriber. */
export interface RetrainSubscriber {
  close(): Promise<void>;
}

/** The stream Retrain's events are in, for a deployment prefix. */
export function streamName(prefix: string): string {
  return `RETRAIN_${prefix.toUpperCase().replace(/-/g, "_")}`;
}

/** The subject one event type travels on. */
export function subjectOf(prefix: string, type: EventType): string {
  return `${prefix}.${type}`;
}

/**
 * Creates (or reuses) a durable pull consumer per event type — a NATS 2.9 server takes one filter
 * subject per consumer; on 2.10+ one consumer with `filter_subjects` works too — and hands every
 * message to `onEvent` after validating it with the contracts package's schemas. Acks after
 * `onEvent` returns; a throw redelivers after 5 s; an invalid message is terminated.
 */
export async function subscribeToRetrainEvents(options: RetrainSubscriberOptions): Promise<RetrainSubscriber> {
  const prefix = options.prefix ?? "retrain";
  const stream = streamName(prefix);
  const nc: NatsConnection = await connect({ servers: options.servers, name: options.durable });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const running: ConsumerMessages[] = [];
  const loops: Promise<void>[] = [];
  // Event ids are deterministic per (run, type, target): a redelivery or a re-publish carries the same
  // id. Remember what you handled (in your own database in production) and skip repeats.
  const seen = new Set<string>();
  for (const type of options.types ?? [EventTypes.EndpointUpdated]) {
    const durable = `${options.durable}_${catalog[type].name}`;
    try {
      await jsm.consumers.info(stream, durable);
    } catch {
      await jsm.consumers.add(stream, {
        durable_name: durable,
        filter_subject: subjectOf(prefix, type),
        ack_policy: AckPolicy.Explicit,
        deliver_policy: options.from === "all" ? DeliverPolicy.All : DeliverPolicy.New,
        ack_wait: 30_000_000_000, // 30 s, in nanoseconds
        max_deliver: 20,
      });
    }
    const messages = await (await js.consumers.get(stream, durable)).consume({ max_messages: 16 });
    running.push(messages);
    loops.push(
      (async () => {
        for await (const msg of messages) {
          let event: AnyEvent;
          try {
            event = decodeEvent(msg.data);
          } catch (error) {
            if (!(error instanceof EventValidationError)) throw error;
            options.onInvalid?.(error, msg.subject);
            msg.term();
            continue;
          }
          if (seen.has(event.id)) {
            msg.ack();
            continue;
          }
          try {
            await options.onEvent(event);
            seen.add(event.id);
            msg.ack();
          } catch {
            msg.nak(5_000);
          }
        }
      })(),
    );
  }
  return {
    async close() {
      for (const messages of running) messages.stop();
      await Promise.allSettled(loops);
      await nc.drain();
    },
  };
}

// Run directly: print every EndpointUpdated and ModelRejected until Ctrl-C.
async function main(): Promise<void> {
  const subscriber = await subscribeToRetrainEvents({
    servers: process.env["NATS_URL"] ?? "nats://127.0.0.1:4222",
    prefix: process.env["RETRAIN_PREFIX"] ?? "retrain",
    durable: process.env["CONSUMER"] ?? "example-team",
    types: [EventTypes.EndpointUpdated, EventTypes.ModelRejected],
    onEvent: async (event) => {
      if (event.type === EventTypes.EndpointUpdated) {
        const { pipeline, runSequence, target, model, revision } = event.data;
        console.log(`${pipeline} run #${runSequence}: ${target.webService} now serves model ${model.modelId} (revision ${revision})`);
      } else {
        console.log(`${event.type} for run ${event.runid ?? "?"} (${event.id})`);
      }
    },
    onInvalid: (error, subject) => console.error(`invalid event on ${subject}: ${error.message}`),
  });
  console.log("listening; Ctrl-C to stop");
  process.once("SIGINT", () => void subscriber.close());
}

if (process.argv[1]?.endsWith("nats-subscriber.js")) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
