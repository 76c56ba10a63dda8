import { mapLimit } from './map-limit';

describe('mapLimit', () => {
  it('runs at most `limit` at a time and keeps the items’ order', async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit([30, 10, 20, 5], 2, async (ms) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, ms));
      running -= 1;
      return ms * 2;
    });
    expect(out).toEqual([60, 20, 40, 10]);
    expect(most).toBe(2);
  });

  it('starts nothing after the first failure, and rejects only once the running ones are done', async () => {
    const started: number[] = [];
    let finished = 0;
    const failure = await mapLimit([0, 1, 2, 3, 4], 2, async (i) => {
      started.push(i);
      if (i === 0) throw new Error('first fails');
      await new Promise((r) => setTimeout(r, 30));
      finished += 1;
      return i;
    }).catch((err: unknown) => err);
    expect((failure as Error).message).toBe('first fails');
    expect(started).toEqual([0, 1]);
    expect(finished).toBe(1);
  });
});
