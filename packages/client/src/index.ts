import createFetchClient, { type Client } from 'openapi-fetch';
import { verifyWebhook, type IncomingWebhookHeaders, type VerifyFailureReason } from '@aiprod/webhooks';
import { jobEvents, type JobEventsOptions, type JobStreamEvent } from './events';
import type { components, paths } from './schema';

export type { components, operations, paths, webhooks } from './schema';
export { ApiError, problemOf, unwrap, type Problem } from './problem';
export { isTerminalEvent, jobEvents, type JobEventsOptions, type JobStreamEvent } from './events';
export { verifyWebhook, type IncomingWebhookHeaders, type VerifyFailureReason };

type Schemas = components['schemas'];
export type Brief = Schemas['Brief'];
export type JobView = Schemas['JobView'];
export type JobList = Schemas['JobList'];
export type JobEstimate = Schemas['JobEstimate'];
export type Outputs = Schemas['Outputs'];
export type JobCosts = Schemas['JobCosts'];
export type AuditList = Schemas['AuditList'];
/** Every event the platform's webhooks send. */
export type WebhookEvent =
  | Schemas['JobDeliveredEvent']
  | Schemas['JobFailedEvent']
  | Schemas['JobCanceledEvent']
  | Schemas['JobAwaitingApprovalEvent'];

export interface AiprodClientOptions {
  /** The gateway, e.g. https://127.0.0.1:8443 (no trailing path). */
  baseUrl: string;
  /** An API key (aiprod_<env>_…) or an OIDC access token. */
  apiKey: string;
  /** The fetch to use (e.g. one that trusts a private CA); default: the global fetch. */
  fetch?: typeof fetch;
}

/** The typed API (openapi-fetch: `client.GET('/v1/jobs/{id}', { params: { path: { id } } })`) plus live events. */
export type AiprodClient = Client<paths> & {
  /** The job's timeline over Server-Sent Events, resuming with Last-Event-ID; see jobEvents. */
  jobEvents(jobId: string, options?: JobEventsOptions): AsyncGenerator<JobStreamEvent, void, undefined>;
};

export function createAiprodClient(options: AiprodClientOptions): AiprodClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const client = createFetchClient<paths>({
    baseUrl,
    headers: { Authorization: `Bearer ${options.apiKey}` },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  return Object.assign(client, {
    jobEvents: (jobId: string, eventOptions?: JobEventsOptions) =>
      jobEvents({ ...options, baseUrl }, jobId, eventOptions),
  });
}

/**
 * Checks a received webhook (Standard Webhooks signature and timestamp, against the exact body
 * bytes) and only then parses it. `secret` is the endpoint's whsec_… secret.
 */
export function verifyWebhookEvent(input: {
  headers: IncomingWebhookHeaders;
  body: string | Buffer;
  secret: string;
  toleranceSeconds?: number;
  now?: Date;
}): { ok: true; event: WebhookEvent } | { ok: false; reason: VerifyFailureReason } {
  const verdict = verifyWebhook(input);
  if (!verdict.ok) return verdict;
  const text = typeof input.body === 'string' ? input.body : input.body.toString('utf8');
  return { ok: true, event: JSON.parse(text) as WebhookEvent };
}
