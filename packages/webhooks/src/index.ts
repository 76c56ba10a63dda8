export {
  assertValidWebhookSecret,
  DEFAULT_TOLERANCE_SECONDS,
  generateWebhookSecret,
  signWebhook,
  verifyWebhook,
  WEBHOOK_SECRET_BYTES,
  WEBHOOK_SECRET_PREFIX,
} from './signing';
export type { IncomingWebhookHeaders, VerifyFailureReason, VerifyResult, WebhookHeaders } from './signing';
export { assertSafeWebhookUrl, classifyAddress, defaultResolve, UnsafeWebhookUrlError } from './ssrf';
export type { ResolveHost, SafeWebhookUrl, SafeWebhookUrlOptions, UnsafeWebhookUrlReason } from './ssrf';
export { MAX_RESPONSE_BYTES, parseRetryAfter, sendWebhook, USER_AGENT } from './sender';
export type { SendWebhookInput, SendWebhookResult } from './sender';
export {
  classifyWebhookResponse,
  delayFor,
  MAX_ATTEMPTS,
  MAX_RETRY_AFTER_SECONDS,
  nextAttemptDelaySeconds,
  RETRY_SCHEDULE_SECONDS,
  RETRY_SPAN_SECONDS,
} from './retry';
export type { WebhookOutcome } from './retry';
export { fetchPublicFile, PublicFetchError } from './fetch-public';
export { redactInternalNames } from './client-text';
export { WEBHOOK_EVENT_TYPES, type JobAwaitingApprovalData, type WebhookEventType } from './events';
