import { AzureBlobStore, FileSystemBlobStore, type BlobStore } from "@retrain/blob";
import { connectNatsBus, connectServiceBusBus, MemoryBus, type EventBus } from "@retrain/bus";
import { parseKekBase64 } from "@retrain/service-kit";
import type { Logger } from "@retrain/telemetry";
import type { PlatformEnv } from "./platform-config.js";

/** Opens the blob store the configuration names. */
export function openBlobStore(env: PlatformEnv): BlobStore {
  if (env.BLOB === "azure") {
    if (env.AZURE_STORAGE_CONNECTION_STRING === undefined) {
      throw new Error("BLOB=azure needs AZURE_STORAGE_CONNECTION_STRING");
    }
    return new AzureBlobStore({
      connectionString: env.AZURE_STORAGE_CONNECTION_STRING,
      container: env.AZURE_STORAGE_CONTAINER,
      createContainer: true,
    });
  }
  return new FileSystemBlobStore({
    root: env.BLOB_ROOT,
    ...(env.BLOB_URL_SECRET !== undefined ? { urlSecret: env.BLOB_URL_SECRET } : {}),
    ...(env.BLOB_PUBLIC_URL !== undefined ? { publicBaseUrl: env.BLOB_PUBLIC_URL } : {}),
  });
}

/** Connects the bus the configuration names (`memory` gives a fresh in-process bus). */
export async function connectBus(env: PlatformEnv, logger: Logger, name: string): Promise<EventBus> {
  if (env.BUS === "nats") {
    return connectNatsBus({
      servers: env.NATS_URL.split(","),
      prefix: env.NATS_PREFIX,
      logger,
      name,
      ...(env.NATS_USER !== undefined ? { user: env.NATS_USER } : {}),
      ...(env.NATS_PASSWORD !== undefined ? { pass: env.NATS_PASSWORD } : {}),
      ...(env.NATS_TOKEN !== undefined ? { token: env.NATS_TOKEN } : {}),
      ...(env.NATS_NKEY_SEED !== undefined ? { nkeySeed: env.NATS_NKEY_SEED } : {}),
      ...(env.NATS_CREDS_FILE !== undefined ? { credsFile: env.NATS_CREDS_FILE } : {}),
      ...(env.NATS_TLS_CA !== undefined || env.NATS_TLS_CERT !== undefined
        ? {
            tls: {
              ...(env.NATS_TLS_CA !== undefined ? { caFile: env.NATS_TLS_CA } : {}),
              ...(env.NATS_TLS_CERT !== undefined ? { certFile: env.NATS_TLS_CERT } : {}),
              ...(env.NATS_TLS_KEY !== undefined ? { keyFile: env.NATS_TLS_KEY } : {}),
            },
          }
        : {}),
    });
  }
  if (env.BUS === "servicebus") {
    const access =
      env.SERVICEBUS_CONNECTION_STRING !== undefined
        ? { connectionString: env.SERVICEBUS_CONNECTION_STRING }
        : env.SERVICEBUS_NAMESPACE !== undefined
          ? { namespace: env.SERVICEBUS_NAMESPACE }
          : undefined;
    if (access === undefined) throw new Error("BUS=servicebus needs SERVICEBUS_CONNECTION_STRING or SERVICEBUS_NAMESPACE");
    return connectServiceBusBus({ ...access, topic: env.SERVICEBUS_TOPIC, createEntities: env.SERVICEBUS_CREATE_ENTITIES, logger, name });
  }
  return new MemoryBus({ logger });
}

/** The configured key-encryption key (`RETRAIN_KEK`), or undefined; a malformed one fails naming the variable. */
export function platformKek(env: Pick<PlatformEnv, "RETRAIN_KEK">): Buffer | undefined {
  return env.RETRAIN_KEK === undefined ? undefined : parseKekBase64(env.RETRAIN_KEK, "RETRAIN_KEK");
}

/** The host of the own store's read URLs (allowed implicitly as a model or dataset source). */
export function ownStoreHost(env: PlatformEnv): string | undefined {
  if (env.BLOB === "azure") {
    const match = /BlobEndpoint=([^;]+)/i.exec(env.AZURE_STORAGE_CONNECTION_STRING ?? "");
    if (match?.[1]) return new URL(match[1]).host;
    const account = /AccountName=([^;]+)/i.exec(env.AZURE_STORAGE_CONNECTION_STRING ?? "")?.[1];
    return account ? `${account}.blob.core.windows.net` : undefined;
  }
  return env.BLOB_PUBLIC_URL !== undefined ? new URL(env.BLOB_PUBLIC_URL).host : undefined;
}
