import { PermanentError, type TopicName } from '@aiprod/contracts';
import type { MessageLedger } from '@aiprod/job-store';
import type { HandlerDef } from '@aiprod/pubsub';

/**
 * Wraps a handler so that every message it finishes (handled, or failed for good: both are acked)
 * is noted in the message ledger with its publish time. The Pub/Sub emulator cannot count a
 * subscription's acked backlog, and in the cloud the count is only a metric: this record is what
 * `aiprod ops replay` counts a seek's redeliveries from, and which jobs it notes the replay on.
 * Bookkeeping never fails a message: a ledger write that fails is logged and the message acked.
 */
export function recordingHandled<T extends TopicName>(handler: HandlerDef<T>, ledger: MessageLedger): HandlerDef<T> {
  return {
    topic: handler.topic,
    handle: async (message, ctx) => {
      const note = async (outcome: 'handled' | 'failed_permanently') => {
        try {
          await ledger.recordHandled({
            subscription: ctx.subscription,
            topic: ctx.topic,
            messageId: ctx.messageId,
            jobId: message.jobId,
            publishTime: ctx.publishTime,
            outcome,
          });
        } catch (error) {
          ctx.log.warn('could not note a handled message in the ledger', { error });
        }
      };
      try {
        await handler.handle(message, ctx);
      } catch (error) {
        if (error instanceof PermanentError) await note('failed_permanently');
        throw error;
      }
      await note('handled');
    },
  };
}
