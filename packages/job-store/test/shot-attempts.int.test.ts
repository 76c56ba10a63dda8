import { Timestamp, type Firestore } from '@google-cloud/firestore';
import type { ShotSpec } from '@aiprod/contracts';
import { aBrief, emulatorProject } from '@aiprod/testing';
import { JobStore, ShotAttempts, type AttemptRef, type RenderTry, type Shot } from '../src';

const env = emulatorProject('shotattempts', 'render');
const { db, jobs: store } = env;
afterAll(() => env.close());

const spec: ShotSpec = {
  shotId: 's01',
  index: 0,
  purpose: 'product',
  durationSeconds: 4,
  prompt: 'shoe',
  camera: 'static',
  palette: ['#000000', '#FFFFFF'],
  width: 320,
  height: 180,
  fps: 30,
};
let n = 0;

/** A planned job whose one shot is RENDERING on Veo, claimed by `holder`. */
async function claimedShot(attempts: ShotAttempts, holder = 'pod-a:m-1:x'): Promise<AttemptRef> {
  const jobId = `job${++n}${Date.now()}`;
  await store.createJob({ jobId, tenantId: 't1', brief: aBrief(), preset: 'social_quick' });
  await store.transition(jobId, 'QUEUED', 'PLANNING');
  const plan = { director: 'test', shotIds: ['s01'], width: 320, height: 180, fps: 30, endCardSeconds: 0 };
  await store.savePlan(jobId, { ...plan, estimatedCostUsd: 0 }, [{ spec, backend: 'veo' }], 'RENDERING');
  const ref: AttemptRef = { jobId, shotId: 's01', attempt: 1, backend: 'veo', holder };
  expect(await attempts.claim(ref, holder, 60_000)).toMatchObject({ kind: 'claimed' });
  return ref;
}

/**
 * A Firestore client whose next shot write commits and then loses its answer: the client sees
 * code 9 (FAILED_PRECONDITION, what casShot decides again on), as when the connection drops after the server applied the write.
 */
