import { BackendFailure, type BackendError, type PollResult, type VideoBackend } from '../src/backends/backend';

/** Polls a task until it ends, as the render pool does; bounded to `maxPolls` reads of 20 s each. */
export async function pollToEnd(backend: VideoBackend, taskId: string, maxPolls = 20): Promise<PollResult[]> {
  const seen: PollResult[] = [];
  for (let i = 0; i < maxPolls; i++) {
    const result = await backend.poll(taskId, AbortSignal.timeout(20_000));
    seen.push(result);
    if (result.state !== 'pending') return seen;
  }
  throw new Error(`task ${taskId} still pending after ${maxPolls} polls`);
}

/** The classified error a call threw; its message must not carry `secret` (the vendor credential). */
export async function failureOf(promise: Promise<unknown>, secret?: string): Promise<BackendError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendFailure);
  const detail = (err as BackendFailure).detail;
  if (secret !== undefined) expect(detail.message).not.toContain(secret);
  return detail;
}
