import { createHmac } from 'node:crypto';
import { generateWebhookSecret, signWebhook, verifyWebhook } from './index';

const NOW = 1_800_000_000;
const body = JSON.stringify({ type: 'video.delivered', data: { jobId: 'job_123', url: 'https://cdn.example/v.mp4' } });

describe('generateWebhookSecret', () => {
  it('makes whsec_ + base64 of 32 random bytes, different every time', () => {
    const a = generateWebhookSecret();
    const b = generateWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(a.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(a).not.toBe(b);
  });
});

describe('signWebhook / verifyWebhook', () => {
  const secret = generateWebhookSecret();
  const sign = (over: Partial<Parameters<typeof signWebhook>[0]> = {}) =>
    signWebhook({ id: 'msg_1', timestamp: NOW, body, secrets: [secret], ...over });

  it('matches the Standard Webhooks / Svix published example, and a plain node:crypto HMAC', () => {
    const example = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const headers = signWebhook({
      id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      timestamp: 1614265330,
      body: '{"test": 2432232314}',
      secrets: [example],
    });
    expect(headers['webhook-signature']).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const mine = createHmac('sha256', key).update(`msg_1.${NOW}.${body}`).digest('base64');
    expect(sign()['webhook-signature']).toBe(`v1,${mine}`);
  });

  it('returns exactly the three headers and round-trips', () => {
    const headers = sign();
    expect(Object.keys(headers).sort()).toEqual(['webhook-id', 'webhook-signature', 'webhook-timestamp']);
    expect(headers['webhook-id']).toBe('msg_1');
    expect(headers['webhook-timestamp']).toBe(String(NOW));
    expect(verifyWebhook({ headers, body, secret, now: NOW })).toEqual({ ok: true });
    expect(verifyWebhook({ headers, body: Buffer.from(body), secret, now: new Date(NOW * 1000) })).toEqual({
      ok: true,
    });
  });

  it('reads headers case-insensitively from plain objects, arrays and fetch Headers', () => {
    const headers = sign();
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), [v]]));
    expect(verifyWebhook({ headers: upper, body, secret, now: NOW })).toEqual({ ok: true });
    expect(verifyWebhook({ headers: new Headers(headers), body, secret, now: NOW })).toEqual({ ok: true });
  });

  it.each([
    ['body', { body: body.replace('job_123', 'job_124') }],
    ['body (trailing newline)', { body: body + '\n' }],
    ['id', { headers: { 'webhook-id': 'msg_2' } }],
    ['timestamp (one second later)', { headers: { 'webhook-timestamp': String(NOW + 1) } }],
    ['secret', { secret: generateWebhookSecret() }],
  ])('refuses a tampered %s as bad_signature', (_what, change) => {
    const headers = { ...sign(), ...('headers' in change ? change.headers : {}) };
    const input = { headers, body, secret, now: NOW, ...('body' in change && { body: change.body }) };
    if ('secret' in change) input.secret = change.secret;
    expect(verifyWebhook(input)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses signatures that are truncated, of another version, or empty', () => {
    const good = sign()['webhook-signature'];
    for (const signature of [good.slice(0, -2), good.replace('v1,', 'v2,'), 'v1,', 'v1', ' ', good.slice(3)]) {
      const headers = { ...sign(), 'webhook-signature': signature };
      expect(verifyWebhook({ headers, body, secret, now: NOW })).toEqual({ ok: false, reason: 'bad_signature' });
    }
  });

  it('checks the timestamp window either side of now (default 5 minutes)', () => {
    const at = (timestamp: number, toleranceSeconds?: number) =>
      verifyWebhook({ headers: sign({ timestamp }), body, secret, now: NOW, toleranceSeconds });
    expect(at(NOW - 300)).toEqual({ ok: true });
    expect(at(NOW - 301)).toEqual({ ok: false, reason: 'timestamp_too_old' });
    expect(at(NOW - 86_400)).toEqual({ ok: false, reason: 'timestamp_too_old' });
    expect(at(NOW + 300)).toEqual({ ok: true });
    expect(at(NOW + 301)).toEqual({ ok: false, reason: 'timestamp_in_future' });
    expect(at(NOW - 3000, 3600)).toEqual({ ok: true });
    // Without `now`, the real clock is used.
    const fresh = sign({ timestamp: Math.floor(Date.now() / 1000) });
    expect(verifyWebhook({ headers: fresh, body, secret })).toEqual({ ok: true });
    expect(verifyWebhook({ headers: sign(), body, secret })).toEqual({ ok: false, reason: 'timestamp_in_future' });
  });

  it('reports missing or malformed headers', () => {
    const full = sign();
    for (const name of Object.keys(full) as (keyof typeof full)[]) {
      const headers: Record<string, string> = { ...full };
      delete headers[name];
      expect(verifyWebhook({ headers, body, secret, now: NOW })).toEqual({ ok: false, reason: 'missing_headers' });
    }
    for (const timestamp of ['', 'abc', '1800000000.5', '-1800000000', '1800000000abc']) {
      const headers = { ...full, 'webhook-timestamp': timestamp };
      expect(verifyWebhook({ headers, body, secret, now: NOW })).toEqual({ ok: false, reason: 'missing_headers' });
    }
  });

  it('signs with every valid secret during a rotation; a verifier holding either one accepts', () => {
    const oldSecret = generateWebhookSecret();
    const newSecret = generateWebhookSecret();
    const headers = signWebhook({ id: 'msg_rot', timestamp: NOW, body, secrets: [oldSecret, newSecret] });
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(verifyWebhook({ headers, body, secret: oldSecret, now: NOW })).toEqual({ ok: true });
    expect(verifyWebhook({ headers, body, secret: newSecret, now: NOW })).toEqual({ ok: true });
    const stranger = generateWebhookSecret();
    expect(verifyWebhook({ headers, body, secret: stranger, now: NOW })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('refuses malformed secrets and inputs without echoing the secret', () => {
    const tooShort = 'whsec_' + Buffer.alloc(16, 7).toString('base64');
    const tooLong = 'whsec_' + Buffer.alloc(65, 7).toString('base64');
    const noPrefix = secret.slice('whsec_'.length);
    for (const bad of [tooShort, tooLong, noPrefix, 'whsec_not base64!', 'whsec_']) {
      expect(() => signWebhook({ id: 'msg_1', timestamp: NOW, body, secrets: [bad] })).toThrow(TypeError);
      expect(() => verifyWebhook({ headers: sign(), body, secret: bad, now: NOW })).toThrow(TypeError);
      try {
        signWebhook({ id: 'msg_1', timestamp: NOW, body, secrets: [bad] });
      } catch (error) {
        if (bad.length > 8) expect((error as Error).message).not.toContain(bad.slice(6));
      }
    }
    expect(() => signWebhook({ id: 'msg_1', timestamp: NOW, body, secrets: [] })).toThrow(TypeError);
    expect(() => signWebhook({ id: 'msg 1', timestamp: NOW, body, secrets: [secret] })).toThrow(TypeError);
    expect(() => signWebhook({ id: '', timestamp: NOW, body, secrets: [secret] })).toThrow(TypeError);
    expect(() => signWebhook({ id: 'msg_1', timestamp: NOW / 7, body, secrets: [secret] })).toThrow(TypeError);
    // 24 and 64 bytes are the bounds of the spec and both work.
    for (const size of [24, 64]) {
      const edge = 'whsec_' + Buffer.alloc(size, 1).toString('base64');
      const headers = signWebhook({ id: 'msg_1', timestamp: NOW, body, secrets: [edge] });
      expect(verifyWebhook({ headers, body, secret: edge, now: NOW })).toEqual({ ok: true });
    }
  });
});
