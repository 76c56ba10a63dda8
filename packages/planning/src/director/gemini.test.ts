import { accessTokenAuth } from '@aiprod/google-ai';
import { PRESETS, type Brief } from '@aiprod/contracts';
import { aBrief, startVertexServer, type VertexServer } from '@aiprod/testing';
import { checkPlan, isAllowedDuration } from '@aiprod/vendor-catalogue';
import { PlanningError, type PlanContext } from './director';
import { createGeminiDirector, type GeminiDirectorOptions } from './gemini';

const PROJECT = 'aiprod-test';
const LOCATION = 'europe-west1';

export const GEMINI_TEST_BRIEF = aBrief({
  brand: { name: 'Aurora', colors: ['#1E6FD9', '#D91E6F'] },
  audience: 'Urban runners',
  aspectRatios: ['9:16'],
  callToAction: 'Run brighter',
  preset: 'social_quick',
});

/** What a good model answer looks like: loose lengths, long text, a recurring runner. */
export const GOOD_ANSWER = {
  continuity: [
    { id: 'product', kind: 'product', description: 'Aurora running shoe, white with a blue sole' },
    { id: 'style', kind: 'style', description: 'Golden-hour light, warm grade, handheld energy' },
    { id: 'runner', kind: 'character', description: 'A woman in her thirties, short dark hair, blue jacket' },
  ],
  shots: [
    {
      purpose: 'hook',
      prompt: 'Close-up of a runner lacing Aurora shoes at dawn on a city bridge',
      camera: 'zoom_in',
      onScreenText: 'Meet Aurora',
      durationSeconds: 4.2,
      transition: 'dissolve',
      continuity: ['product', 'style', 'runner'],
    },
    {
      purpose: 'benefit',
      prompt: 'The runner strides across the bridge, shoes flexing with each step, skyline behind',
      negativePrompt: 'blurry faces',
      camera: 'pan_right',
      onScreenText: 'Lighter every single mile you will ever run, promise',
      voiceOver: 'Lighter every mile.',
      durationSeconds: 5.1,
      continuity: ['product', 'style', 'runner'],
    },
    {
      purpose: 'call_to_action',
      prompt: 'Hero shot of the Aurora shoe on wet asphalt catching the sunrise',
      camera: 'static',
      onScreenText: 'Run brighter',
      durationSeconds: 4,
      continuity: ['product', 'style'],
    },
  ],
};

