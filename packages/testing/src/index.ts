/** Polls until `probe` returns a value that is not undefined; bounded in time. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  options: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
  throw new Error(
    `timed out after ${options.timeoutMs} ms waiting for ${options.what}${last ? `: ${String(last)}` : ''}`,
  );
}

export * from './memory-log';
export * from './fixtures';
export * from './emulators';
export * from './harness';
export * from './defects';
export * from './vertex-server';
export * from './vendors/veo-server';
export * from './vendors/tts-server';
export * from './vendors/common';
export * from './vendors/runway-server';
export * from './vendors/replicate-server';
export * from './vendors/billing';
export * from './metrics-probe';
export * from './spans';
export { cueOffsetsMs, parseCaptionFiles, type ParsedCue } from './captions';
export { measureSpeech } from './measure-speech';
