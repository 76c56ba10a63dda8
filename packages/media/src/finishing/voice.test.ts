import { MediaError } from '../process';
import { finishTimeline } from './timeline';
import type { FinishVoiceLine } from './types';
import { captionWindows, duckExpression, placeVoice, voiceWindow } from './voice';

// Three 2.5 s shots joined by 0.2 s fades at 30 fps, then a 1 s card: shots of 75 frames, 6-frame
// transitions, caption windows [0,72), [72,141), [141,210).
const timeline = finishTimeline({
  clips: [0, 1, 2].map(() => ({ file: 'x.mp4', durationSeconds: 2.5 })),
  transition: { kind: 'fade', durationSeconds: 0.2 },
  endCard: { brandName: 'A', colors: ['#000000', '#000000'], durationSeconds: 1 },
  fps: 30,
});

const line = (shotIndex: number, durationSeconds: number): FinishVoiceLine => ({
  shotIndex,
  file: `line-${shotIndex}.wav`,
  durationSeconds,
  phrases: [
    {
      text: 'Lighter every mile',
      startSeconds: 0.2,
      endSeconds: 0.8,
      words: [
        { text: 'Lighter', startSeconds: 0.2, endSeconds: 0.45 },
        { text: 'every', startSeconds: 0.45, endSeconds: 0.6 },
        { text: 'mile', startSeconds: 0.6, endSeconds: 0.8 },
      ],
    },
    { text: 'Run brighter', startSeconds: 1.0, endSeconds: 1.6, words: [] },
  ],
});

describe('voiceWindow', () => {
  it('runs from the caption start plus the lead to the caption end less 0.1 s', () => {
    expect(voiceWindow(timeline, 0)).toEqual({ startSeconds: 0.25, endSeconds: 2.3, seconds: 2.05 });
    const w = voiceWindow(timeline, 2, 0.5);
    expect(w.startSeconds).toBeCloseTo(141 / 30 + 0.5, 9);
    expect(w.endSeconds).toBeCloseTo(210 / 30 - 0.1, 9);
    expect(w.seconds).toBeCloseTo(210 / 30 - 0.1 - 141 / 30 - 0.5, 9);
    expect(() => voiceWindow(timeline, 3)).toThrow(MediaError);
  });
});

describe('placeVoice', () => {
  it('places each line at its window start and gives absolute cues, words and speech', () => {
    const placed = placeVoice(timeline, [line(2, 1.6), line(0, 1.6)]);
    expect(placed.starts[0]).toBeCloseTo(141 / 30 + 0.25, 9);
    expect(placed.starts[1]).toBeCloseTo(0.25, 9);
    expect(placed.cues.map((c) => c.text)).toEqual([
      'Lighter every mile',
      'Run brighter',
      'Lighter every mile',
      'Run brighter',
    ]);
    expect(placed.cues[0]!.startSeconds).toBeCloseTo(0.45, 9);
    expect(placed.cues[1]!.endSeconds).toBeCloseTo(1.85, 9);
    expect(placed.cues[2]!.startSeconds).toBeCloseTo(4.7 + 0.25 + 0.2, 9);
    expect(placed.words.map((w) => w.text)).toEqual(['Lighter', 'every', 'mile', 'Lighter', 'every', 'mile']);
    expect(placed.words[1]!.startSeconds).toBeCloseTo(0.7, 9);
    // The phrases of a line are 0.2 s apart: separate speech, in order.
    expect(placed.speech).toHaveLength(4);
    expect(placed.speech[0]!.startSeconds).toBeCloseTo(0.45, 9);
    expect(placed.speech[3]!.endSeconds).toBeCloseTo(4.95 + 1.6, 9);
  });

  it('refuses a line longer than its window, naming the shot and both lengths, and a second line for a shot', () => {
    expect(() => placeVoice(timeline, [line(0, 2.05)])).not.toThrow();
    const err = (() => {
      try {
        placeVoice(timeline, [line(0, 1.6), line(1, 2.2)]);
      } catch (e) {
        return e;
      }
      return undefined;
    })() as MediaError;
    expect(err).toBeInstanceOf(MediaError);
    expect(err.kind).toBe('invalid');
    expect(err.message).toContain('shot 1');
    expect(err.message).toContain('2.200s');
    expect(err.message).toContain('1.950s');
    expect(() => placeVoice(timeline, [line(0, 1), line(0, 1)])).toThrow(/two voice lines for shot 0/);
    expect(() => placeVoice(timeline, [line(5, 1)])).toThrow(MediaError);
  });
});

describe('duckExpression and captionWindows', () => {
  it('is 1 outside speech and the duck depth inside, ramping in between', () => {
    const expr = duckExpression([{ startSeconds: 1, endSeconds: 2 }], 20);
    const at = (t: number) =>
      new Function('t', 'clip', 'min', `return ${expr};`)(
        t,
        (x: number, a: number, b: number) => Math.min(b, Math.max(a, x)),
        Math.min,
      ) as number;
    expect(at(0.5)).toBeCloseTo(1, 9);
    expect(at(1.5)).toBeCloseTo(0.1, 9);
    expect(at(0.8)).toBeCloseTo(1 - 0.9 * 0.5, 6); // half-way down the ramp that ends at 1 - 0.15
    expect(at(2.5)).toBeCloseTo(1, 9);
    expect(duckExpression([], 15)).toBe('1');
  });

  it('holds a caption to the next cue across short gaps, never overlapping it', () => {
    const cues = captionWindows([
      { startSeconds: 0, endSeconds: 1, text: 'a' },
      { startSeconds: 1.3, endSeconds: 2, text: 'b' },
      { startSeconds: 3, endSeconds: 4, text: 'c' },
    ]);
    expect(cues.map((c) => c.endSeconds)).toEqual([1.3, 2, 4]);
  });
});
