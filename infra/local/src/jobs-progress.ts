import type { JobView } from '@aiprod/client';
import { unwrap } from '@aiprod/client';
import type { JobsConnection } from './jobs-client';

export interface Progress {
  status: string;
  shotsDone: number;
  shotsTotal: number;
  costUsd: number;
}

const TERMINAL = new Set(['DELIVERED', 'FAILED', 'CANCELED']);
const DONE_SHOTS = new Set(['PASSED']);
/** How far along each stage is, for the bar; RENDERING fills in with the shots that passed QA. */
const STAGE_START: Record<string, number> = {
  QUEUED: 0,
  PLANNING: 0.05,
  AWAITING_APPROVAL: 0.1,
  RENDERING: 0.1,
  ASSEMBLING: 0.85,
  DELIVERED: 1,
};

export function progressOf(job: JobView): Progress {
  const shotsTotal = job.shots.length;
  const finished = job.status === 'ASSEMBLING' || job.status === 'DELIVERED';
  const shotsDone = finished ? shotsTotal : job.shots.filter((s) => DONE_SHOTS.has(s.status)).length;
  return { status: job.status, shotsDone, shotsTotal, costUsd: job.costUsd };
}

export function progressText(p: Progress, width = 24): string {
  const base = STAGE_START[p.status] ?? 1;
  const fraction = p.status === 'RENDERING' && p.shotsTotal > 0 ? base + (0.75 * p.shotsDone) / p.shotsTotal : base;
  const filled = Math.round(Math.min(1, fraction) * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const shots = p.shotsTotal > 0 ? `shots ${p.shotsDone}/${p.shotsTotal}` : 'shots -/-';
  return `${bar} ${p.status.padEnd(17)} ${shots}  $${p.costUsd.toFixed(2)}`;
}

export interface ProgressOutput {
  /** A terminal: the bar is redrawn in place; otherwise one line per change. */
  tty: boolean;
  write(text: string): void;
}

/**
 * Follows a job over its SSE feed until it is over, drawing the stage, the shots done of the total
 * and the cost so far after each event (read from the job itself, so the numbers are the API's).
 * Returns the finished job.
 */
export async function watchJob(conn: JobsConnection, jobId: string, out: ProgressOutput): Promise<JobView> {
  const read = async () =>
    unwrap(await conn.client.GET('/v1/jobs/{id}', { params: { path: { id: jobId } } })) as JobView;
  let last = '';
  let hinted = false;
  const show = (job: JobView) => {
    const text = progressText(progressOf(job));
    if (text === last) return;
    last = text;
    out.write(out.tty ? `\r\x1b[2K${text}` : `${text}\n`);
    if (job.status === 'AWAITING_APPROVAL' && !hinted) {
      hinted = true;
      out.write(
        `${out.tty ? '\n' : ''}waiting for approval: review with "aiprod jobs plan ${jobId}", then "aiprod jobs approve ${jobId}"\n`,
      );
      last = '';
    }
  };
  let job = await read();
  show(job);
  if (!TERMINAL.has(job.status)) {
    for await (const _event of conn.client.jobEvents(jobId)) {
      job = await read();
      show(job);
    }
    job = await read();
    show(job);
  }
  if (out.tty) out.write('\n');
  return job;
}
