import { copyFile } from 'node:fs/promises';
import { accessTokenAuth } from '@aiprod/google-ai';
import type { BlobStore } from '@aiprod/storage';
import { poolModels, type RenderEnvValues } from '../env';
import type { VideoBackend } from './backend';
import { localBackend } from './local';
import { replicateBackend } from './replicate';
import { runwayBackend } from './runway';
import { veoBackend } from './veo';

function required(value: string | undefined, name: string): string {
  if (!value) throw new Error(`${name} must be set for this render backend`);
  return value;
}

/** The backend this pool serves, configured from its environment; a missing credential stops start-up. */
export function createBackend(env: RenderEnvValues, storage: BlobStore): VideoBackend {
  const models = poolModels(env);
  switch (env.RENDER_BACKEND) {
    case 'local':
      return localBackend({ timeoutMs: env.RENDER_TIMEOUT_SECONDS * 1000 });
    case 'runway':
      return runwayBackend({
        apiKey: required(env.RUNWAY_API_KEY, 'RUNWAY_API_KEY'),
        ...(env.RUNWAY_BASE_URL ? { baseUrl: env.RUNWAY_BASE_URL } : {}),
        model: models.runway,
        ...(env.RUNWAY_POLL_INTERVAL_MS !== undefined ? { pollIntervalMs: env.RUNWAY_POLL_INTERVAL_MS } : {}),
      });
    case 'replicate':
      return replicateBackend({
        apiToken: required(env.REPLICATE_API_TOKEN, 'REPLICATE_API_TOKEN'),
        ...(env.REPLICATE_BASE_URL ? { baseUrl: env.REPLICATE_BASE_URL } : {}),
        model: models.replicate,
        ...(env.REPLICATE_POLL_INTERVAL_MS !== undefined ? { pollIntervalMs: env.REPLICATE_POLL_INTERVAL_MS } : {}),
      });
    case 'veo': {
      const authClient = env.VERTEX_ACCESS_TOKEN ? accessTokenAuth(env.VERTEX_ACCESS_TOKEN).authClient : undefined;
      return veoBackend({
        project: env.GCP_PROJECT,
        location: env.VERTEX_LOCATION,
        model: models.veo,
        ...(env.VERTEX_BASE_URL ? { baseUrl: env.VERTEX_BASE_URL } : {}),
        ...(authClient ? { authClient } : {}),
        ...(env.VEO_OUTPUT_GCS_PREFIX ? { outputGcsPrefix: env.VEO_OUTPUT_GCS_PREFIX } : {}),
        readGcs: (uri, outFile) => storage.withLocalFile(storage.keyFromUri(uri), (path) => copyFile(path, outFile)),
        ...(env.VEO_POLL_INTERVAL_MS !== undefined ? { pollIntervalMs: env.VEO_POLL_INTERVAL_MS } : {}),
      });
    }
  }
}
