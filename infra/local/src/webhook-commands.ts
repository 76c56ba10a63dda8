import { existsSync, readFileSync } from 'node:fs';
import { createFirestore, WebhookStore } from '@aiprod/job-store';
import { assertSafeWebhookUrl, generateWebhookSecret, verifyWebhook } from '@aiprod/webhooks';
import { UsageError } from './qa-command';
import type { StackInfo } from './stack';

/**
 * `aiprod verify-webhook`: what a client's receiver must do, runnable. Reads the raw body and
 * the three webhook-* headers a delivery carried and checks them against the endpoint secret.
 */
export function verifyWebhookCommand(opts: { secret: string; body: string; header: string[]; tolerance: string }) {
  if (!existsSync(opts.body)) throw new UsageError(`no such body file: ${opts.body}`);
  const headers: Record<string, string> = {};
  for (const h of opts.header) {
    const i = h.indexOf(':');
    if (i < 1) throw new UsageError(`a header is "name: value", not "${h}"`);
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  const tolerance = Number(opts.tolerance);
  if (!Number.isInteger(tolerance) || tolerance < 0) throw new UsageError('--tolerance is whole seconds');
  // The exact bytes received: re-serialising JSON would change them and break the signature.
  const body = readFileSync(opts.body);
  const result = verifyWebhook({ headers, body, secret: opts.secret, toleranceSeconds: tolerance });
  return {
    ...result,
    checked:
      'HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<raw body>" with the base64 key after "whsec_", compared in constant time with each "v1,<signature>" in webhook-signature; webhook-timestamp within the tolerance of now',
  };
}

/** `aiprod webhook set <url>`: points the local development tenant's webhooks at a URL; prints the secret once. */
export async function setLocalWebhook(info: StackInfo, url: string) {
  try {
    await assertSafeWebhookUrl(url, { allowLoopbackHttp: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  process.env.FIRESTORE_EMULATOR_HOST = info.firestoreEmulatorHost;
  const db = createFirestore(info.projectId);
  const secret = generateWebhookSecret();
  await new WebhookStore(db).setEndpoint(info.tenantId, url, secret);
  await db.terminate();
  return { tenantId: info.tenantId, url, secret };
}