describe('gemini director against the vertex test server', () => {
  let server: VertexServer;
  const context: PlanContext = { preset: PRESETS.social_quick, backend: 'runway' };
  const make = (options: Partial<GeminiDirectorOptions> = {}) =>
    createGeminiDirector({
      project: PROJECT,
      location: LOCATION,
      baseUrl: server.url,
      googleAuthOptions: accessTokenAuth('test-token'),
      retryBaseMs: 10,
      maxRetryDelayMs: 200,
      timeoutMs: 5_000,
      ...options,
    });
  const failure = async (promise: Promise<unknown>): Promise<PlanningError> => {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PlanningError);
    return err as PlanningError;
  };

  beforeEach(async () => {
    server = await startVertexServer();
  });
  afterEach(async () => {
    await server.close();
  });

  it('turns a valid structured answer into a valid plan fitted to the backend', async () => {
    server.enqueue({ json: GOOD_ANSWER });
    const plan = await make().plan(GEMINI_TEST_BRIEF, context);
    expect(checkPlan(plan, GEMINI_TEST_BRIEF)).toEqual([]);
    expect(plan.director).toBe('gemini:gemini-3.8-flash');
    expect(plan.shots.map((s) => s.purpose)).toEqual(['hook', 'benefit', 'call_to_action']);
    for (const shot of plan.shots) expect(isAllowedDuration('runway', shot.durationSeconds, plan.fps)).toBe(true);
    // Normalised: text fitted, voice-over dropped (the brief did not ask for it), palette from the brand.
    expect(plan.shots[1]!.onScreenText!.length).toBeLessThanOrEqual(40);
    expect(plan.shots.every((s) => s.voiceOver === undefined)).toBe(true);
    expect(plan.shots[0]!.palette[1]).toBe('#1E6FD9');
    expect(plan.shots[0]!.transition).toEqual({ kind: 'dissolve', durationSeconds: 0.5 });
    expect(plan.shots[2]!.continuity!.map((c) => c.id)).toEqual(['product', 'style']);
    expect([plan.width, plan.height]).toEqual([720, 1280]);

    expect(server.requests).toHaveLength(1);
    const sent = server.requests[0]!;
    expect(sent.path).toBe(
      `/v1beta1/projects/${PROJECT}/locations/${LOCATION}/publishers/google/models/gemini-3.8-flash:generateContent`,
    );
    const body = sent.body as { generationConfig: Record<string, unknown>; contents: { parts: { text: string }[] }[] };
    expect(body.generationConfig.responseMimeType).toBe('application/json');
    expect(body.generationConfig.responseSchema).toMatchObject({ type: 'OBJECT', required: ['continuity', 'shots'] });
    // The brief travels as JSON data, with the shot counts the backend can make.
    expect(body.contents[0]!.parts[0]!.text).toContain('"keyMessage": "Meet Aurora"');
  });

  it('retries an answer that is not JSON and then succeeds', async () => {
    server.enqueue({ text: '{"shots": [ oops' });
    server.enqueue({ json: GOOD_ANSWER });
    const plan = await make().plan(GEMINI_TEST_BRIEF, context);
    expect(checkPlan(plan, GEMINI_TEST_BRIEF)).toEqual([]);
    expect(server.requests).toHaveLength(2);
  });

  it('gives up on answers that stay unusable, with a precise retryable reason', async () => {
    server.enqueue({ text: 'Here is your plan: hook, product, call to action.' });
    server.enqueue({ json: { ...GOOD_ANSWER, shots: GOOD_ANSWER.shots.slice(0, 2) } });
    server.enqueue({
      json: {
        ...GOOD_ANSWER,
        shots: [...GOOD_ANSWER.shots.slice(0, 2), { ...GOOD_ANSWER.shots[2]!, continuity: ['logo'] }],
      },
    });
    const err = await failure(make().plan(GEMINI_TEST_BRIEF, context));
    expect(err.kind).toBe('retryable');
    expect(err.message).toMatch(/references continuity "logo", which is not in the table \(after 3 attempts\)$/);
    expect(server.requests).toHaveLength(3);
  });

  it('waits out a 429 (bounded) and then succeeds', async () => {
    server.enqueue({ status: 429, retryAfterSeconds: 0.1 });
    server.enqueue({ status: 503 });
    server.enqueue({ json: GOOD_ANSWER });
    const started = Date.now();
    const plan = await make().plan(GEMINI_TEST_BRIEF, context);
    expect(checkPlan(plan, GEMINI_TEST_BRIEF)).toEqual([]);
    expect(server.requests).toHaveLength(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });

  it('reports rate limiting that outlasts the attempts as retryable, with the server delay', async () => {
    server.setDefault({ status: 429, retryAfterSeconds: 0.05 });
    const err = await failure(make({ maxAttempts: 2 }).plan(GEMINI_TEST_BRIEF, context));
    expect(err.kind).toBe('retryable');
    expect(err.message).toMatch(/rate limited by Vertex \(429 RESOURCE_EXHAUSTED\).*\(after 2 attempts\)/);
    expect(err.retryAfterSeconds).toBe(0.05);
  });

  it('bounds a call that never answers by the timeout, each attempt', async () => {
    server.setDefault({ delayMs: 5_000, then: { json: GOOD_ANSWER } });
    const started = Date.now();
    const err = await failure(make({ timeoutMs: 300, maxAttempts: 2 }).plan(GEMINI_TEST_BRIEF, context));
    const elapsed = Date.now() - started;
    expect(err.kind).toBe('retryable');
    expect(err.message).toBe('gemini:gemini-3.8-flash: no answer within the timeout (after 2 attempts)');
    expect(elapsed).toBeGreaterThanOrEqual(600);
    expect(elapsed).toBeLessThan(3_000);
    expect(server.requests).toHaveLength(2);
  });

  it.each([
    ['prompt', 'PROHIBITED_CONTENT'],
    ['response', 'SAFETY'],
  ] as const)('fails permanently on a safety block (%s stage), without retrying', async (stage, reason) => {
    server.enqueue({ safetyBlock: reason, stage });
    const err = await failure(make().plan(GEMINI_TEST_BRIEF, context));
    expect(err.kind).toBe('permanent');
    expect(err.message).toContain(`the model's safety filter blocked the brief (${reason}`);
    expect(server.requests).toHaveLength(1);
  });

  it('fails permanently when Vertex rejects the request as malformed', async () => {
    server.enqueue({ status: 400, message: 'Invalid JSON payload received. Unknown name "foo".' });
    const err = await failure(make().plan(GEMINI_TEST_BRIEF, context));
    expect(err.kind).toBe('permanent');
    expect(err.message).toMatch(/Vertex rejected the request \(400 INVALID_ARGUMENT\): Invalid JSON payload/);
    expect(server.requests).toHaveLength(1);
  });

  it('fails permanently on a retired model, without retrying, and plans with any model configured', async () => {
    server.setDefault({ json: GOOD_ANSWER });
    const err = await failure(make({ model: 'gemini-2.5-flash' }).plan(GEMINI_TEST_BRIEF, context));
    expect(err.kind).toBe('permanent');
    expect(err.message).toMatch(
      /^gemini:gemini-2\.5-flash: Vertex rejected the request \(404 NOT_FOUND\): Publisher Model `projects\/aiprod-test\/locations\/europe-west1\/publishers\/google\/models\/gemini-2\.5-flash` was not found/,
    );
    expect(server.requests).toHaveLength(1);

    const plan = await make({ model: 'gemini-3.5-flash' }).plan(GEMINI_TEST_BRIEF, context);
    expect(plan.director).toBe('gemini:gemini-3.5-flash');
    expect(server.requests[1]?.model).toBe('gemini-3.5-flash');
  });

  it('refuses a shot count the backend cannot make the length with, and asks again', async () => {
    const veoContext: PlanContext = { preset: PRESETS.premium_spot, backend: 'veo' };
    const long: Brief = { ...GEMINI_TEST_BRIEF, durationSeconds: 60, preset: 'premium_spot' };
    const eight = Array.from({ length: 8 }, (_, i) => ({
      ...GOOD_ANSWER.shots[1]!,
      purpose: i === 0 ? 'hook' : i === 7 ? 'call_to_action' : 'benefit',
      durationSeconds: 7.5,
    }));
    server.enqueue({ json: GOOD_ANSWER }); // 3 shots cannot make 60 s on Veo
    server.enqueue({ json: { ...GOOD_ANSWER, shots: eight } });
    const plan = await make().plan(long, veoContext);
    expect(checkPlan(plan, long)).toEqual([]);
    expect(plan.shots.every((s) => [4, 6, 8].includes(s.durationSeconds))).toBe(true);
    expect(server.requests).toHaveLength(2);
  });
});
