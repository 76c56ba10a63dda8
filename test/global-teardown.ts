import { rmSync } from 'node:fs';
import type { EmulatorHandle } from '../packages/emulators/src';

export default async function globalTeardown(): Promise<void> {
  const handles = ((globalThis as Record<string, unknown>).__AIPROD_EMULATORS__ ?? []) as EmulatorHandle[];
  await Promise.all(handles.map((h) => h.stop()));
  if (process.env.AIPROD_TEST_DIR) rmSync(process.env.AIPROD_TEST_DIR, { recursive: true, force: true });
}