function answerLostOnce(real: Firestore): { db: Firestore; lose(): void } {
  let armed = false;
  const db = new Proxy(real, {
    get(target, prop) {
      if (prop === 'batch') {
        return () => {
          const batch = target.batch();
          const commit = batch.commit.bind(batch);
          batch.commit = async () => {
            const written = await commit();
            if (!armed) return written;
            armed = false;
            throw Object.assign(new Error('9 FAILED_PRECONDITION: the answer was lost'), { code: 9 });
          };
          return batch;
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { db, lose: () => void (armed = true) };
}

const failedTry = (costUsd: number, vendorTaskId?: string): RenderTry => ({
  backend: 'veo',
  model: 'veo-3.0',
  ...(vendorTaskId ? { vendorTaskId } : {}),
  outcome: 'failed',
  errorClass: 'transient',
  costUsd,
  at: Timestamp.now(),
});

describe('ShotAttempts when a write commits but its answer is lost', () => {
  it('a try without a task id is recorded once, and the caller is told it was', async () => {
    const lossy = answerLostOnce(db);
    const attempts = new ShotAttempts(new JobStore(lossy.db));
    const ref = await claimedShot(attempts);
    await attempts.beginSubmit(ref, 's01-a1-veo-r0');

    lossy.lose();
    const after = await attempts.settleTry(
      ref,
      { entry: failedTry(1.2) },
      { kind: 'retry', notBefore: Timestamp.now() },
    );

    expect(after?.attempts['1']!.tries).toHaveLength(1);
    const stored = (await store.getShot(ref.jobId, 's01'))!.attempts['1']!;
    expect(stored.tries).toHaveLength(1);
    expect(stored.costUsd).toBe(1.2);
    expect(stored.submitting ?? null).toBeNull();
  });

  it('a try of a stored task is recorded once, and the caller does not take it for a lost race', async () => {
    const lossy = answerLostOnce(db);
    const attempts = new ShotAttempts(new JobStore(lossy.db));
    const ref = await claimedShot(attempts);
    await attempts.beginSubmit(ref, 's01-a1-veo-r0');
    await attempts.recordTask(ref, 'operations/op-1');

    lossy.lose();
    const after = await attempts.settleTry(
      ref,
      { entry: failedTry(0.6, 'operations/op-1'), taskId: 'operations/op-1' },
      { kind: 'retry', notBefore: Timestamp.now() },
    );

    expect(after).not.toBeNull();
    const stored = (await store.getShot(ref.jobId, 's01'))!.attempts['1']!;
    expect(stored.tries).toHaveLength(1);
    expect(stored.costUsd).toBe(0.6);
    expect(stored.vendorTaskId).toBeUndefined();
  });

  it('a completion with a lost answer is recorded once', async () => {
    const lossy = answerLostOnce(db);
    const attempts = new ShotAttempts(new JobStore(lossy.db));
    const ref = await claimedShot(attempts);
    await attempts.beginSubmit(ref, 's01-a1-veo-r0');
    await attempts.recordTask(ref, 'operations/op-2');

    lossy.lose();
    const entry = { ...failedTry(0.6, 'operations/op-2'), outcome: 'succeeded' as const };
    const done = await attempts.complete(
      ref,
      { clipUri: 'file:///clip.mp4', sizeBytes: 1 },
      { entry, taskId: 'operations/op-2' },
    );

    expect(done?.status).toBe('RENDERED');
    const stored = (await store.getShot(ref.jobId, 's01'))!.attempts['1']!;
    expect(stored.tries).toHaveLength(1);
    expect(stored.costUsd).toBe(0.6);
  });
});

describe('JobStore.casShot', () => {
  it('refuses a change that sets a top-level field to undefined, which would keep the old value', async () => {
    const attempts = new ShotAttempts(store);
    const ref = await claimedShot(attempts);
    const qa = { passed: false, checks: [], summary: 'too dark' } as unknown as NonNullable<Shot['qa']>;
    await store.casShot(ref.jobId, 's01', () => ({ patch: { qa } }));

    // The client drops undefined fields (ignoreUndefinedProperties): `qa` would silently stay.
    await expect(store.casShot(ref.jobId, 's01', () => ({ patch: { qa: undefined } }))).rejects.toThrow(
      /qa is undefined/,
    );
    expect((await store.getShot(ref.jobId, 's01'))!.qa).toEqual(qa);
    // Clearing with null is what stores it cleared.
    await store.casShot(ref.jobId, 's01', () => ({ patch: { qa: null as never } }));
    expect((await store.getShot(ref.jobId, 's01'))!.qa).toBeNull();
  });
});

describe('ShotAttempts.recordBusy', () => {
  it('stores busy time only for the stored task, only upward, under the lease, and clears it with the task', async () => {
    const attempts = new ShotAttempts(store);
    const ref = await claimedShot(attempts);
    // No task stored yet: nothing to be busy.
    expect(await attempts.recordBusy(ref, 'op-1', 3)).toBe(false);
    await attempts.beginSubmit(ref, 's01-a1-veo-r0');
    await attempts.recordTask(ref, 'op-1');
    expect(await attempts.recordBusy(ref, 'op-1', 3.5)).toBe(true);
    expect(await attempts.recordBusy(ref, 'op-1', 2)).toBe(false);
    expect(await attempts.recordBusy(ref, 'op-other', 9)).toBe(false);
    expect(await attempts.recordBusy({ ...ref, holder: 'pod-b:m-2:y' }, 'op-1', 9)).toBe(false);
    expect((await store.getShot(ref.jobId, 's01'))!.attempts['1']!.busySeconds).toBe(3.5);

    await attempts.settleTry(ref, { entry: failedTry(0, 'op-1'), taskId: 'op-1' }, { kind: 'record' });
    expect((await store.getShot(ref.jobId, 's01'))!.attempts['1']!.busySeconds).toBeUndefined();
  });
});
