import { Type } from '@sinclair/typebox';
import { allOrNone, CommaList, envSchema, parseEnv } from '@aiprod/config';
import { SpeechEnvProperties } from '@aiprod/speech';
import {
  BackendsEnvProperties,
  CoreEnvProperties,
  LoopbackEnvProperties,
  StorageEnvProperties,
  StorageEnvRules,
} from '@aiprod/service-runtime';

export const GatewayEnv = envSchema(
  {
    ...CoreEnvProperties,
    ...StorageEnvProperties,
    ...BackendsEnvProperties,
    ...LoopbackEnvProperties,
    METRICS_PORT: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 65535,
        description:
          'Serve Prometheus metrics at /metrics on this port, on loopback only (the local platform). Unset on Cloud Run, where metrics are pushed to the collector sidecar; never on the public port, which serves only authenticated API calls and health checks.',
      }),
    ),
    REVIEW_LINK_SECRET: Type.Optional(
      Type.String({
        minLength: 32,
        description:
          'HMAC key (hex or base64, at least 32 bytes) that signs review links: a job page a client can share without an API key. Unset: no review links are made or accepted. Rotating it revokes every link.',
      }),
    ),
    TLS_CERT_FILE: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Serve HTTPS with this certificate (local platform). On Cloud Run TLS ends in front.',
      }),
    ),
    TLS_KEY_FILE: Type.Optional(Type.String({ minLength: 1, description: 'Private key of TLS_CERT_FILE.' })),
    OUTPUT_URL_TTL_SECONDS: Type.Integer({
      minimum: 60,
      maximum: 604800,
      default: 3600,
      description:
        'Lifetime of the signed output links the API returns. Default one hour: long enough to download a finished cut, short enough that a leaked link soon stops working (a client asks again for a fresh one).',
    }),
    // OIDC JWTs are accepted when issuer, audience and JWKS URL are all set (API keys always are).
    OIDC_ISSUER: Type.Optional(Type.String({ minLength: 1, description: 'Issuer (iss) of accepted OIDC tokens.' })),
    OIDC_AUDIENCE: Type.Optional(
      CommaList(Type.String({ minLength: 1 }), {
        description: 'Accepted audiences (aud), comma-separated; a token must name one of them.',
      }),
    ),
    OIDC_JWKS_URL: Type.Optional(
      Type.String({ pattern: '^https?://', description: "The issuer's signing keys (JWKS)." }),
    ),
    // Asymmetric only (no HS*, never none): a shared secret would let anyone holding it mint tokens.
    OIDC_ALGORITHMS: CommaList(Type.String({ pattern: '^((RS|PS|ES)(256|384|512)|EdDSA|Ed25519)$' }), {
      default: 'RS256,ES256',
      description:
        'Signature algorithms accepted, comma-separated, asymmetric only. Default RS256,ES256: what common identity providers sign their ID and access tokens with.',
    }),
    OIDC_CLOCK_TOLERANCE_SECONDS: Type.Integer({
      minimum: 0,
      maximum: 300,
      default: 30,
      description:
        "Allowed clock skew on exp/nbf/iat. Default 30 s: covers ordinary skew between the issuer's clock and ours without stretching a token's life noticeably.",
    }),
    OIDC_TENANT_CLAIM: Type.String({
      minLength: 1,
      default: 'aiprod_tenant',
      description:
        'Claim that names the tenant. Default aiprod_tenant: a namespaced custom claim that cannot collide with a standard one.',
    }),
    OIDC_SCOPE_CLAIM: Type.String({
      minLength: 1,
      default: 'scope',
      description:
        'Claim that holds the granted scopes. Default scope: the claim OAuth 2.0 access tokens carry scopes in (RFC 9068).',
    }),
    RATE_LIMIT_REQUESTS_PER_MINUTE: Type.Integer({
      minimum: 1,
      default: 600,
      description:
        'Requests per minute for a tenant whose document sets no limit. Default 600 (10 a second): far above what a brief-submitting client needs, low enough to stop a runaway loop (docs/decisions/2026-11-rate-limits-and-quotas.md).',
    }),
    AUTH_FAILURES_PER_MINUTE: Type.Integer({
      minimum: 1,
      default: 30,
      description:
        'Failed authentications one client address may cause per minute and instance before its requests get 429 (no database read). Default 30: a client with a wrong key notices long before, a key-guessing loop is stopped.',
    }),
    API_KEY_CACHE_SECONDS: Type.Integer({
      minimum: 0,
      maximum: 5,
      default: 5,
      description:
        'How long a gateway instance trusts an API key it verified before reading it again (0: every request). A revocation, or an expiry moved earlier by a rotation, reaches every instance within this; an expiry already on the key applies at once. Default and maximum 5: spares the key read on nearly every request, a revoked key stops within seconds, and tenant erasure waits 6 s after deleting the keys (docs/decisions/2026-12-gateway-round-trips.md).',
    }),
    TRUST_PROXY_HOPS: Type.Integer({
      minimum: 0,
      maximum: 5,
      default: 0,
      description:
        'Proxies in front of the gateway whose X-Forwarded-For entry gives the client address (0: the connecting address). Set it behind a load balancer, or every client shares one address. Default 0: trusting a header nobody in front of us wrote would let clients choose their address.',
    }),
    QUOTA_MAX_CONCURRENT_JOBS: Type.Integer({
      minimum: 0,
      default: 20,
      description:
        'Unfinished jobs a tenant without its own limit may have. Default 20: a busy team, while one tenant cannot fill every render pool.',
    }),
    QUOTA_MAX_JOBS_PER_DAY: Type.Integer({
      minimum: 0,
      default: 1000,
      description:
        'Jobs a tenant without its own limit may create per day. Default 1000: well above a studio day, a ceiling for a misbehaving integration.',
    }),
    QUOTA_MAX_ESTIMATES_PER_DAY: Type.Integer({
      minimum: 0,
      default: 500,
      description:
        'Estimates (POST /v1/estimates) a tenant without its own limit may ask for per UTC day. Each costs a director call (Gemini in production). Default 500: several quotes per job a studio makes in a day, a ceiling for a loop that would otherwise spend a director call on every request the rate limit lets through.',
    }),
    QUOTA_MONTHLY_SPEND_CAP_USD: Type.Optional(
      Type.Number({
        minimum: 0,
        description: 'Monthly spend cap for tenants without their own; absent: no default cap.',
      }),
    ),
    SPEECH_ENGINE: SpeechEnvProperties.SPEECH_ENGINE,
    PLANNER_TRANSLATOR: Type.Union([Type.Literal('none'), Type.Literal('gemini')], {
      default: 'none',
      description:
        "The planner's translator, set to the planner's own value: with `none`, a brief's further language must come with the brief's words in it (translations), or POST /v1/jobs and /v1/estimates answer 400 naming the field. Default none: the planner's own default, so a gateway and planner left unset agree.",
    }),
    ESTIMATE_WAIT_MS: Type.Integer({
      minimum: 0,
      maximum: 60_000,
      default: 10_000,
      description:
        "How long POST /v1/estimates waits for the planner's estimate before answering 202 with the estimate's URL to poll. Default 10 s: the local director answers in milliseconds and Gemini usually within seconds, so most clients get the estimate in one call, and a slow plan never holds a connection for long.",
    }),
    IDEMPOTENCY_TTL_HOURS: Type.Integer({
      minimum: 1,
      maximum: 720,
      default: 24,
      description:
        'How long an Idempotency-Key answers with its first response. Default 24 h: covers client retries across a day, as common payment APIs do (docs/decisions/2026-12-idempotent-job-creation.md).',
    }),
    CORS_ALLOWED_ORIGINS: Type.Optional(
      CommaList(Type.String({ minLength: 1 }), {
        description:
          'Comma-separated browser origins allowed to call /v1 (e.g. https://app.example.com). Unset: no CORS.',
      }),
    ),
    WEBHOOK_SECRET_OVERLAP_SECONDS: Type.Integer({
      minimum: 60,
      maximum: 30 * 24 * 3600,
      default: 24 * 3600,
      description:
        'After a webhook secret rotation, how long the previous secret keeps signing too. Default one day: time for a tenant to deploy the new secret to its receiver.',
    }),
    SSE_MAX_STREAMS: Type.Integer({
      minimum: 1,
      maximum: 100000,
      default: 1000,
      description:
        "Concurrent event streams one gateway process serves (one Firestore listener each). Default 1000: bounds one instance's memory and listeners well below what it can hold, while Cloud Run adds instances for more.",
    }),
    SSE_MAX_SECONDS: Type.Integer({
      minimum: 10,
      maximum: 24 * 3600,
      default: 3600,
      description:
        "An event stream is closed after this long; clients resume with Last-Event-ID. Default one hour: the longest request Cloud Run allows (the Terraform module's request_timeout_seconds matches it), so few reconnects without the front end cutting a stream.",
    }),
  },
  [
    ...StorageEnvRules,
    allOrNone('OIDC_ISSUER', 'OIDC_AUDIENCE', 'OIDC_JWKS_URL'),
    allOrNone('TLS_CERT_FILE', 'TLS_KEY_FILE'),
  ],
);
export type GatewayEnv = ReturnType<typeof loadEnv>;
export const loadEnv = (env: NodeJS.ProcessEnv = process.env) => parseEnv(GatewayEnv, env);
