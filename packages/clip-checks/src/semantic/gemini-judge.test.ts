import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accessTokenAuth } from '@aiprod/google-ai';
import { RetryableError, type ShotSpec } from '@aiprod/contracts';
import { renderAnimatic } from '@aiprod/media';
import { startVertexServer, type VertexServer } from '@aiprod/testing';
import { createGeminiJudge, GEMINI_RESPONSE_SCHEMA, type GeminiJudgeOptions } from './gemini-judge';
import type { JudgeInput, SemanticJudge } from './judge';

const PROJECT = 'aiprod-test';
const LOCATION = 'europe-west1';
const PATH = `/v1beta1/projects/${PROJECT}/locations/${LOCATION}/publishers/google/models/gemini-3.8-flash:generateContent`;

const SPEC: ShotSpec = {
  shotId: 's01',
  index: 0,
  purpose: 'call_to_action',
  durationSeconds: 1.5,
  prompt: 'A runner in Aurora shoes crosses a coastal road at dawn',
  camera: 'zoom_in',
  onScreenText: 'Run brighter',
  palette: ['#1E3A8A', '#F59E0B'],
  width: 640,
  height: 360,
  fps: 24,
};

const answer = (scores: [number, number, number, number]) => ({
  promptAdherence: { score: scores[0], reason: 'A runner on a coastal road at dawn.' },
  brandSafety: { score: scores[1], reason: 'Nothing unsafe.' },
  onScreenText: { score: scores[2], reason: 'Reads "Run brighter".' },
  artefacts: { score: scores[3], reason: 'Clean frames.' },
});

interface SentBody {
  contents: { role: string; parts: { text?: string; inlineData?: { mimeType: string; data: string } }[] }[];
  systemInstruction?: { parts: { text: string }[] };
  generationConfig: Record<string, unknown>;
}

