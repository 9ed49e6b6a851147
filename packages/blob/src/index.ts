export type {
  BlobBody,
  BlobProperties,
  BlobStore,
  DeleteBlobOptions,
  GetBlobOptions,
  PutBlobOptions,
} from "./blob-store.js";
export { BlobError, BlobNotFoundError, BlobConflictError, InvalidBlobNameError, isBlobError } from "./errors.js";
export type { BlobErrorCode } from "./errors.js";
export { validateBlobName, MAX_BLOB_NAME_LENGTH } from "./names.js";
export { FileSystemBlobStore } from "./filesystem-store.js";
export type { FileSystemBlobStoreOptions } from "./filesystem-store.js";
export { createBlobUrlHandler } from "./blob-url-handler.js";
export type { BlobUrlHandler, BlobUrlHandlerOptions } from "./blob-url-handler.js";
export { DEFAULT_BLOB_URL_PATH_PREFIX, DEFAULT_READ_URL_LIFETIME_MS, DEFAULT_RESULT_SAS_LIFETIME_MS } from "./signed-url.js";
export { AzureBlobStore, splitSasUrl } from "./azure-store.js";
export type { AzureBlobStoreOptions, SasUrlParts } from "./azure-store.js";
export { CachedListing, readJson, updateJson } from "./documents.js";
export type { JsonDocument, UpdateJsonOptions, UpdateJsonResult } from "./documents.js";
