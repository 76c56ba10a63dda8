// By path, not by package name: jest loads its globalSetup (which imports this file) with Node's
// own resolution, without the moduleNameMapper, and `@aiprod/emulators` would resolve to its build.
import { startFirestoreEmulator, startPubsubEmulator, type EmulatorHandle } from '../../emulators/src';

export interface EmulatorHosts {
  pubsub: string;
  firestore: string;
}

export interface RunningEmulators {
  hosts: EmulatorHosts;
  handles: EmulatorHandle[];
  /** The variables the Google clients read to find the emulators. */
  env: Record<'PUBSUB_EMULATOR_HOST' | 'FIRESTORE_EMULATOR_HOST' | 'METADATA_SERVER_DETECTION', string>;
  stop(): Promise<void>;
}

/**
 * Starts one Pub/Sub and one Firestore emulator, their logs in `logDir` (the Pub/Sub emulator's
 * stack traces are noisy). Callers isolate their data by project id, not by emulator.
 */
export async function startEmulators(options: { logDir: string }): Promise<RunningEmulators> {
  const [pubsub, firestore] = await Promise.all([
    startPubsubEmulator({ logDir: options.logDir }),
    startFirestoreEmulator({ logDir: options.logDir }),
  ]);
  return {
    hosts: { pubsub: pubsub.host, firestore: firestore.host },
    handles: [pubsub, firestore],
    env: {
      PUBSUB_EMULATOR_HOST: pubsub.host,
      FIRESTORE_EMULATOR_HOST: firestore.host,
      // Without it every client first probes the metadata server, which is not there.
      METADATA_SERVER_DETECTION: 'none',
    },
    stop: async () => {
      await Promise.all([pubsub.stop(), firestore.stop()]);
    },
  };
}
