import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The file, not the package's index: Node loads this without jest's module mapping (see there).
import { startEmulators } from '../packages/testing/src/emulators';

/** Starts one Pub/Sub and one Firestore emulator for the whole run; suites isolate themselves
 *  by project id. Their addresses reach the test workers through the environment. */
export default async function globalSetup(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'aiprod-test-'));
  const emulators = await startEmulators({ logDir: dir });
  Object.assign(process.env, emulators.env);
  process.env.AIPROD_TEST_DIR = dir;
  const [pubsub, firestore] = emulators.handles;
  writeFileSync(join(dir, 'emulators.json'), JSON.stringify({ pubsub, firestore }));
  (globalThis as Record<string, unknown>).__AIPROD_EMULATORS__ = emulators.handles;
}
