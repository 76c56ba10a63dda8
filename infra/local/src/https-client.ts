import { request } from 'node:https';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';

/** One API call to the local gateway. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Downloading a delivered file from the local store. */
const DOWNLOAD_TIMEOUT_MS = 60_000;

export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A small HTTPS client that trusts the local platform's certificate (fetch cannot take a CA). */
export function httpsJson(
  url: string,
  options: {
    method?: string;
    ca: string;
    apiKey?: string;
    body?: unknown;
    timeoutMs?: number;
    headers?: Record<string, string>;
  },
): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    // A Buffer is sent as it is (an upload; the caller names its content-type), anything else as JSON.
    const raw = Buffer.isBuffer(options.body);
    const payload =
      options.body === undefined ? undefined : raw ? (options.body as Buffer) : JSON.stringify(options.body);
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        ca: options.ca,
        timeout: options.timeoutMs ?? REQUEST_TIMEOUT_MS,
        headers: {
          accept: 'application/json',
          ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
          ...(payload
            ? {
                ...(raw ? {} : { 'content-type': 'application/json' }),
                'content-length': String(Buffer.byteLength(payload)),
              }
            : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to ${new URL(url).pathname} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Downloads a URL to a file, trusting the given CA. */
export function httpsDownload(url: string, file: string, ca: string, timeoutMs = DOWNLOAD_TIMEOUT_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: timeoutMs }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`download failed with HTTP ${res.statusCode}`));
        return;
      }
      pipeline(res, createWriteStream(file)).then(resolve, reject);
    });
    req.on('timeout', () => req.destroy(new Error('download timed out')));
    req.on('error', reject);
    req.end();
  });
}
