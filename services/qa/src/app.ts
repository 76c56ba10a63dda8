import type { TopicsOf } from '@aiprod/contracts';
import type { HandlerMap } from '@aiprod/pubsub';
import type { CoreDeps } from '@aiprod/service-runtime';
import type { BlobStore } from '@aiprod/storage';
import { shotRenderedHandler } from './handlers/shot-rendered';

export interface QaDeps extends CoreDeps {
  storage: BlobStore;
  maxAttempts: number;
}

export function buildQa(deps: QaDeps): HandlerMap<TopicsOf<'qa'>> {
  return { 'aiprod.shot.rendered.v1': shotRenderedHandler(deps) };
}
