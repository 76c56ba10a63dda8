import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFirestoreEmulator, startPubsubEmulator } from '../packages/emulators/src';

/** Starts one Pub/Sub and one Firestore emulator for the whole run; suites isolate themselves
 *  by project id. Their addresses reach the test workers through the environment. */
export default async function globalSetup(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'aiprod-test-'));
  const [pubsub, firestore] = await Promise.all([
    startPubsubEmulator({ logDir: dir }),
    startFirestoreEmulator({ logDir: dir }),
  ]);
  process.env.PUBSUB_EMULATOR_HOST = pubsub.host;
  process.env.FIRESTORE_EMULATOR_HOST = firestore.host;
  process.env.METADATA_SERVER_DETECTION = 'none';
  process.env.AIPROD_TEST_DIR = dir;
  writeFileSync(join(dir, 'emulators.json'), JSON.stringify({ pubsub, firestore }));
  (globalThis as Record<string, unknown>).__AIPROD_EMULATORS__ = [pubsub, firestore];
}
