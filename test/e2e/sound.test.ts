import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cueOffsetsMs, measureSpeech, parseCaptionFiles } from '@aiprod/testing';
import { GatewayClient, httpsDownload, type JobView, type LocalStack } from '../../infra/local/src';
import { repoRoot, startTestStack } from './e2e-stack';

/**
 * Issue 19's must-show on the sample briefs, through the whole local platform (espeak-ng, the
 * offline engine): every caption cue of every delivered file starts within 150 ms of the speech it
 * shows, measured by silence detection on the delivered voice track (not from the cue times the
 * platform computed), and the WebVTT and SRT files parse with well-kept parsers; the two-language
 * sample delivers a complete set per language.
 */
const MAX_CUE_OFFSET_MS = 150;
const readBrief = (name: string) =>
  JSON.parse(readFileSync(join(repoRoot, 'examples', 'briefs', `${name}.json`), 'utf8')) as Record<string, unknown>;

let stack: LocalStack;
let client: GatewayClient;
const stateDir = mkdtempSync(join(tmpdir(), 'aiprod-e2e-sound-'));
let n = 0;

beforeAll(async () => {
  stack = await startTestStack('e2e-sound', stateDir);
  client = new GatewayClient(stack.info);
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

async function download(url: string): Promise<string> {
  const file = join(stateDir, `download-${(n += 1)}`);
  await httpsDownload(url, file, client.caCert);
  return file;
}

async function delivered(brief: Record<string, unknown>): Promise<JobView> {
  const { id } = await client.submit(brief);
  const job = await client.waitForTerminal(id, { timeoutMs: 240_000 });
  if (job.status !== 'DELIVERED') throw new Error(`job ${id} ended ${job.status}: ${JSON.stringify(job.error)}`);
  return job;
}

/** Every output's captions parse and start on the speech of its language's delivered voice track. */
async function checkCaptions(job: JobView): Promise<Map<string, string[]>> {
  const onsets = new Map<string, number[]>();
  for (const track of job.voiceTracks ?? [])
    onsets.set(track.language, (await measureSpeech(await download(track.url))).onsets);
  const texts = new Map<string, string[]>();
  for (const output of job.outputs) {
    expect(output.captions).toBeDefined();
    const cues = parseCaptionFiles(
      await readFile(await download(output.captions!.vttUrl), 'utf8'),
      await readFile(await download(output.captions!.srtUrl), 'utf8'),
    );
    expect(cues).toHaveLength(output.captions!.cues);
    const heard = onsets.get(output.language!);
    expect(heard?.length).toBeGreaterThan(0);
    const offsets = cueOffsetsMs(cues, heard!);
    expect(Math.max(...offsets)).toBeLessThanOrEqual(MAX_CUE_OFFSET_MS);
    texts.set(
      `${output.language} ${output.variant}`,
      cues.map((c) => c.text),
    );
  }
  return texts;
}

describe('voice-over and captions of the sample briefs', () => {
  it.each(['aurora-15s', 'lumen-30s-vertical'])(
    '%s: a spoken voice-over, and captions that start within 150 ms of the speech',
    async (name) => {
      const job = await delivered(readBrief(name));
      expect(job.voiceTracks).toEqual([
        expect.objectContaining({ language: 'en', engine: 'espeak-ng', timing: 'measured' }),
      ]);
      const texts = await checkCaptions(job);
      expect([...texts.values()].flat().join(' ')).toMatch(/\w+/);
    },
    300_000,
  );

  it('aurora-15s-en-fr: a complete set per language (a video per ratio, captions and a voice each)', async () => {
    const brief = readBrief('aurora-15s-en-fr');
    const job = await delivered(brief);
    const sets = job.outputs.map((o) => `${o.language} ${o.variant}`).sort();
    expect(sets).toEqual(['en 16:9', 'en 9:16', 'fr 16:9', 'fr 9:16']);
    expect(job.voiceTracks!.map((t) => t.language).sort()).toEqual(['en', 'fr']);
    // The two languages' files are different videos.
    expect(new Set(job.outputs.map((o) => o.url.split('?')[0])).size).toBe(4);
    const texts = await checkCaptions(job);
    const french = texts.get('fr 9:16')!.join(' ');
    expect(french).toContain('Voici Aurora');
    expect(french).toContain('Courez plus vif');
    expect(texts.get('en 9:16')!.join(' ')).toContain('Meet Aurora');
    expect(texts.get('fr 16:9')).toEqual(texts.get('fr 9:16'));
  }, 300_000);
});
