import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { presetOf, type Brief, type ShotPlan } from '@aiprod/contracts';
import { finishTimeline, voiceWindow } from '@aiprod/media';
import { PlanningError, planLocally } from '@aiprod/planning';
import { espeakEngine, estimatedSpeechSeconds } from '@aiprod/speech';
import { aBrief } from '@aiprod/testing';
import type { Job, Shot } from '@aiprod/job-store';
import { approvedLinesMisfit, planSound, shortenLine } from './plan-sound';

const preset = presetOf('social_quick');
const speech = espeakEngine();
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plan-sound-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Words of letters (some accented), some closed by a clause or sentence mark. */
const wordArb = fc
  .tuple(fc.stringMatching(/^[A-Za-zéàüß]{1,12}$/), fc.constantFrom('', '', '', ',', '.', '!', '?', ';', ':'))
  .map(([w, p]) => w + p);
const textArb = fc.array(wordArb, { minLength: 1, maxLength: 30 }).map((ws) => ws.join(' '));
/** Sentence or clause marks a cut may drop or turn into a full stop at the last kept word. */
const bare = (w: string) => w.replace(/[.!?…,;:—–-]+$/, '');

describe('shortenLine', () => {
  it('cuts at word ends only, within max, closed by sentence punctuation; empty only when one word cannot fit', () => {
    fc.assert(
      fc.property(textArb, fc.integer({ min: 0, max: 200 }), (text, max) => {
        const out = shortenLine(text, max);
        const words = text.split(' ');
        if (text.length <= max) {
          expect(out).toBe(text);
          return;
        }
        if (out === '') {
          // Only when the first word, closed by a full stop, is itself longer than max.
          const first = words[0]!;
          const alone = /[.!?…]$/.test(first) ? first : `${bare(first)}.`;
          expect(alone.length).toBeGreaterThan(max);
          return;
        }
        expect(out.length).toBeLessThanOrEqual(max);
        expect(out).toMatch(/[.!?…]$/);
        const kept = out.split(' ');
        expect(kept.length).toBeLessThanOrEqual(words.length);
        // Every word but the last verbatim; the last one whole, its closing mark aside.
        expect(kept.slice(0, -1)).toEqual(words.slice(0, kept.length - 1));
        expect(bare(kept.at(-1)!)).toBe(bare(words[kept.length - 1]!));
        expect(bare(kept.at(-1)!).length).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    ['fits already', 'Run brighter.', 20, 'Run brighter.'],
    ['keeps the first sentence', 'Meet Aurora. The lightest shoe we ever made.', 20, 'Meet Aurora.'],
    ['cuts at a clause, with a full stop', 'Light as air, fast as light, built to last', 24, 'Light as air.'],
    ['cuts at a word end', 'Built for the long run every morning', 20, 'Built for the long.'],
    ['collapses spaces', '  Run   brighter  ', 20, 'Run brighter'],
    ['empty when the first word is too long', 'Extraordinarily light', 6, ''],
    ['keeps a question mark', 'Ready? Then run with us today', 8, 'Ready?'],
  ])('%s', (_what, text, max, want) => {
    expect(shortenLine(text, max)).toBe(want);
  });

  it('a word exactly max long still gets its full stop within max', () => {
    // "hello" + "." is 6: with max 5 nothing fits; with max 6 the word does.
    expect(shortenLine('hello world', 5)).toBe('');
    expect(shortenLine('hello world', 6)).toBe('hello.');
  });
});

function localPlan(brief: Brief): ShotPlan {
  return planLocally(brief, { preset, backend: 'local' });
}

function rooms(plan: ShotPlan): number[] {
  const timeline = finishTimeline({
    clips: plan.shots.map((s) => ({ durationSeconds: s.durationSeconds })),
    transition: plan.transition ?? { kind: 'cut', durationSeconds: 0 },
    endCard: { durationSeconds: plan.endCardSeconds },
    fps: plan.fps,
  });
  return plan.shots.map((_, i) => voiceWindow(timeline, i).seconds);
}

const LONG =
  'Meet Aurora, the lightest running shoe we have ever made. It carries you further every morning, on every road, in every weather, and it never lets you down. Run brighter with Aurora today.';

/**
 * Puts a line with numbers on the plan's first voiced shot, and lengthens the shot so that the
 * line, spoken, takes between 95 % and 100 % of its room. The speaking-rate estimate (2.1 s) lets
 * such a line through; only the measure can hold it.
 */
async function lineInLastFivePercent(plan: ShotPlan) {
  const i = plan.shots.findIndex((s) => s.voiceOver);
  const line = 'Run 10 km by 6:30, every day.';
  const spoken = (await speech.speak(line, { language: 'en', outFile: join(dir, 'numbers.wav'), timeoutMs: 30_000 }))
    .durationSeconds;
  plan.shots[i] = { ...plan.shots[i]!, voiceOver: line };
  plan.shots[i] = {
    ...plan.shots[i]!,
    durationSeconds: plan.shots[i]!.durationSeconds + spoken / 0.975 - rooms(plan)[i]!,
  };
  return { i, line, spoken, room: rooms(plan)[i]! };
}

describe('planSound with espeak-ng', () => {
  jest.setTimeout(120_000);

  it('shortens a line until its spoken length fits its shot, and leaves lines that fit as they are', async () => {
    const brief = aBrief({ voiceOver: true, durationSeconds: 15 });
    const plan = localPlan(brief);
    expect(plan.shots.length).toBeGreaterThan(1);
    const withVoice = plan.shots.map((s) => s.voiceOver);
    expect(withVoice.filter(Boolean).length).toBeGreaterThan(1);
    const long = plan.shots.findIndex((s) => s.voiceOver);
    plan.shots[long] = { ...plan.shots[long]!, voiceOver: LONG };

    const sound = await planSound({ speech }, brief, plan, preset);
    const room = rooms(plan);

    const fitted = sound.plan.shots[long]!.voiceOver!;
    expect(fitted.length).toBeLessThan(LONG.length);
    expect(LONG.startsWith(fitted.replace(/[.!?]$/, ''))).toBe(true);
    // Spoken again, the result fits the room its shot gives it.
    const again = await speech.speak(fitted, { language: 'en', outFile: join(dir, 'again.wav'), timeoutMs: 30_000 });
    expect(again.durationSeconds).toBeLessThanOrEqual(room[long]!);
    expect(sound.shortened).toEqual([
      expect.objectContaining({ shotId: plan.shots[long]!.shotId, language: 'en', from: LONG, to: fitted }),
    ]);
    expect(sound.shortened[0]!.spokenSeconds).toBeLessThanOrEqual(sound.shortened[0]!.roomSeconds);
    // The other lines fitted as the director wrote them.
    sound.plan.shots.forEach((s, i) => {
      if (i !== long) expect(s.voiceOver).toBe(withVoice[i]);
    });
    // One language: the shots keep their on-screen text, and there is no languages list.
    expect(sound.languages).toBeUndefined();
    const texts = plan.shots.map((s) => s.onScreenText).filter(Boolean);
    expect(texts.length).toBeGreaterThan(0);
    expect(sound.plan.shots.map((s) => s.onScreenText).filter(Boolean)).toEqual(texts);
  });

  it('holds a line to 95 % of its room, so a voice that speaks it a little slower at assembly still fits', async () => {
    const brief = aBrief({ voiceOver: true, durationSeconds: 15 });
    const plan = localPlan(brief);
    const { i, line, spoken, room } = await lineInLastFivePercent(plan);
    expect(spoken).toBeLessThanOrEqual(room);
    expect(spoken).toBeGreaterThan(room * 0.95);
    expect(estimatedSpeechSeconds(line, 'en')).toBeLessThan(room * 0.95);

    const sound = await planSound({ speech }, brief, plan, preset);
    const fitted = sound.plan.shots[i]!.voiceOver!;
    expect(fitted).not.toBe(line);
    expect(sound.shortened).toEqual([expect.objectContaining({ from: line, to: fitted })]);
    const again = await speech.speak(fitted, { language: 'en', outFile: join(dir, 'held.wav'), timeoutMs: 30_000 });
    expect(again.durationSeconds).toBeLessThanOrEqual(room * 0.95);
  });

  it('at approval holds a line to its whole room: a plan made before the 95 % margin is not failed over it', async () => {
    const brief = aBrief({ voiceOver: true, durationSeconds: 15 });
    const plan = localPlan(brief);
    const { i, spoken, room } = await lineInLastFivePercent(plan);
    expect(spoken).toBeGreaterThan(room * 0.95);
    expect(spoken).toBeLessThanOrEqual(room);
    const job = {
      brief,
      plan: { endCardSeconds: plan.endCardSeconds, transition: plan.transition, fps: plan.fps },
    } as unknown as Job;
    const shots = plan.shots.map((spec) => ({ shotId: spec.shotId, spec })) as unknown as Shot[];
    expect(await approvedLinesMisfit({ speech }, job, shots)).toBeNull();
    // A line longer than the whole room still fails the approval, naming it.
    const tight = plan.shots.map((spec, k) =>
      k === i ? { ...spec, durationSeconds: spec.durationSeconds - (room - spoken) - 0.3 } : spec,
    );
    const misfit = await approvedLinesMisfit(
      { speech },
      job,
      tight.map((spec) => ({ shotId: spec.shotId, spec })) as unknown as Shot[],
    );
    expect(misfit).toMatch(new RegExp(`^shot ${plan.shots[i]!.shotId}'s en voice-over "Run 10 km`));
  });

  it('a two-language brief: en and fr words, and shot specs without on-screen text', async () => {
    const brief = aBrief({
      voiceOver: true,
      languages: ['en', 'fr'],
      audience: 'runners',
      callToAction: 'Run brighter',
      translations: {
        fr: { keyMessage: 'Voici Aurora', audience: 'les coureurs', callToAction: 'Courez plus fort' },
      },
    });
    const plan = localPlan(brief);
    expect(plan.shots.some((s) => s.onScreenText)).toBe(true);
    const sound = await planSound({ speech }, brief, plan, preset);
    expect(sound.languages?.map((l) => [l.language, l.source])).toEqual([
      ['en', 'brief'],
      ['fr', 'supplied'],
    ]);
    const fr = sound.languages![1]!;
    expect(fr.shots.length).toBe(plan.shots.length);
    expect(fr.shots.some((s) => s.voiceOver && /Aurora|coureurs/.test(s.voiceOver))).toBe(true);
    expect(fr.callToAction).toBe('Courez plus fort');
    for (const s of sound.plan.shots) expect(s.onScreenText).toBeUndefined();
    // The specs carry the plan's own (en) lines.
    expect(sound.plan.shots.map((s) => s.voiceOver)).toEqual(sound.languages![0]!.shots.map((s) => s.voiceOver));
    expect(sound.plan.shots.some((s) => s.voiceOver)).toBe(true);
  });

  it('fails permanently, naming the shot and the language, when not even one word fits', async () => {
    const brief = aBrief({ voiceOver: true, durationSeconds: 5 });
    const plan = localPlan(brief);
    const i = plan.shots.findIndex((s) => s.voiceOver);
    expect(i).toBeGreaterThanOrEqual(0);
    const word = 'Incomprehensibilities-notwithstanding-counterrevolutionaries'.repeat(2);
    plan.shots[i] = { ...plan.shots[i]!, voiceOver: `${word} ${word}` };
    const failed = await planSound({ speech }, brief, plan, preset).then(
      () => null,
      (err: unknown) => err,
    );
    expect(failed).toBeInstanceOf(PlanningError);
    expect((failed as PlanningError).kind).toBe('permanent');
    expect((failed as PlanningError).message).toContain(`shot ${plan.shots[i]!.shotId}'s en voice-over cannot fit`);
  });
});
