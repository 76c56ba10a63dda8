import { Timestamp } from '@google-cloud/firestore';
import { emulatorProject } from '@aiprod/testing';
import { CAPACITY_COLLECTION, CapacityBoard, CapacityReporter, capacityOf, type WorkerCapacity } from '../src';

const env = emulatorProject('capacityboard', 'render');
const { db } = env;
afterAll(() => env.close());

const worker = (over: Partial<WorkerCapacity> & { atMs: number }): WorkerCapacity => ({
  model: 'm',
  inFlight: 0,
  throttled: 0,
  limit: 2,
  ...over,
  heartbeatAt: Timestamp.fromMillis(over.atMs),
});

describe('the freshness and room rule (capacityOf)', () => {
  const now = 1_000_000;
  it('knows nothing without a document, or when every worker is older than the window', () => {
    expect(capacityOf('runway', undefined, now)).toMatchObject({ known: false, hasRoom: false });
    const stale = { backend: 'runway' as const, workers: { a: worker({ atMs: now - 30_001 }) } };
    expect(capacityOf('runway', stale, now, 30_000)).toMatchObject({ known: false, hasRoom: false, limit: 0 });
    expect(capacityOf('runway', stale, now, 31_000)).toMatchObject({ known: true, hasRoom: true, limit: 2 });
  });

  it('has room below the fresh workers’ summed limit, capped by the vendor’s, and none while any task is throttled', () => {
    const doc = {
      backend: 'veo' as const,
      workers: {
        a: worker({ atMs: now - 1_000, inFlight: 2, limit: 2 }),
        b: worker({ atMs: now - 2_000, inFlight: 1, limit: 2 }),
        // A dead worker's entry: its numbers count for nothing.
        dead: worker({ atMs: now - 60_000, inFlight: 0, limit: 10 }),
      },
    };
    expect(capacityOf('veo', doc, now)).toMatchObject({ known: true, hasRoom: true, inFlight: 3, limit: 4 });
    const capped = {
      ...doc,
      workers: { ...doc.workers, a: { ...doc.workers.a, vendorLimit: 3 }, b: { ...doc.workers.b, vendorLimit: 3 } },
    };
    expect(capacityOf('veo', capped, now)).toMatchObject({ hasRoom: false, inFlight: 3, limit: 3 });
    const throttled = { ...doc, workers: { ...doc.workers, b: { ...doc.workers.b, throttled: 1 } } };
    expect(capacityOf('veo', throttled, now)).toMatchObject({ hasRoom: false, throttled: 1 });
    expect(capacityOf('veo', throttled, now).summary).toBe('veo: 3 in flight of 4, 1 throttled by the vendor');
  });
});

describe('CapacityReporter and CapacityBoard on the emulator', () => {
  it('writes its attempts in hand and throttled tasks, coalescing changes, and leaves the board when stopped', async () => {
    const board = new CapacityBoard(db);
    const reporter = new CapacityReporter(db, {
      backend: 'runway',
      model: 'gen4.5',
      workerId: 'pod-1.example',
      limit: 2,
      minIntervalMs: 300,
      heartbeatMs: 60_000,
    });
    const other = new CapacityReporter(db, {
      backend: 'runway',
      model: 'gen4.5',
      workerId: 'pod-2',
      limit: 1,
      minIntervalMs: 0,
    });
    reporter.start();
    await reporter.flush();
    await other.flush();
    expect(await board.read('runway')).toMatchObject({ known: true, hasRoom: true, inFlight: 0, limit: 3 });

    reporter.begin('j/s01/a1');
    reporter.begin('j/s02/a1');
    reporter.setThrottled('j/s02/a1', true);
    // Three changes inside one interval are coalesced: the board shows the last state within it.
    await new Promise((r) => setTimeout(r, 600));
    expect(await board.read('runway')).toMatchObject({ inFlight: 2, throttled: 1, hasRoom: false });

    reporter.end('j/s02/a1');
    await reporter.flush();
    expect(await board.read('runway')).toMatchObject({ inFlight: 1, throttled: 0, hasRoom: true });
    other.begin('x');
    reporter.begin('j/s03/a1');
    await Promise.all([reporter.flush(), other.flush()]);
    expect(await board.read('runway')).toMatchObject({ inFlight: 3, limit: 3, hasRoom: false });

    // Read later than the freshness window, the same document says nothing.
    const later = Date.now() + 31_000;
    expect(await board.read('runway', later)).toMatchObject({ known: false, hasRoom: false });

    await reporter.stop();
    const doc = (await db.collection(CAPACITY_COLLECTION).doc('runway').get()).data()!;
    expect(Object.keys(doc.workers as object)).toEqual(['pod-2']);
    expect(await board.readAll(['runway', 'veo'])).toEqual(
      new Map([
        ['runway', expect.objectContaining({ known: true, inFlight: 1, limit: 1, hasRoom: false })],
        ['veo', expect.objectContaining({ known: false })],
      ]),
    );
    await other.stop();
  });
});
