import type { BlobStore } from '@aiprod/storage';

/** Gives `fn` local paths for several stored objects at once (nested withLocalFile calls). */
export function withLocalFiles<T>(storage: BlobStore, keys: string[], fn: (paths: string[]) => Promise<T>): Promise<T> {
  const step = (i: number, paths: string[]): Promise<T> =>
    i === keys.length ? fn(paths) : storage.withLocalFile(keys[i]!, (p) => step(i + 1, [...paths, p]));
  return step(0, []);
}
