import { Type } from '@sinclair/typebox';
import { parseEnv } from '@aiprod/config';
import { CoreEnvProperties, StorageEnvProperties } from '@aiprod/service-runtime';

export const GatewayEnv = Type.Object({
  ...CoreEnvProperties,
  ...StorageEnvProperties,
  TLS_CERT_FILE: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'Serve HTTPS with this certificate (local platform). On Cloud Run TLS ends in front.',
    }),
  ),
  TLS_KEY_FILE: Type.Optional(Type.String({ minLength: 1 })),
  OUTPUT_URL_TTL_SECONDS: Type.Integer({ minimum: 60, maximum: 604800, default: 3600 }),
  // OIDC JWTs are accepted when issuer, audience and JWKS URL are all set (API keys always are).
  OIDC_ISSUER: Type.Optional(Type.String({ minLength: 1 })),
  OIDC_AUDIENCE: Type.Optional(
    Type.String({ minLength: 1, description: 'one audience, or several separated by commas' }),
  ),
  OIDC_JWKS_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  OIDC_ALGORITHMS: Type.String({ pattern: '^[A-Za-z0-9]+(,[A-Za-z0-9]+)*$', default: 'RS256,ES256' }),
  OIDC_CLOCK_TOLERANCE_SECONDS: Type.Integer({ minimum: 0, maximum: 300, default: 30 }),
  OIDC_TENANT_CLAIM: Type.String({ minLength: 1, default: 'aiprod_tenant' }),
  OIDC_SCOPE_CLAIM: Type.String({ minLength: 1, default: 'scope' }),
  // Defaults for tenants whose document does not set their own limits.
  RATE_LIMIT_REQUESTS_PER_MINUTE: Type.Integer({ minimum: 1, default: 600 }),
  AUTH_FAILURES_PER_MINUTE: Type.Integer({
    minimum: 1,
    default: 30,
    description:
      'Failed authentications one client address may cause per minute and instance before its requests get 429 (no database read).',
  }),
  TRUST_PROXY_HOPS: Type.Integer({
    minimum: 0,
    maximum: 5,
    default: 0,
    description:
      'Proxies in front of the gateway whose X-Forwarded-For entry gives the client address (0: the connecting address). Set it behind a load balancer, or every client shares one address.',
  }),
  QUOTA_MAX_CONCURRENT_JOBS: Type.Integer({ minimum: 0, default: 20 }),
  QUOTA_MAX_JOBS_PER_DAY: Type.Integer({ minimum: 0, default: 1000 }),
  QUOTA_MONTHLY_SPEND_CAP_USD: Type.Optional(Type.Number({ minimum: 0, description: 'absent: no default cap' })),
  IDEMPOTENCY_TTL_HOURS: Type.Integer({ minimum: 1, maximum: 720, default: 24 }),
  CORS_ALLOWED_ORIGINS: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'Comma-separated browser origins allowed to call /v1 (e.g. https://app.example.com). Unset: no CORS.',
    }),
  ),
  ALLOW_LOOPBACK_HTTP: Type.Boolean({
    default: false,
    description: 'Local platform only: accept plain-http webhook URLs that resolve to loopback.',
  }),
  WEBHOOK_SECRET_OVERLAP_SECONDS: Type.Integer({
    minimum: 60,
    maximum: 30 * 24 * 3600,
    default: 24 * 3600,
    description: 'After a webhook secret rotation, how long the previous secret keeps signing too.',
  }),
  SSE_MAX_STREAMS: Type.Integer({
    minimum: 1,
    maximum: 100000,
    default: 1000,
    description: 'Concurrent event streams one gateway process serves (one Firestore listener each).',
  }),
  SSE_MAX_SECONDS: Type.Integer({
    minimum: 10,
    maximum: 24 * 3600,
    default: 3600,
    description: 'An event stream is closed after this long; clients resume with Last-Event-ID.',
  }),
  ENABLED_BACKENDS: Type.String({
    default: 'local',
    pattern: '^(runway|veo|replicate|local)(,(runway|veo|replicate|local))*$',
    description: "The render pools this deployment runs (the planner's PLANNER_BACKENDS); estimates price only these.",
  }),
});
export type GatewayEnv = ReturnType<typeof loadEnv>;
export const loadEnv = (env: NodeJS.ProcessEnv = process.env) => parseEnv(GatewayEnv, env);
