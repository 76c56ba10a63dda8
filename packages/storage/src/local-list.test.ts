import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBlobStore } from './local';

describe('LocalBlobStore list and deletePrefix', () => {
  const root = mkdtempSync(join(tmpdir(), 'blob-list-'));
  const store = new LocalBlobStore({
    rootDir: root,
    publicBaseUrl: 'http://127.0.0.1',
    signingKey: Buffer.alloc(32, 2),
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('lists by prefix in key order, bounded, and deletes exactly the prefix', async () => {
    for (const key of ['tenants/a/j/2.mp4', 'tenants/a/j/1.mp4', 'tenants/a2/j/1.mp4', 'tenants/ab.txt']) {
      await store.putBytes(key, Buffer.from(key));
    }
    expect((await store.list('tenants/a/')).map((b) => b.key)).toEqual(['tenants/a/j/1.mp4', 'tenants/a/j/2.mp4']);
    // A prefix need not end at a "/": it matches keys, not folders.
    expect((await store.list('tenants/a')).map((b) => b.key)).toEqual([
      'tenants/a/j/1.mp4',
      'tenants/a/j/2.mp4',
      'tenants/a2/j/1.mp4',
      'tenants/ab.txt',
    ]);
    expect(await store.list('tenants/a/', { limit: 1 })).toHaveLength(1);
    const [first] = await store.list('tenants/a/j/1.mp4');
    expect(first).toMatchObject({ key: 'tenants/a/j/1.mp4', sizeBytes: 17 });
    expect(first!.updatedAt.getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(await store.list('nothing/')).toEqual([]);

    expect(await store.deletePrefix('tenants/a/')).toBe(2);
    expect((await store.list('tenants/')).map((b) => b.key)).toEqual(['tenants/a2/j/1.mp4', 'tenants/ab.txt']);
    // No empty folders left naming what was there.
    expect(readdirSync(join(root, 'tenants')).sort()).toEqual(['a2', 'ab.txt']);
    expect(await store.deletePrefix('tenants/a/')).toBe(0);
    await expect(store.list('')).rejects.toThrow(/empty/);
    await expect(store.list('../x/')).rejects.toThrow(/invalid prefix/);
  });
});
