import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_FALLBACK_POLICY, type FallbackPolicy } from '@aiprod/contracts';
import {
  requireEmulators,
  uniqueProjectId,
  type ReplicateServer,
  type RunwayServer,
  type VeoServer,
} from '@aiprod/testing';
import { LocalStack, type StackOptions } from '../../infra/local/src';

/** What the end-to-end suites share: the built services, test-sized retries, a Runway pool. */
export const repoRoot = resolve(__dirname, '..', '..');

/** The whole local platform on the suite's emulators, with redeliveries and sweeps seconds apart. */
export function startTestStack(
  name: string,
  stateDir: string,
  options: Omit<StackOptions, 'repoRoot' | 'stateDir'> = {},
): Promise<LocalStack> {
  for (const s of ['gateway', 'planner', 'render', 'qa', 'delivery']) {
    if (!existsSync(join(repoRoot, 'services', s, 'dist', 'main.js')))
      throw new Error(`services/${s} is not built: run "npm test"`);
  }
  return LocalStack.start({
    repoRoot,
    stateDir,
    projectId: uniqueProjectId(name),
    emulators: requireEmulators(),
    policyOverride: { minimumBackoffSeconds: 0, maximumBackoffSeconds: 1, ackDeadlineSeconds: 10 },
    sweepIntervalSeconds: 1,
    ...options,
  });
}

/** The default fallback policy with test-sized backoffs, so a retry costs milliseconds, not minutes. */
export function testFallbackPolicy(maxBackoffMs = 500): FallbackPolicy {
  const policy = structuredClone(DEFAULT_FALLBACK_POLICY);
  for (const b of Object.values(policy.backends)) b.backoff = { initialMs: 50, maxMs: maxBackoffMs, multiplier: 2 };
  return policy;
}

/** A Runway render pool pointed at its protocol test server. */
export const runwayPool = (runway: RunwayServer, apiKey: string) => ({
  RUNWAY_API_KEY: apiKey,
  RUNWAY_BASE_URL: runway.url,
  RUNWAY_POLL_INTERVAL_MS: '100',
});

/** A Replicate render pool pointed at its protocol test server. */
export const replicatePool = (replicate: ReplicateServer, apiToken: string) => ({
  REPLICATE_API_TOKEN: apiToken,
  REPLICATE_BASE_URL: replicate.baseUrl,
  REPLICATE_POLL_INTERVAL_MS: '100',
});

/** A Veo render pool pointed at its protocol test server. */
export const veoPool = (veo: VeoServer, accessToken: string) => ({
  VERTEX_BASE_URL: veo.url,
  VERTEX_ACCESS_TOKEN: accessToken,
  VEO_POLL_INTERVAL_MS: '100',
});
