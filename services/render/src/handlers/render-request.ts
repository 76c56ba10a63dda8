import { PermanentError, renderTopicFor } from '@aiprod/contracts';
import { defineHandler } from '@aiprod/pubsub';
import type { RenderDeps } from '../app';
import { serveRenderRequest } from '../steps/render-request';

/**
 * One render request for this pool's backend: the message must name an existing job of its tenant;
 * claiming, rendering, hand-back and publishing are the step's (steps/render-request.ts).
 */
export const renderRequestHandler = (deps: RenderDeps) =>
  defineHandler(renderTopicFor(deps.backend.name), async (msg, ctx) => {
    const job = await deps.jobs.getJob(msg.jobId);
    if (!job || job.tenantId !== msg.tenantId) {
      throw new PermanentError('invalid_message', `shot ${msg.shotId} of job ${msg.jobId} does not exist`);
    }
    await serveRenderRequest(deps, msg, job, { messageId: ctx.messageId, log: ctx.log });
  });
