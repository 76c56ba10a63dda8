import { GcsBlobStore } from './gcs';
import { LocalBlobStore } from './local';
import type { BlobStore } from './types';

export * from './types';
export {
  assertValidKey,
  assertValidPrefix,
  jobPrefix,
  tenantPrefix,
  captionsKey,
  finalCutKey,
  voiceTrackKey,
  InvalidBlobKeyError,
  isValidKey,
  jobFolders,
  jobReferenceKey,
  keyProblem,
  MAX_KEY_BYTES,
  outputsPrefix,
  previewKey,
  qaEvidencePrefix,
  shotClipKey,
  tenantAssetKey,
  type JobRef,
  type PlanVersionRef,
  type ShotAttemptRef,
} from './keys';
export { attachmentDisposition, contentDisposition } from './util';
export { eraseJobFiles } from './erasure';
export {
  encodeKeyPath,
  LocalBlobStore,
  parseSignedFileRequest,
  verifyLocalSignature,
  type LocalBlobStoreOptions,
  type LocalSignatureVerdict,
  type SignedFileRequest,
  type VerifyLocalSignatureInput,
} from './local';
export { GcsBlobStore, type GcsBlobStoreOptions } from './gcs';

export type BlobStoreConfig =
  { kind: 'local'; rootDir: string; publicBaseUrl: string; signingKey: Buffer } | { kind: 'gcs'; bucket: string };

/** Builds the store a service's configuration asks for. */
export function createBlobStore(config: BlobStoreConfig): BlobStore {
  switch (config.kind) {
    case 'local':
      return new LocalBlobStore(config);
    case 'gcs':
      return new GcsBlobStore({ bucket: config.bucket });
    default: {
      const unknownKind: never = config;
      throw new Error(`unknown blob store kind: ${JSON.stringify((unknownKind as { kind?: unknown }).kind)}`);
    }
  }
}
