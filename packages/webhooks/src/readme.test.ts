import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { generateWebhookSecret, signWebhook } from './index';

type ClientVerify = (
  rawBody: Buffer | string,
  headers: Record<string, string>,
  secret: string,
  toleranceSeconds?: number,
) => boolean;

/** The client snippet of README.md, run as a client would (CommonJS, only node:crypto). */
function loadSnippet(): ClientVerify {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const code = /<!-- client-snippet -->\s*```js\n([\s\S]*?)```/.exec(readme)?.[1];
  if (code === undefined) throw new Error('README.md has no client snippet');
  const context = { require, Buffer, Date, verify: undefined as unknown };
  runInNewContext(`${code}\nverify = verifyAiprodWebhook;`, context);
  return context.verify as ClientVerify;
}

describe('README client verification snippet', () => {
  const verify = loadSnippet();
  const body = JSON.stringify({ type: 'video.delivered', data: { jobId: 'job_7', title: 'Café ☕' } });
  const now = () => Math.floor(Date.now() / 1000);

  it('accepts our signatures, also while two secrets are valid', () => {
    const [oldSecret, newSecret] = [generateWebhookSecret(), generateWebhookSecret()];
    const headers = signWebhook({ id: 'msg_7', timestamp: now(), body, secrets: [oldSecret, newSecret] });
    expect(verify(body, headers, oldSecret)).toBe(true);
    expect(verify(Buffer.from(body), headers, newSecret)).toBe(true);
  });

  it('refuses tampering, a wrong secret and old messages', () => {
    const secret = generateWebhookSecret();
    const headers = signWebhook({ id: 'msg_7', timestamp: now(), body, secrets: [secret] });
    expect(verify(body.replace('job_7', 'job_8'), headers, secret)).toBe(false);
    expect(verify(body, { ...headers, 'webhook-id': 'msg_8' }, secret)).toBe(false);
    expect(verify(body, headers, generateWebhookSecret())).toBe(false);
    expect(verify(body, { ...headers, 'webhook-signature': 'v1,' }, secret)).toBe(false);
    const old = signWebhook({ id: 'msg_7', timestamp: now() - 600, body, secrets: [secret] });
    expect(verify(body, old, secret)).toBe(false);
    const { 'webhook-id': _dropped, ...missing } = headers;
    expect(verify(body, missing, secret)).toBe(false);
  });
});
