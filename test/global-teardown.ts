import type { EmulatorHandle } from '../packages/emulators/src';

export default async function globalTeardown(): Promise<void> {
  const handles = ((globalThis as Record<string, unknown>).__AIPROD_EMULATORS__ ?? []) as EmulatorHandle[];
  await Promise.all(handles.map((h) => h.stop()));
}
