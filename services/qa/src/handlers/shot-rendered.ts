import { defineHandler } from '@aiprod/pubsub';
import type { QaDeps } from '../app';
import { checkRenderedShot } from '../steps/check-shot';

export const shotRenderedHandler = (deps: QaDeps) =>
  defineHandler('aiprod.shot.rendered.v1', (msg, ctx) => checkRenderedShot(deps, msg, ctx.log));
