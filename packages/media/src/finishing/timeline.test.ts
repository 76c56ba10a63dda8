import { MediaError } from '../process';
import { finishTimeline, finishedDuration } from './timeline';

describe('finishTimeline', () => {
  it('computes the finished length: transitions overlap their segments', () => {
    const clips3 = [5, 5, 5].map((durationSeconds) => ({ file: 'x', durationSeconds }));
    const endCard = { brandName: 'A', colors: ['#000000', '#000000'] as [string, string], durationSeconds: 2 };
    // 3 clips + card, 3 transitions of 0.5 s: 15 + 2 - 1.5.
    expect(
      finishedDuration({ clips: clips3, endCard, fps: 30, transition: { kind: 'fade', durationSeconds: 0.5 } }),
    ).toBe(15.5);
    expect(
      finishedDuration({ clips: clips3, endCard, fps: 30, transition: { kind: 'cut', durationSeconds: 0.5 } }),
    ).toBe(17);
    // What a planner does to land 15 s with 0.5 s fades and a 2 s card: 4.8333 s shots.
    const planned = [1, 2, 3].map(() => ({ file: 'x', durationSeconds: 14.5 / 3 }));
    expect(
      finishedDuration({ clips: planned, endCard, fps: 30, transition: { kind: 'fade', durationSeconds: 0.5 } }),
    ).toBe(15);
    const timeline = finishTimeline({
      clips: clips3,
      endCard,
      fps: 30,
      transition: { kind: 'fade', durationSeconds: 0.5 },
    });
    expect(timeline.shots.map((s) => [s.start, s.end])).toEqual([
      [0, 150],
      [135, 285],
      [270, 420],
    ]);
    expect(timeline.endCard).toEqual({ start: 405, end: 465 });
    // Captions hand over in the middle of each transition, never overlapping.
    expect(timeline.shots.map((s) => [s.captionStart, s.captionEnd])).toEqual([
      [0, 143],
      [143, 278],
      [278, 413],
    ]);
    // A middle shot shorter than its two transitions cannot be cut.
    expect(() =>
      finishedDuration({
        clips: [clips3[0]!, { file: 'x', durationSeconds: 0.9 }, clips3[2]!],
        endCard,
        fps: 30,
        transition: { kind: 'fade', durationSeconds: 0.5 },
      }),
    ).toThrow(MediaError);
  });
});
