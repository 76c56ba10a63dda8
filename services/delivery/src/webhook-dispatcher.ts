import { Timestamp } from '@google-cloud/firestore';
import { attemptDelivery, type WebhookDeps } from './steps/send-webhook';

/** Sends the deliveries that have come due; several instances may run it, the claim keeps it single. */
export function startWebhookDispatcher(
  deps: WebhookDeps,
  intervalMs: number,
): { stop(): Promise<void>; runOnce(): Promise<void> } {
  let running: Promise<void> | undefined;
  const runOnce = () => {
    running ??= (async () => {
      for (const d of await deps.webhooks.dueDeliveries(Timestamp.now())) {
        try {
          await attemptDelivery(deps, d.webhookId);
        } catch (error) {
          deps.log.error('webhook attempt failed', { webhookId: d.webhookId, error });
        }
      }
    })().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = setInterval(
    () => void runOnce().catch((error: unknown) => deps.log.error('webhook dispatch failed', { error })),
    intervalMs,
  );
  timer.unref();
  return {
    runOnce,
    stop: async () => {
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
