import { DEFAULT_READ_URL_LIFETIME_MS, splitSasUrl, type BlobStore } from "@retrain/blob";

/** A model's location as a classic PATCH carries it, plus the whole URL (an ARM asset uri). */
export interface ModelLocation {
  readonly url: string;
  readonly BaseLocation: string;
  readonly RelativeLocation: string;
  readonly SasBlobToken: string;
}

/**
 * Mints a short-lived, read-only read URL of one model blob (default 15 minutes: the scoring host
 * copies the model at once) and splits it the classic way. Azure URLs split into account base,
 * container/blob and SAS; the filesystem store's signed URL is used as it is: origin + path + token.
 */
export async function modelReadLocation(store: BlobStore, blobName: string, lifetimeMs = DEFAULT_READ_URL_LIFETIME_MS): Promise<ModelLocation> {
  const url = await store.readUrl(blobName, lifetimeMs);
  if (store.kind === "azure") {
    const parts = splitSasUrl(url);
    return { url, BaseLocation: parts.baseLocation, RelativeLocation: parts.relativeLocation, SasBlobToken: parts.sasBlobToken };
  }
  const parsed = new URL(url);
  return { url, BaseLocation: `${parsed.origin}/`, RelativeLocation: parsed.pathname.replace(/^\/+/, ""), SasBlobToken: parsed.search };
}
