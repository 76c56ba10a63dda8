import { Timestamp } from '@google-cloud/firestore';
import { ProvenanceManifestSchema, validate, type ShotSpec } from '@aiprod/contracts';
import type { Job, QaReport, RenderTry, Shot, ShotAttempt } from '@aiprod/job-store';
import { buildProvenanceManifest, withoutUrlQueries } from './provenance';

const at = (s: number) => Timestamp.fromMillis(Date.UTC(2026, 11, 1, 10, 0, s));

const spec = (shotId: string, index: number, prompt: string): ShotSpec => ({
  shotId,
  index,
  purpose: 'hook',
  durationSeconds: 4,
  prompt,
  camera: 'static',
  palette: ['#000000', '#ffffff'],
  width: 1280,
  height: 720,
  fps: 24,
});

const job = {
  jobId: 'job1',
  tenantId: 't1',
  status: 'ASSEMBLING',
  preset: 'brand_campaign',
  brief: {
    product: 'Aurora',
    brand: { name: 'Aurora' },
    keyMessage: 'Meet Aurora',
    durationSeconds: 15,
    aspectRatios: ['16:9'],
  },
  costUsd: 1.9,
  createdAt: at(0),
  updatedAt: at(50),
  plan: {
    version: 3,
    approval: { version: 2, by: 'ana', at: at(5) },
    estimate: { priceTableVersion: '2026-11-30' },
  },
} as unknown as Job;

const attempt = (n: number, backend: RenderTry['backend'], tries: RenderTry[], status: ShotAttempt['status']) =>
  ({ attempt: n, backend, status, tries, startedAt: at(n) }) as ShotAttempt;

const qa = (n: number, verdict: QaReport['verdict']): QaReport => ({
  attempt: n,
  verdict,
  checks: [{ name: 'duration', verdict: 'pass', measured: 4, expected: '4 ± 0.25 s' }],
  evidence: ['gs://bucket/tenants/t1/jobs/job1/qa/s01/frame-0.png'],
  judge: 'gemini-judge',
  timings: { technicalMs: 10, semanticMs: 20 },
  at: at(40),
});

// s01: a rate-limited create, then a success on Runway. Given to the builder after s02 (cut order is by index).
const s01: Shot = {
  jobId: 'job1',
  shotId: 's01',
  index: 0,
  spec: spec('s01', 0, 'A shoe on a wet street'),
  backend: 'runway',
  status: 'PASSED',
  attempt: 1,
  attempts: {
    '1': attempt(
      1,
      'runway',
      [
        {
          backend: 'runway',
          model: 'gen4.5',
          outcome: 'failed',
          errorClass: 'rate_limited',
          code: 'HTTP 429',
          message: 'runway: slow down',
          costUsd: 0,
          at: at(10),
        },
        {
          backend: 'runway',
          model: 'gen4.5',
          vendorTaskId: 'task-secret-id',
          outcome: 'succeeded',
          costUsd: 0.48,
          at: at(20),
          sent: {
            model: 'gen4.5',
            // A link the brief quoted, with a signature in its query: the manifest must not carry it.
            prompt: 'A shoe on a wet street, see https://cdn.example.com/a.png?X-Goog-Signature=abc123&x=1 for style',
            seed: 11,
            references: ['product'],
            firstFrame: 'ref-0',
            fields: { promptImage: 'ref-0' },
          },
        },
      ],
      'PASSED',
    ),
  },
  qa: qa(1, 'pass'),
  updatedAt: at(41),
};

// s02: attempt 1 rendered on Veo and rejected by QA, attempt 2 (the retake) handed over to Replicate.
const s02: Shot = {
  jobId: 'job1',
  shotId: 's02',
  index: 1,
  spec: spec('s02', 1, 'The shoe close up'),
  backend: 'replicate',
  status: 'PASSED',
  attempt: 2,
  attempts: {
    '1': attempt(
      1,
      'veo',
      [
        {
          backend: 'veo',
          model: 'veo-3.1-fast-generate-001',
          outcome: 'succeeded',
          costUsd: 0.6,
          at: at(21),
          sent: { model: 'veo-3.1-fast-generate-001', prompt: 'The shoe close up', seed: 5, references: [] },
        },
      ],
      'REJECTED',
    ),
    '2': attempt(
      2,
      'replicate',
      [
        {
          backend: 'veo',
          model: 'veo-3.1-fast-generate-001',
          outcome: 'failed',
          errorClass: 'safety',
          code: 'SAFETY',
          message: 'refused',
          costUsd: 0,
          at: at(30),
          sent: {
            model: 'veo-3.1-fast-generate-001',
            prompt: 'The shoe close up. Avoid: blur',
            negativePrompt: 'text',
            references: [],
          },
        },
        {
          backend: 'replicate',
          model: 'wan-video/wan-2.2-t2v-fast',
          outcome: 'succeeded',
          costUsd: 0.82,
          at: at(35),
          sent: {
            model: 'wan-video/wan-2.2-t2v-fast',
            prompt: 'The shoe close up. Avoid: blur',
            negativePrompt: 'text',
            seed: 6,
            references: [],
          },
        },
      ],
      'PASSED',
    ),
  },
  qa: qa(2, 'pass'),
  updatedAt: at(42),
};

