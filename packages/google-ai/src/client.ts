import { GoogleGenAI, type GoogleGenAIOptions, type HttpOptions } from '@google/genai';
import { OAuth2Client } from 'google-auth-library';

/** Google access tokens live an hour. */
const ACCESS_TOKEN_LIFETIME_MS = 3_600_000;

export type GoogleAuthOptions = NonNullable<GoogleGenAIOptions['googleAuthOptions']>;

interface CommonClientOptions {
  /** The endpoint; tests point it at a local protocol server. Default: the SDK's own. */
  baseUrl?: string;
  /** Bound on each HTTP call the SDK makes. Default: the SDK's (none). */
  requestTimeoutMs?: number;
}

/** Vertex AI in a project and region. Without `googleAuthOptions`, application-default
 *  credentials (the service account on Cloud Run). */
export interface VertexClientOptions extends CommonClientOptions {
  project: string;
  location: string;
  googleAuthOptions?: GoogleAuthOptions;
}

/** The Gemini Developer API, with an API key. */
export interface ApiKeyClientOptions extends CommonClientOptions {
  apiKey: string;
}

export type GoogleAiClientOptions = VertexClientOptions | ApiKeyClientOptions;

/**
 * Auth options holding one access token minted elsewhere (or a test's fixed one): the SDK then
 * asks this client for headers and never looks for application-default credentials.
 */
export function accessTokenAuth(
  token: string,
  expiresAt = Date.now() + ACCESS_TOKEN_LIFETIME_MS,
): GoogleAuthOptions & { authClient: OAuth2Client } {
  const client = new OAuth2Client();
  client.setCredentials({ access_token: token, expiry_date: expiresAt });
  return { authClient: client };
}

/** One `@google/genai` client, for Vertex AI or for an API key. */
export function createGoogleAiClient(options: GoogleAiClientOptions): GoogleGenAI {
  const httpOptions: HttpOptions = {
    ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
    // No retryOptions: @google/genai (2.32 and 3.x) retries (through p-retry) only when they are
    // given, and retries belong to our callers, which see every failure and the vendor's
    // Retry-After. `{ attempts: 1 }` is not the same: it still routes errors through p-retry,
    // which rewraps errors from another realm (jest's vm) as "Non-error was thrown".
    ...(options.requestTimeoutMs !== undefined ? { timeout: options.requestTimeoutMs } : {}),
  };
  const http = Object.keys(httpOptions).length ? { httpOptions } : {};
  if ('apiKey' in options) {
    if (!options.apiKey) throw new Error('google-ai: the API key is empty');
    return new GoogleGenAI({ apiKey: options.apiKey, ...http });
  }
  if (!options.project) throw new Error('google-ai: Vertex AI needs a Google Cloud project');
  if (!options.location) throw new Error('google-ai: Vertex AI needs a location');
  return new GoogleGenAI({
    vertexai: true,
    project: options.project,
    location: options.location,
    ...(options.googleAuthOptions ? { googleAuthOptions: options.googleAuthOptions } : {}),
    ...http,
  });
}

/** What the HTTP exchange of one SDK call looked like: the SDK's ApiError drops the headers. */
export interface HttpExchange {
  status?: number;
  retryAfter?: string | null;
}

/**
 * Per-call HTTP options whose fetch records the status and Retry-After into `exchange` and also
 * obeys `signal` (some SDK calls, like getVideosOperation, take no abortSignal). Global fetch
 * also sidesteps the SDK's default undici dispatcher, which it looks up on globalThis, missing in
 * some sandboxes (jest's vm).
 */
export function observedHttp(
  exchange: HttpExchange,
  options: { signal?: AbortSignal; onStatus?: (status: number) => void } = {},
): HttpOptions {
  return {
    fetch: async (url, init) => {
      const signals = [init?.signal, options.signal].filter((s): s is AbortSignal => !!s);
      const res = await fetch(url, { ...init, ...(signals.length ? { signal: AbortSignal.any(signals) } : {}) });
      exchange.status = res.status;
      exchange.retryAfter = res.headers.get('retry-after');
      options.onStatus?.(res.status);
      return res;
    },
  };
}