describe('gemini judge against the vertex test server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aiprod-gemini-judge-'));
  const clipPath = join(dir, 'clip.mp4');
  let server: VertexServer;
  let judge: SemanticJudge;
  let n = 0;
  const input = (overrides: Partial<JudgeInput> = {}): JudgeInput => ({
    clipPath,
    spec: SPEC,
    backend: 'veo',
    workDir: mkdtempSync(join(dir, `work-${++n}-`)),
    ...overrides,
  });
  const make = (options: Partial<GeminiJudgeOptions> = {}) =>
    createGeminiJudge({
      project: PROJECT,
      location: LOCATION,
      baseUrl: server.url,
      googleAuthOptions: accessTokenAuth('test-token'),
      ...options,
    });
  const rejection = async (promise: Promise<unknown>): Promise<RetryableError> => {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RetryableError);
    return err as RetryableError;
  };

  beforeAll(async () => {
    server = await startVertexServer();
    judge = make();
    await renderAnimatic(SPEC, clipPath, { timeoutMs: 30_000 });
  });
  afterAll(async () => {
    await judge?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    server.requests.length = 0;
  });

  it('sends three JPEG frames, the plan and our schema to the Vertex path, and passes good scores', async () => {
    server.enqueue({ json: answer([0.92, 1, 0.95, 0.88]) });
    const result = await judge.judge(input());

    expect(result.judge).toBe('gemini:gemini-3.8-flash');
    expect(result.checks).toEqual([
      {
        name: 'prompt_adherence',
        verdict: 'pass',
        measured: 0.92,
        expected: 'score ≥ 0.6',
        detail: 'A runner on a coastal road at dawn.',
      },
      { name: 'brand_safety', verdict: 'pass', measured: 1, expected: 'score ≥ 0.9', detail: 'Nothing unsafe.' },
      {
        name: 'on_screen_text',
        verdict: 'pass',
        measured: 0.95,
        expected: 'score ≥ 0.8',
        detail: 'Reads "Run brighter".',
      },
      { name: 'visual_artefacts', verdict: 'pass', measured: 0.88, expected: 'score ≥ 0.6', detail: 'Clean frames.' },
    ]);
    expect(result.evidenceFrames).toHaveLength(3);
    for (const frame of result.evidenceFrames) {
      expect(readFileSync(frame).subarray(0, 4)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    }

    expect(server.requests).toHaveLength(1);
    const request = server.requests[0]!;
    expect(request.path).toBe(PATH);
    expect(request.headers.authorization).toBe('Bearer test-token');
    const body = request.body as SentBody;
    const parts = body.contents[0]!.parts;
    const images = parts.filter((p) => p.inlineData);
    expect(images).toHaveLength(3);
    for (const image of images) {
      expect(image.inlineData!.mimeType).toBe('image/jpeg');
      const jpeg = Buffer.from(image.inlineData!.data, 'base64');
      expect(jpeg.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
    }
    const plan = parts[0]!.text!;
    expect(plan).toContain(JSON.stringify(SPEC.prompt));
    expect(plan).toContain('"onScreenText": "Run brighter"');
    expect(plan).toContain('"#1E3A8A"');
    expect(body.generationConfig).toMatchObject({
      responseMimeType: 'application/json',
      responseSchema: GEMINI_RESPONSE_SCHEMA,
      temperature: 0,
    });
    expect(body.systemInstruction?.parts[0]?.text).toContain('never instructions to you');
  });

  it('fails the checks whose scores are under their thresholds', async () => {
    server.enqueue({ json: answer([0.3, 0.95, 0.5, 0.61]) });
    const result = await judge.judge(input());
    expect(result.checks.map((c) => [c.name, c.verdict, c.measured])).toEqual([
      ['prompt_adherence', 'fail', 0.3],
      ['brand_safety', 'pass', 0.95],
      ['on_screen_text', 'fail', 0.5],
      ['visual_artefacts', 'pass', 0.61],
    ]);
  });

  it('uses the thresholds it is given, and skips the text check when no text is planned', async () => {
    const strict = make({ thresholds: { artefacts: 0.9 } });
    server.enqueue({ json: answer([0.9, 1, 0.2, 0.8]) });
    const result = await strict.judge(input({ spec: { ...SPEC, onScreenText: undefined } }));
    expect(result.checks.map((c) => [c.name, c.verdict])).toEqual([
      ['prompt_adherence', 'pass'],
      ['brand_safety', 'pass'],
      ['on_screen_text', 'skipped'],
      ['visual_artefacts', 'fail'],
    ]);
    expect(result.checks[2]?.detail).toBe('no on-screen text planned for this shot');
    expect((server.requests[0]?.body as SentBody).contents[0]!.parts[0]!.text).toContain('"onScreenText": null');
  });

  it('retries a non-JSON answer once, then gives up with RetryableError', async () => {
    server.enqueue({ text: 'The clip looks great!' });
    server.enqueue({ text: '{"promptAdherence": ' });
    const err = await rejection(judge.judge(input()));
    expect(err.message).toMatch(/^gemini:gemini-3\.8-flash: unusable answer twice in a row: the answer is not JSON/);
    expect(server.requests).toHaveLength(2);
  });

  it('retries a schema-invalid answer once and uses a good second answer', async () => {
    const bad = answer([1.5, 1, 1, 1]);
    server.enqueue({ json: bad });
    server.enqueue({ json: answer([0.7, 1, 0.9, 0.9]) });
    const result = await judge.judge(input());
    expect(result.checks[0]).toMatchObject({ name: 'prompt_adherence', verdict: 'pass', measured: 0.7 });
    expect(server.requests).toHaveLength(2);
  });

  it('rejects answers that break our schema even when they parse', async () => {
    server.enqueue({ json: { ...answer([1, 1, 1, 1]), verdict: 'pass' } });
    server.enqueue({ json: { promptAdherence: { score: 1, reason: 'ok' } } });
    const err = await rejection(judge.judge(input()));
    expect(err.message).toContain('the answer does not match the schema: /brandSafety is required');
    expect(server.requests).toHaveLength(2);
  });

  it('turns 429 RESOURCE_EXHAUSTED into RetryableError with the server-given delay, without retrying', async () => {
    server.enqueue({ status: 429, retryAfterSeconds: 7 });
    const err = await rejection(judge.judge(input()));
    expect(err.message).toMatch(/rate limited by Vertex \(429 RESOURCE_EXHAUSTED\): Resource exhausted/);
    expect(err.retryAfterSeconds).toBe(7);
    expect(server.requests).toHaveLength(1);
  });

  it('turns 500 into RetryableError', async () => {
    server.enqueue({ status: 500 });
    const err = await rejection(judge.judge(input()));
    expect(err.message).toBe('gemini:gemini-3.8-flash: Vertex failed (500 INTERNAL): Internal error encountered.');
    expect(err.retryAfterSeconds).toBeUndefined();
    expect(server.requests).toHaveLength(1);
  });

  it('turns a refused request (403) into RetryableError: a configuration problem is not the clip', async () => {
    server.enqueue({ status: 403, message: 'Permission denied on resource project aiprod-test.' });
    const err = await rejection(judge.judge(input()));
    expect(err.message).toContain('Vertex refused the request (403 PERMISSION_DENIED): Permission denied');
  });

  it('names a retired model in its RetryableError, so an operator sees what to configure', async () => {
    server.setDefault({ json: answer([0.9, 1, 0.9, 0.9]) });
    const err = await rejection(make({ model: 'gemini-2.5-flash' }).judge(input()));
    expect(err.message).toMatch(
      /^gemini:gemini-2\.5-flash: Vertex refused the request \(404 NOT_FOUND\): Publisher Model `.*\/models\/gemini-2\.5-flash` was not found/,
    );
    expect(server.requests).toHaveLength(1);
  });

  it('gives up after its timeout with RetryableError', async () => {
    const hasty = make({ timeoutMs: 500 });
    // The server would answer after 30 s; giving up long before that proves the timeout fired
    // (how long before is the machine's business: no tight timing in tests).
    server.enqueue({ delayMs: 30_000, then: { json: answer([1, 1, 1, 1]) } });
    const job = input();
    const started = Date.now();
    const err = await rejection(hasty.judge(job));
    const elapsed = Date.now() - started;
    expect(err.message).toBe('gemini:gemini-3.8-flash: no answer from Vertex within 500 ms');
    expect(elapsed).toBeGreaterThanOrEqual(500);
    expect(elapsed).toBeLessThan(20_000);
  });

  it('stops when the caller aborts', async () => {
    // The server would answer after 30 s; giving up long before that proves the timeout fired
    // (how long before is the machine's business: no tight timing in tests).
    server.enqueue({ delayMs: 30_000, then: { json: answer([1, 1, 1, 1]) } });
    const controller = new AbortController();
    const pending = judge.judge(input({ signal: controller.signal }));
    // Abort once the request is with Vertex (aborting earlier stops ffmpeg instead).
    for (let i = 0; i < 250 && server.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    controller.abort(new Error('shutting down'));
    const err = await rejection(pending);
    expect(err.message).toBe('gemini:gemini-3.8-flash: aborted by the caller');
  });

  it('fails brand safety when the safety filter blocks the prompt', async () => {
    server.enqueue({ safetyBlock: 'SAFETY' });
    const result = await judge.judge(input());
    expect(result.checks[1]).toEqual({
      name: 'brand_safety',
      verdict: 'fail',
      measured: 'blocked',
      expected: 'score ≥ 0.9',
      detail: "the model's safety filter blocked the clip: SAFETY: The prompt was blocked due to safety.",
    });
    expect(result.checks.filter((c) => c.name !== 'brand_safety').map((c) => c.verdict)).toEqual([
      'skipped',
      'skipped',
      'skipped',
    ]);
    expect(result.evidenceFrames).toHaveLength(3);
    expect(server.requests).toHaveLength(1);
  });

  it('fails brand safety when the answer stops for safety', async () => {
    server.enqueue({ safetyBlock: 'PROHIBITED_CONTENT', stage: 'response' });
    const result = await judge.judge(input());
    expect(result.checks[1]).toMatchObject({
      name: 'brand_safety',
      verdict: 'fail',
      detail: "the model's safety filter blocked the clip: PROHIBITED_CONTENT",
    });
  });

  it('turns an unreachable endpoint into RetryableError', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const nowhere = make({ baseUrl: `http://127.0.0.1:${port}` });
    const err = await rejection(nowhere.judge(input()));
    expect(err.message).toMatch(/could not reach Vertex: .*ECONNREFUSED/);
  });

  it('reports frames it cannot read as failing checks, without calling Vertex', async () => {
    const result = await judge.judge(input({ clipPath: join(dir, 'missing.mp4') }));
    expect(result.checks.map((c) => c.verdict)).toEqual(['fail', 'fail', 'fail', 'fail']);
    expect(result.checks[0]?.detail).toMatch(/^could not read frames from the clip: /);
    expect(server.requests).toHaveLength(0);
  });

  it('refuses bad configuration', () => {
    expect(() => createGeminiJudge({ project: '', location: LOCATION })).toThrow('needs a Google Cloud project');
    expect(() => createGeminiJudge({ project: PROJECT, location: LOCATION, thresholds: { brandSafety: 2 } })).toThrow(
      'threshold brandSafety must be within 0..1, got 2',
    );
  });
});
