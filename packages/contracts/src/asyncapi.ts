import { z } from "zod";
import { stringify } from "yaml";
import { catalog, eventTypes, exampleData } from "./catalog.js";
import { CloudEventEnvelope } from "./envelope.js";
import type { EventType } from "./events.js";
import { deterministicEventId } from "./ids.js";

/** Options for {@link buildAsyncApiDocument}. */
export interface AsyncApiOptions {
  /** Document version. Default `1.0.0`. */
  version?: string;
}

type JsonObject = { [key: string]: unknown };

function jsonSchema(schema: z.ZodType): JsonObject {
  const out = z.toJSONSchema(schema, { target: "draft-7", io: "output", unrepresentable: "any" }) as JsonObject;
  delete out["$schema"];
  return out;
}

function eventSchema(type: EventType): JsonObject {
  const envelope = jsonSchema(CloudEventEnvelope);
  const properties = { ...(envelope["properties"] as JsonObject) };
  properties["type"] = { type: "string", const: type };
  properties["data"] = jsonSchema(catalog[type].schema);
  return { ...envelope, properties };
}

function exampleEvent(type: EventType): JsonObject {
  const data = exampleData(type) as { runId?: string };
  return {
    specversion: "1.0",
    // An upstream event carries no run: its id is the sender's own.
    id: data.runId !== undefined ? deterministicEventId(data.runId, type) : "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f",
    source: `/retrain/${catalog[type].producedBy[0] ?? "retrain"}`,
    type,
    time: "2026-11-28T20:15:03.412Z",
    datacontenttype: "application/json",
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ...(data.runId !== undefined ? { runid: data.runId } : {}),
    data,
  };
}

/**
 * The AsyncAPI 3.0 document of Retrain's events, generated from the catalog so it cannot drift:
 * one channel per event type (address `{prefix}.<type>` on NATS; on Service Bus the
 * `retrain-event-type` application property, which the subscriptions' rules filter on), a send
 * operation for each producer and a receive operation for each consumer.
 */
export function buildAsyncApiDocument(options: AsyncApiOptions = {}): JsonObject {
  const channels: JsonObject = {};
  const operations: JsonObject = {};
  const messages: JsonObject = {};
  const schemas: JsonObject = {};
  for (const type of eventTypes) {
    const entry = catalog[type];
    const name = entry.name;
    schemas[`${name}Event`] = eventSchema(type);
    messages[name] = {
      name,
      title: name,
      summary: entry.summary,
      contentType: "application/cloudevents+json",
      headers: {
        type: "object",
        properties: {
          "Nats-Msg-Id": { type: "string", description: "NATS: transport message id (the event id, or a fresh id on dead-letter replay)." },
          traceparent: { type: "string", description: "W3C trace context of the producer." },
          "ce-type": { type: "string", const: type },
        },
      },
      payload: { $ref: `#/components/schemas/${name}Event` },
      examples: [{ name: `${name}Example`, payload: exampleEvent(type) }],
    };
    channels[name] = {
      address: `{prefix}.${type}`,
      title: name,
      description: `${entry.summary} ${entry.perTarget ? "One event per run and target." : "One event per run."}`,
      parameters: { prefix: { description: "The deployment's subject prefix (default `retrain`)." } },
      messages: { [name]: { $ref: `#/components/messages/${name}` } },
    };
    for (const producer of entry.producedBy) {
      operations[`${camel(producer)}Sends${name}`] = {
        action: "send",
        title: `${producer} sends ${name}`,
        channel: { $ref: `#/channels/${name}` },
        messages: [{ $ref: `#/channels/${name}/messages/${name}` }],
      };
    }
    for (const consumer of entry.consumedBy) {
      operations[`${camel(consumer)}Receives${name}`] = {
        action: "receive",
        title: `${consumer} receives ${name}`,
        channel: { $ref: `#/channels/${name}` },
        messages: [{ $ref: `#/channels/${name}/messages/${name}` }],
      };
    }
  }
  return {
    asyncapi: "3.0.0",
    info: {
      title: "Retrain events",
      version: options.version ?? "1.0.0",
      description:
        "Events of Retrain's retraining loop, as CloudEvents 1.0 in structured JSON mode. Event ids are deterministic per (run, event type, target), so consumers dedupe by id.",
    },
    defaultContentType: "application/cloudevents+json",
    servers: {
      nats: {
        host: "localhost:4222",
        protocol: "nats",
        description: "NATS JetStream: one stream per deployment prefix, subjects `{prefix}.<event type>`.",
      },
      servicebus: {
        host: "{namespace}.servicebus.windows.net",
        protocol: "amqp",
        protocolVersion: "1.0",
        description: "Azure Service Bus: one topic per deployment, one subscription per consumer group filtered on the event type.",
        variables: { namespace: { description: "The Service Bus namespace." } },
      },
    },
    channels,
    operations,
    components: { messages, schemas },
  };
}

/** The AsyncAPI document as YAML, as checked in at `docs/asyncapi.yaml`. */
export function renderAsyncApiYaml(options: AsyncApiOptions = {}): string {
  return (
    "# Generated from @retrain/contracts by `pnpm asyncapi`; CI fails when it is out of date.\n" +
    stringify(buildAsyncApiDocument(options), { lineWidth: 0, aliasDuplicateObjects: false })
  );
}

function camel(service: string): string {
  return service.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
