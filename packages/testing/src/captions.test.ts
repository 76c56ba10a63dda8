import { cueOffsetsMs } from './captions';

const cue = (startSeconds: number) => ({ startSeconds, endSeconds: startSeconds + 1, text: 'x' });

describe('cueOffsetsMs', () => {
  it('matches cues to onsets in order, one each', () => {
    expect(cueOffsetsMs([cue(0.25), cue(1.5)], [0.26, 1.49]).map(Math.round)).toEqual([10, 10]);
  });

  it('does not let a cue shifted onto the next phrase share that phrase’s onset', () => {
    // The first cue wrongly starts on the second phrase; the second cue has no onset left.
    expect(cueOffsetsMs([cue(1.5), cue(1.5)], [0.25, 1.5])).toEqual([0, Infinity]);
  });
});
