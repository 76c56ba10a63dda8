import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Median wall time of `runs` calls after one warm-up, in milliseconds. */
export async function medianMs(fn: () => Promise<unknown>, runs = 3): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const t = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** Prints a table and writes the same rows as JSON under bench/results/. */
export function report(name: string, rows: Record<string, string | number>[]): void {
  console.table(rows);
  const dir = join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify({ name, at: new Date().toISOString(), rows }, null, 2)}\n`);
  console.log(`written: bench/results/${name}.json`);
}
