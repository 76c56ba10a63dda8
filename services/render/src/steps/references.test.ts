import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PermanentError, RetryableError, type ShotReference, type ShotSpec } from '@aiprod/contracts';
import { LocalBlobStore } from '@aiprod/storage';
import { dataUri, dataUriLength, loadReferences } from './references';

const root = mkdtempSync(join(tmpdir(), 'render-references-'));
const storage = new LocalBlobStore({
  rootDir: root,
  publicBaseUrl: 'https://127.0.0.1:1',
  signingKey: Buffer.alloc(32),
});
const prefix = 'tenants/t1/jobs/job_refs/references';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
// Not a real PNG: loadReferences checks bytes against the digest, never decodes them.
const product = Buffer.from('png bytes of the product');
const style = Buffer.from('jpeg bytes of the style');

const ref = (id: string, role: ShotReference['role'], bytes: Buffer, ext = 'png'): ShotReference => ({
  id,
  role,
  path: `${prefix}/${id}.${ext}`,
  contentType: ext === 'png' ? 'image/png' : 'image/jpeg',
  sha256: sha256(bytes),
});

const specWith = (references?: ShotReference[]) =>
  ({ shotId: 's01', ...(references ? { references } : {}) }) as ShotSpec;

beforeAll(async () => {
  await storage.putBytes(`${prefix}/ref-1.png`, product, { contentType: 'image/png' });
  await storage.putBytes(`${prefix}/ref-2.jpg`, style, { contentType: 'image/jpeg' });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('loadReferences', () => {
  it("reads each reference's bytes from our storage, in the shot's order, with its role and description", async () => {
    const loaded = await loadReferences(
      storage,
      specWith([
        { ...ref('ref-1', 'product', product), description: 'the bottle' },
        ref('ref-2', 'style', style, 'jpg'),
      ]),
    );
    expect(loaded.map((r) => [r.id, r.role, r.contentType, r.bytes.toString(), r.description])).toEqual([
      ['ref-1', 'product', 'image/png', product.toString(), 'the bottle'],
      ['ref-2', 'style', 'image/jpeg', style.toString(), undefined],
    ]);
    expect(dataUri(loaded[0]!)).toBe(`data:image/png;base64,${product.toString('base64')}`);
  });

  it('loads nothing for a shot without references', async () => {
    expect(await loadReferences(storage, specWith())).toEqual([]);
  });

  it('fails permanently when a reference is gone from storage', async () => {
    const missing = { ...ref('ref-3', 'brand', product), path: `${prefix}/ref-3.png` };
    const error = await loadReferences(storage, specWith([missing])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).message).toBe('reference ref-3 is missing from storage');
  });

  it('fails permanently when the stored bytes do not match the recorded digest', async () => {
    const tampered = { ...ref('ref-1', 'product', product), sha256: sha256(Buffer.from('what the plan recorded')) };
    const error = await loadReferences(storage, specWith([tampered])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).message).toBe('reference ref-1 does not match its recorded digest');
  });

  it('fails retryably when storage cannot be read (not a missing object)', async () => {
    // A symlink to itself: the filesystem answers ELOOP, an error of the store, not "no such object".
    const looped = ref('ref-4', 'product', product);
    const file = join(root, looped.path);
    mkdirSync(dirname(file), { recursive: true });
    symlinkSync(file, file);
    const error = await loadReferences(storage, specWith([looped])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).not.toBeInstanceOf(PermanentError);
    expect((error as RetryableError).message).toBe('reference ref-4 could not be read');
  });
});

describe('dataUriLength', () => {
  it('is the length of the data URI, for every remainder of the base64 blocks', () => {
    for (const n of [0, 1, 2, 3, 4, 5, 6, 1000, 1001]) {
      const loaded = { id: 'r', role: 'product' as const, contentType: 'image/png', bytes: Buffer.alloc(n, 7) };
      expect(dataUriLength(loaded)).toBe(dataUri(loaded).length);
    }
  });
});
