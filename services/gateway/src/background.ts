/**
 * Firestore work a request starts and does not wait for (an API key's lastUsedAt, freeing an
 * Idempotency-Key after a streamed answer), kept so shutdown can wait for it before the client
 * is terminated: otherwise the write is lost, and a read begun after terminate() is an unhandled
 * rejection in @google-cloud/firestore (see LeasedWindowCounter.close in @aiprod/job-store).
 */
export class BackgroundWork {
  private readonly running = new Set<Promise<void>>();
  private closed = false;

  /** Starts `work` unless closing; its failure is `onError`'s, never an unhandled rejection. */
  start(work: () => Promise<unknown>, onError: (error: unknown) => void = () => undefined): void {
    if (this.closed) return;
    const running: Promise<void> = work()
      .then(() => undefined, onError)
      .finally(() => this.running.delete(running));
    this.running.add(running);
  }

  /** Starts nothing more and waits for what is running. */
  async close(): Promise<void> {
    this.closed = true;
    for (let round = 0; round < 10 && this.running.size > 0; round++) {
      await Promise.allSettled([...this.running]);
    }
  }
}
