import { BackgroundWork } from './background';

describe('BackgroundWork', () => {
  it('close() waits for the work still running, then starts no more', async () => {
    const work = new BackgroundWork();
    let finished = false;
    work.start(() => new Promise<void>((resolve) => setTimeout(() => resolve(void (finished = true)), 50)));
    await work.close();
    expect(finished).toBe(true);
    let started = false;
    work.start(async () => void (started = true));
    expect(started).toBe(false);
  });

  it('hands a failure to onError instead of leaving it unhandled', async () => {
    const work = new BackgroundWork();
    const errors: string[] = [];
    work.start(
      () => Promise.reject(new Error('The client has already been terminated')),
      (e) => void errors.push((e as Error).message),
    );
    await work.close();
    expect(errors).toEqual(['The client has already been terminated']);
  });
});