describe('buildProvenanceManifest', () => {
  const deliveredAt = new Date(Date.UTC(2026, 11, 1, 10, 1, 0));
  const manifest = buildProvenanceManifest(job, [s02, s01], deliveredAt);

  it('makes a manifest valid against ProvenanceManifestSchema, with the job, plan and price table it came from', () => {
    expect(validate(ProvenanceManifestSchema, manifest).ok).toBe(true);
    expect(manifest).toMatchObject({
      schemaVersion: 1,
      jobId: 'job1',
      tenantId: 't1',
      createdAt: '2026-12-01T10:00:00.000Z',
      deliveredAt: '2026-12-01T10:01:00.000Z',
      priceTableVersion: '2026-11-30',
      planVersion: 3,
      approvedPlanVersion: 2,
    });
  });

  it('lists shots in cut order, each with what the accepted try sent, every try, QA and its cost', () => {
    expect(manifest.shots.map((s) => s.shotId)).toEqual(['s01', 's02']);
    const [first, second] = manifest.shots as [(typeof manifest.shots)[0], (typeof manifest.shots)[0]];
    expect(first).toMatchObject({
      backend: 'runway',
      model: 'gen4.5',
      seed: 11,
      negativePrompt: null,
      references: ['product'],
      firstFrame: 'ref-0',
      lastFrame: null,
      acceptedTry: 1,
      costUsd: 0.48,
      qa: {
        attempt: 1,
        verdict: 'pass',
        judge: 'gemini-judge',
        checks: [expect.objectContaining({ name: 'duration' })],
      },
    });
    expect(first.tries[0]).toEqual({
      attempt: 1,
      backend: 'runway',
      model: 'gen4.5',
      outcome: 'failed',
      errorClass: 'rate_limited',
      errorCode: 'HTTP 429',
      costUsd: 0,
      at: '2026-12-01T10:00:10.000Z',
      sent: null,
    });
    // The retake's winner, not attempt 1's rejected success; every try of both attempts, in order.
    expect(second).toMatchObject({
      backend: 'replicate',
      model: 'wan-video/wan-2.2-t2v-fast',
      seed: 6,
      prompt: 'The shoe close up. Avoid: blur',
      negativePrompt: 'text',
      acceptedTry: 2,
      costUsd: 1.42,
    });
    expect(second.tries.map((t) => [t.attempt, t.backend, t.outcome])).toEqual([
      [1, 'veo', 'succeeded'],
      [2, 'veo', 'failed'],
      [2, 'replicate', 'succeeded'],
    ]);
    expect(manifest.totals).toEqual({ shots: 2, tries: 5, shotsCostUsd: 1.9, jobCostUsd: 1.9 });
  });

  it('carries no query string of a URL, no vendor task id, no storage URI and no vendor message', () => {
    const text = JSON.stringify(manifest);
    expect(manifest.shots[0]!.prompt).toBe(
      'A shoe on a wet street, see https://cdn.example.com/a.png?[removed] for style',
    );
    expect(text).not.toContain('X-Goog-Signature');
    expect(text).not.toContain('task-secret-id');
    expect(text).not.toContain('gs://');
    expect(text).not.toContain('slow down');
  });

  it("says what was heard: each language's voice and the music, the supplied track by kind and digest only", () => {
    expect(manifest.sound).toEqual({ voices: [], music: { kind: 'generated', mood: null }, clipAudio: false });
    const voiced = buildProvenanceManifest(
      {
        ...job,
        voiceTracks: [
          {
            language: 'en',
            uri: 'gs://b/voice-en.wav',
            engine: 'espeak-ng',
            voice: 'en-us',
            timing: 'measured',
            lines: 3,
          },
        ],
        music: {
          path: 'tenants/t1/jobs/job1/references/music.mp3',
          contentType: 'audio/mpeg',
          sizeBytes: 1000,
          sha256: 'a'.repeat(64),
          durationSeconds: 31.5,
          source: { kind: 'url', url: 'https://cdn.example.com/track.mp3?token=secret' },
        },
      },
      [s02, s01],
      deliveredAt,
    );
    expect(voiced.sound).toEqual({
      voices: [{ language: 'en', engine: 'espeak-ng', voice: 'en-us', timing: 'measured', lines: 3 }],
      music: { kind: 'supplied', source: 'url', sha256: 'a'.repeat(64), durationSeconds: 31.5 },
      clipAudio: false,
    });
    expect(JSON.stringify(voiced)).not.toContain('token=secret');
  });

  it('refuses records where a passed shot has no successful try (a bug, not a delivery to make)', () => {
    const broken: Shot = { ...s01, attempts: { '1': { ...s01.attempts['1']!, tries: [] } } };
    expect(() => buildProvenanceManifest(job, [broken], deliveredAt)).toThrow(/s01.*no successful try/);
  });

  it('refuses a manifest its schema rejects (a URL where a reference id belongs)', () => {
    const tries = s01.attempts['1']!.tries!.map((t) =>
      t.sent ? { ...t, sent: { ...t.sent, references: ['https://cdn.example.com/p.png?sig=1'] } } : t,
    );
    const leaking: Shot = { ...s01, attempts: { '1': { ...s01.attempts['1']!, tries } } };
    expect(() => buildProvenanceManifest(job, [leaking], deliveredAt)).toThrow(/invalid.*references/);
  });
});

describe('withoutUrlQueries', () => {
  it('drops the query of every URL and leaves other question marks alone', () => {
    expect(withoutUrlQueries('Why? gs://b/o?x=1 and http://a.b/c?d=e#f.')).toBe(
      'Why? gs://b/o?[removed] and http://a.b/c?[removed]#f.',
    );
  });
});
