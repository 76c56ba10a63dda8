import { ShotSpecSchema, validate } from '@aiprod/contracts';
import { aBrief } from '@aiprod/testing';
import { fitText } from '../shaping';
import { defaultContext } from './director';
import { planLocally } from './local';

const brief = aBrief({
  brand: { name: 'Aurora', colors: ['#1E6FD9', '#D91E6F', '#1ED96F'] },
  callToAction: 'Run brighter',
  scenes: ['Lighter every mile'],
});

describe('planLocally', () => {
  it('plans valid shots whose durations and end card add up to the brief', () => {
    for (const durationSeconds of [5, 7.5, 15, 30, 44.9, 60]) {
      const plan = planLocally({ ...brief, durationSeconds });
      expect(plan.shots.length).toBeGreaterThanOrEqual(3);
      expect(plan.shots.length).toBeLessThanOrEqual(5);
      // Each shot overlaps the next segment by one transition in the finished cut.
      const total =
        plan.shots.reduce((sum, s) => sum + s.durationSeconds, 0) +
        plan.endCardSeconds -
        plan.shots.length * plan.transition.durationSeconds;
      expect(Math.abs(total - durationSeconds)).toBeLessThanOrEqual(0.5 / 30 + 1e-9);
      for (const shot of plan.shots) {
        expect(validate(ShotSpecSchema, shot)).toEqual({ ok: true, value: shot });
        const frames = shot.durationSeconds * 30;
        expect(Math.abs(frames - Math.round(frames))).toBeLessThan(1e-6);
      }
    }
  });

  it('is deterministic and follows the ad structure', () => {
    const a = planLocally(brief);
    expect(planLocally(structuredClone(brief))).toEqual(a);
    expect(a.shots.map((s) => s.purpose)).toEqual(['hook', 'benefit', 'call_to_action']);
    expect(a.shots.map((s) => s.onScreenText)).toEqual(['Meet Aurora', 'Lighter every mile', 'Run brighter']);
    expect(a.shots[0]!.palette[1]).toBe('#1E6FD9');
  });

  it('puts the product shot after the first asked-for scene when there is room', () => {
    const long = planLocally({ ...brief, durationSeconds: 30, scenes: ['Light', 'Fast', 'Bright'] });
    expect(long.shots.map((s) => s.onScreenText)).toEqual([
      'Meet Aurora',
      'Light',
      'Aurora running shoe',
      'Fast',
      'Run brighter',
    ]);
  });

  it('never repeats a beat to fill time', () => {
    const plain = planLocally({ ...brief, scenes: undefined, durationSeconds: 30 });
    expect(plain.shots.map((s) => s.purpose)).toEqual(['hook', 'product', 'call_to_action']);
    const withAudience = planLocally({ ...brief, scenes: undefined, audience: 'runners', durationSeconds: 30 });
    expect(withAudience.shots.map((s) => s.onScreenText)).toEqual([
      'Meet Aurora',
      'Aurora running shoe',
      'Made for runners',
      'Run brighter',
    ]);
  });

  it('writes a voice-over line per shot only when the brief asks for voice-over', () => {
    expect(planLocally(brief).shots.every((s) => s.voiceOver === undefined)).toBe(true);
    const voiced = planLocally({ ...brief, voiceOver: true });
    expect(voiced.shots.map((s) => s.voiceOver)).toEqual([
      'Meet Aurora.',
      'Lighter every mile.',
      'Run brighter. Aurora.',
    ]);
  });

  it('sizes frames from the first aspect ratio', () => {
    expect(planLocally({ ...brief, aspectRatios: ['9:16', '16:9'] })).toMatchObject({ width: 720, height: 1280 });
  });

  it('fits long text on a word boundary', () => {
    const fitted = fitText('Lighter every single mile you will ever run', 20);
    expect(fitted).toBe('Lighter every…');
    expect(fitted.length).toBeLessThanOrEqual(20);
    expect(fitText('short', 20)).toBe('short');
  });
});

describe('the local director and a client’s notes', () => {
  it('adds every note to every shot’s visual prompt, oldest first, and changes nothing else', () => {
    const plain = planLocally(brief);
    const noted = planLocally(brief, { ...defaultContext(brief), notes: ['Night scenes', '  slower\ncamera '] });
    expect(noted.shots.map((s) => s.prompt)).toEqual(
      plain.shots.map((s) => `${s.prompt}. Client notes: Night scenes; slower camera`),
    );
    expect(noted.shots.map(({ prompt: _p, ...rest }) => rest)).toEqual(
      plain.shots.map(({ prompt: _p, ...rest }) => rest),
    );
    expect(planLocally(brief, { ...defaultContext(brief), notes: ['', '  '] })).toEqual(plain);
  });
});
