import { Timestamp } from '@google-cloud/firestore';
import { count } from '@aiprod/observability';
import { attemptDelivery, WEBHOOK_OUTCOME, type WebhookDeps } from './steps/send-webhook';

/** Sends the deliveries that have come due; several instances may run it, the claim keeps it single. */
export function startWebhookDispatcher(
  deps: WebhookDeps,
  intervalMs: number,
): { stop(): Promise<void>; runOnce(): Promise<void> } {
  // Every outcome's series exists from the start, so a rate of give-ups reads 0, not "no data".
  for (const outcome of Object.values(WEBHOOK_OUTCOME)) count('webhookDeliveries', { outcome }, 0);
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
