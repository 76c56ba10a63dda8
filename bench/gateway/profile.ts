// Where a POST /v1/jobs spends its time: each store call the gateway makes on that path, timed on
// its own at the bench's concurrency against the same emulators and tenant (so the unfinished-jobs
// count runs over as many jobs as the gateway run left behind).
import { randomBytes, randomUUID } from 'node:crypto';
import type { Firestore } from '@google-cloud/firestore';
import type { Brief } from '../../packages/contracts/src';
import {
  IdempotencyStore,
  JobStore,
  LeasedWindowCounter,
  TenantStore,
  countActiveJobs,
} from '../../packages/job-store/src';
import type { Publisher } from '../../packages/pubsub/src';
import { JobQuotas } from '../../services/gateway/src/quotas';

export interface StageTiming {
  stage: string;
  calls: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
}

async function time(stage: string, seconds: number, workers: number, op: () => Promise<unknown>): Promise<StageTiming> {
  const latencies: number[] = [];
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (Date.now() < deadline) {
        const t = process.hrtime.bigint();
        const r = await op();
        // An op that sets itself up first times its own part: { timedMs }.
        const own = (r as { timedMs?: unknown } | undefined)?.timedMs;
        latencies.push(typeof own === 'number' ? own : Number(process.hrtime.bigint() - t) / 1e6);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? NaN;
  const mean = latencies.reduce((a, b) => a + b, 0) / latencies.length;
  return { stage, calls: latencies.length, meanMs: mean, p50Ms: at(50), p99Ms: at(99) };
}

export async function profileStages(opts: {
  db: Firestore;
  publisher: Publisher<'gateway'>;
  tenantId: string;
  key: string;
  brief: Brief;
  seconds: number;
  workers: number;
}): Promise<StageTiming[]> {
  const { db, publisher, tenantId, key, brief, seconds, workers } = opts;
  const tenants = new TenantStore(db);
  const jobs = new JobStore(db);
  const idempotency = new IdempotencyStore(db, { ttlMs: 24 * 3600_000 });
  const tenant = (await tenants.getTenant(tenantId))!;
  // As main.ts builds them: the rate limit's counter and the quotas (with their own caches).
  const rateCounter = new LeasedWindowCounter(db, { collection: 'rateLimits', leaseFraction: 0.05, maxLease: 100 });
  const quotas = new JobQuotas({
    db,
    defaults: { maxConcurrentJobs: 1_000_000, maxJobsPerDay: 1_000_000, monthlySpendCapUsd: null },
  });
  const out: StageTiming[] = [];
  // The gateway reads a key once per API_KEY_CACHE_SECONDS (default 5) per process, not per request.
  out.push(
    await time('auth: verifyApiKey (1 read, on a cache miss)', seconds, workers, () => tenants.verifyApiKey(key)),
  );
  out.push(
    await time('auth: getTenant (cached 5 s)', seconds, workers, () => tenants.getTenant(tenantId, { maxAgeMs: 5000 })),
  );
  out.push(
    await time('rate limit: leased counter take', seconds, workers, () => {
      const now = Date.now();
      const start = now - (now % 60_000);
      return rateCounter.take(`profile:${tenantId}`, { start, end: start + 60_000 }, 1_000_000);
    }),
  );
  out.push(
    await time('quotas: count() of unfinished jobs, uncached', Math.min(seconds, 3), workers, () =>
      countActiveJobs(db, tenantId, 1_000_000),
    ),
  );
  out.push(await time('quotas: checkJobCreation (as served)', seconds, workers, () => quotas.checkJobCreation(tenant)));
  out.push(
    await time('idempotency: begin (1 write)', seconds, workers, async () => {
      const begun = await idempotency.begin(tenantId, randomUUID(), 'hash');
      if (begun.kind !== 'started') throw new Error(`unexpected ${begun.kind}`);
    }),
  );
  out.push(
    await time("job: createJobOnce + the key's answer (1 commit)", seconds, workers, async () => {
      const k = randomUUID();
      const begun = await idempotency.begin(`${tenantId}-profile`, k, 'hash');
      if (begun.kind !== 'started') throw new Error(`unexpected ${begun.kind}`);
      const t = process.hrtime.bigint();
      await jobs.createJobOnce(
        {
          jobId: `job_${randomBytes(12).toString('hex')}`,
          tenantId: `${tenantId}-profile`,
          brief,
          preset: 'social_quick',
        },
        {
          idempotency: async (job) => ({
            tenantId: `${tenantId}-profile`,
            key: k,
            lease: begun.lease,
            response: { status: 202, headers: {}, body: '{}' },
            jobId: job.jobId,
          }),
        },
      );
      return { timedMs: Number(process.hrtime.bigint() - t) / 1e6 };
    }),
  );
  out.push(
    await time('job: JobStore.createJob', seconds, workers, () =>
      jobs.createJob({
        jobId: `job_${randomBytes(12).toString('hex')}`,
        tenantId: `${tenantId}-profile`,
        brief,
        preset: 'social_quick',
      }),
    ),
  );
  out.push(
    await time('publish: aiprod.job.requested.v1', seconds, workers, () =>
      publisher.publish('aiprod.job.requested.v1', { v: 1, jobId: `job_${randomBytes(12).toString('hex')}`, tenantId }),
    ),
  );
  return out;
}
