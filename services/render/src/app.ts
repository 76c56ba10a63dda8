import type { BackendName, TopicName } from '@aiprod/contracts';
import type { HandlerDef } from '@aiprod/pubsub';
import type { CoreDeps } from '@aiprod/service-runtime';
import type { BlobStore } from '@aiprod/storage';
import type { VideoBackend } from './backends/backend';
import { renderRequestHandler } from './handlers/render-request';

export interface RenderDeps extends CoreDeps {
  storage: BlobStore;
  backend: VideoBackend;
  workDir: string;
}

/** One pool per backend: this process handles only its backend's render topic. */
export function buildRender(deps: RenderDeps): Partial<Record<TopicName, HandlerDef<TopicName>>> {
  const handler = renderRequestHandler(deps);
  return { [handler.topic]: handler };
}

export const supportedBackends: readonly BackendName[] = ['local'];
