import { Router, type RequestHandler } from 'express';
import { validate } from '@aiprod/contracts';
import { WebhookStore, type ApiKeyScope, type TenantWebhook } from '@aiprod/job-store';
import { assertSafeWebhookUrl, generateWebhookSecret, UnsafeWebhookUrlError, type ResolveHost } from '@aiprod/webhooks';
import { WebhookPutSchema } from '../openapi/schemas';
import { HttpProblem } from '../problem';
import { principalName, tenantOf } from '../request';

export interface WebhookRoutesDeps {
  webhooks: WebhookStore;
  requireScope: (scope: ApiKeyScope) => RequestHandler;
  /** Local mode: plain http to loopback is accepted (as delivery's ALLOW_LOOPBACK_HTTP). */
  allowLoopbackHttp: boolean;
  /** How long the previous secret keeps signing after a rotation. */
  secretOverlapSeconds: number;
  /** DNS for the SSRF guard (tests pin it). */
  resolve?: ResolveHost;
}

const iso = (t: { toDate(): Date } | null | undefined) => (t ? t.toDate().toISOString() : null);

function webhookView(w: TenantWebhook, secret?: string) {
  return {
    url: w.url,
    ...(secret ? { secret } : {}),
    secretsActive: WebhookStore.signingSecrets(w).length,
    previousSecretExpiresAt: w.secrets.length > 1 ? iso(w.previousSecretExpiresAt) : null,
    disabled: w.disabledAt !== null,
    disabledReason: w.disabledReason,
    updatedAt: iso(w.updatedAt),
  };
}

/**
 * The tenant's webhook endpoint. Managing it needs the `admin` scope: the endpoint and its secret
 * decide where every job notification of the tenant goes, which a jobs:write key (a CI pipeline,
 * an integration) should not be able to redirect.
 */
export function webhookRoutes(deps: WebhookRoutesDeps): Router {
  const router = Router();

  router.get('/v1/webhook', deps.requireScope('admin'), async (req, res) => {
    const current = await deps.webhooks.getEndpoint(tenantOf(req));
    if (!current) throw new HttpProblem('not_found', 'no webhook endpoint is set');
    res.json(webhookView(current));
  });

  router.put('/v1/webhook', deps.requireScope('admin'), async (req, res) => {
    const checked = validate(WebhookPutSchema, req.body);
    if (!checked.ok) throw new HttpProblem('validation', 'the body is not valid', { errors: checked.errors });
    let url: string;
    try {
      // Resolved now to refuse internal targets early; delivery checks again before each send,
      // because DNS can change between registration and delivery.
      const safe = await assertSafeWebhookUrl(checked.value.url, {
        allowLoopbackHttp: deps.allowLoopbackHttp,
        ...(deps.resolve ? { resolve: deps.resolve } : {}),
      });
      url = safe.url.href;
    } catch (e) {
      if (!(e instanceof UnsafeWebhookUrlError)) throw e;
      throw new HttpProblem('validation', `the webhook URL is refused: ${e.message}`, {
        errors: [{ field: '/url', rule: e.reason, message: e.message }],
      });
    }
    const tenantId = tenantOf(req);
    const secret = generateWebhookSecret();
    const current = await deps.webhooks.getEndpoint(tenantId);
    if (current) {
      // A second PUT rotates: the endpoint is (re)set with the current secret, which re-enables it
      // if delivery had disabled it, then the new secret is added in front. The new secret signs
      // from now on and the previous one keeps signing too (both signatures are sent) until the
      // overlap ends, so a receiver can switch without a gap. A crash between the two writes
      // leaves the old secret working alone; the client's retry rotates again.
      await deps.webhooks.setEndpoint(tenantId, url, current.secrets[0]!);
      await deps.webhooks.rotateSecret(tenantId, secret, deps.secretOverlapSeconds);
    } else {
      await deps.webhooks.setEndpoint(tenantId, url, secret);
    }
    const stored = await deps.webhooks.getEndpoint(tenantId);
    res
      .status(current ? 200 : 201)
      .setHeader('Cache-Control', 'no-store')
      .json(webhookView(stored!, secret));
  });

  // Deleting stops deliveries (the endpoint is disabled and kept for the audit of past
  // deliveries); a later PUT sets it up again.
  router.delete('/v1/webhook', deps.requireScope('admin'), async (req, res) => {
    const tenantId = tenantOf(req);
    if (!(await deps.webhooks.getEndpoint(tenantId))) throw new HttpProblem('not_found', 'no webhook endpoint is set');
    await deps.webhooks.disableEndpoint(tenantId, `removed by ${principalName(req)}`);
    res.status(204).end();
  });

  return router;
}
