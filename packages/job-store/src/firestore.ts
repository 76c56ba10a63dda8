import { Firestore } from '@google-cloud/firestore';

/** One Firestore client per process, built in main.ts. The emulator is picked up from FIRESTORE_EMULATOR_HOST. */
export function createFirestore(projectId: string): Firestore {
  return new Firestore({ projectId, ignoreUndefinedProperties: true });
}
