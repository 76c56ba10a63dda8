import { isSensitiveKey, redact, REDACTED, redactString } from './redact';

describe('redactString', () => {
  it.each([
    ['Bearer token', 'auth failed for Authorization: Bearer abc.def-ghi_TOKEN123 on /v1/jobs', 'abc.def-ghi_TOKEN123'],
    ['API key', 'key aiprod_live_A1b2C3d4E5f6G7h8I9j0K1l2 rejected', 'A1b2C3d4E5f6G7h8I9j0K1l2'],
    [
      'JWT',
      'id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.sflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c ok',
      'sflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
    ],
    ['webhook secret', 'using whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw now', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    [
      'GCS signed URL',
      'download https://storage.googleapis.com/b/o.mp4?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=signer%40p.iam%2F20250101&X-Goog-Signature=deadbeefcafe0123 failed',
      'deadbeefcafe0123',
    ],
    ['local signed URL', 'GET /files/a/b.mp4?expires=1700000000&sig=SIGSECRETVALUE123 403', 'SIGSECRETVALUE123'],
    [
      'Google API key param',
      'https://generativelanguage.googleapis.com/v1/models?key=AIzaSyFAKEFAKE123',
      'AIzaSyFAKEFAKE123',
    ],
    ['userinfo password', 'connect postgres://app:dbPassw0rd@db:5432/aiprod', 'dbPassw0rd'],
    [
      'PEM block',
      'k=-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY----- end',
      'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC',
    ],
    ['truncated PEM', '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAtruncatedKEY', 'MIIEowIBAAKCAQEAtruncatedKEY'],
    ['Basic credential', 'headers: {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}', 'dXNlcjpwYXNzd29yZA=='],
    ['password=', 'login with password=hunter2xyz failed', 'hunter2xyz'],
    ['JSON body', 'upstream said {"client_secret":"cs-value-1","ok":false}', 'cs-value-1'],
  ])('removes a %s', (_kind, input, secret) => {
    expect(input).toContain(secret);
    const out = redactString(input);
    expect(out).not.toContain(secret);
    expect(out).toContain('REDACTED');
  });

  it('keeps what is not secret, and the shape of what was', () => {
    expect(redactString('https://storage.googleapis.com/b/o.mp4?X-Goog-Signature=ab')).toBe(
      `https://storage.googleapis.com/b/o.mp4?${REDACTED}`,
    );
    expect(redactString('aiprod_test_0123456789abcdefghijKLMN')).toBe(`aiprod_test_${REDACTED}`);
    const harmless = 'rendered tenants/t1/jobs/j1/shots/s01/attempt-1.mp4?v=2 in 3.2s (why? tokens: 512)';
    expect(redactString(harmless)).toBe(harmless);
  });

  it('is idempotent', () => {
    const once = redactString('Bearer abcdefgh password: x https://h/p?sig=1 whsec_abc');
    expect(redactString(once)).toBe(once);
  });
});

describe('isSensitiveKey', () => {
  it.each([
    'authorization',
    'Authorization',
    'apiKey',
    'api_key',
    'x-api-key',
    'X-API-KEY',
    'token',
    'accessToken',
    'refresh_token',
    'secret',
    'clientSecret',
    'password',
    'dbPassword',
    'signingKey',
    'privateKey',
    'private_key',
    'cookie',
    'Set-Cookie',
  ])('%s is sensitive', (key) => expect(isSensitiveKey(key)).toBe(true));

  it.each(['key', 'jobId', 'maxTokens', 'tokenCount', 'apiKeyId', 'keyFromUri', 'signedUrlExpires', 'private_key_id'])(
    '%s is not',
    (key) => expect(isSensitiveKey(key)).toBe(false),
  );
});

describe('redact', () => {
  it('replaces values under sensitive keys at any depth, in arrays and maps too', () => {
    const input = {
      jobId: 'j1',
      key: 'tenants/t1/a.mp4',
      headers: { Authorization: 'Basic dXNlcjpwYXNz', 'x-api-key': 'k-123', Cookie: 's=1', accept: 'json' },
      list: [{ password: 'p1' }, { nested: { deeper: { signingKey: Buffer.from('sk') } } }],
      map: new Map<string, unknown>([
        ['apiKey', 'mk-1'],
        ['ok', 1],
      ]),
      absent: { authorization: undefined, token: null },
    };
    expect(redact(input)).toEqual({
      jobId: 'j1',
      key: 'tenants/t1/a.mp4',
      headers: { Authorization: REDACTED, 'x-api-key': REDACTED, Cookie: REDACTED, accept: 'json' },
      list: [{ password: REDACTED }, { nested: { deeper: { signingKey: REDACTED } } }],
      map: { apiKey: REDACTED, ok: 1 },
      absent: { authorization: undefined, token: null },
    });
    expect(input.headers.Authorization).toBe('Basic dXNlcjpwYXNz'); // the input is not mutated
  });

  it('survives cycles, keeps shared references, and makes output JSON-safe', () => {
    const shared = { n: 1 };
    const a: Record<string, unknown> = { shared, again: shared, big: 10n, when: new Date(0), bytes: Buffer.alloc(4) };
    a.self = a;
    a.list = [a];
    const out = redact(a) as Record<string, unknown>;
    expect(out).toEqual({
      shared: { n: 1 },
      again: { n: 1 },
      big: '10',
      when: '1970-01-01T00:00:00.000Z',
      bytes: '[Binary 4 bytes]',
      self: '[Circular]',
      list: ['[Circular]'],
    });
    expect(() => JSON.stringify(out)).not.toThrow();
  });

  it('serialises errors with name, message, stack, own fields and cause, all redacted', () => {
    const cause = new Error('upstream 401 for Bearer inner-secret-token');
    const err = Object.assign(new TypeError('call with aiprod_prod_ZZZZZZZZZZZZZZZZZZZZZZZZ failed', { cause }), {
      code: 'E_AUTH',
      apiKey: 'own-field-key',
    });
    const out = redact(err) as Record<string, unknown>;
    expect(out).toMatchObject({ name: 'TypeError', code: 'E_AUTH', apiKey: REDACTED });
    expect(out.message).toBe(`call with aiprod_prod_${REDACTED} failed`);
    expect(out.stack).toEqual(expect.stringContaining('TypeError: call with aiprod_prod_[REDACTED] failed'));
    expect(JSON.stringify(out)).not.toMatch(/ZZZZZZZZZZ|inner-secret-token|own-field-key/);
    expect((out.cause as Record<string, unknown>).message).toBe(`upstream 401 for Bearer ${REDACTED}`);
  });

  it('never throws, even on hostile objects', () => {
    const hostile = {
      get boom(): string {
        throw new Error('getter exploded');
      },
      toJSONish: 1,
    };
    expect(redact(hostile)).toEqual({ boom: '[Unreadable]', toJSONish: 1 });
    const deep: Record<string, unknown> = {};
    let cursor = deep;
    for (let i = 0; i < 50; i++) cursor = (cursor.next = {}) as Record<string, unknown>;
    expect(JSON.stringify(redact(deep))).toContain('[Truncated]');
  });
});
