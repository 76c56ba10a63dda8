import { DEFAULT_FALLBACK_POLICY, fallbackChain, parseFallbackPolicy } from './fallback';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { aBrief } from '@aiprod/testing';
import {
  BriefSchema,
  CATALOGUE,
  JOB_STATUSES,
  JOB_TRANSITIONS,
  SHOT_TRANSITIONS,
  TOPICS,
  catalogueJson,
  subscriptions,
  subscriptionsFor,
  validate,
} from './index';

describe('topic catalogue', () => {
  it('is exported as JSON for Terraform, and the committed copy is current', () => {
    const committed = JSON.parse(readFileSync(join(__dirname, '..', 'catalogue.json'), 'utf8')) as unknown;
    expect(committed).toEqual(JSON.parse(JSON.stringify(catalogueJson())));
  });

  it('uses versioned names Pub/Sub accepts, with a dead-letter topic per subscription', () => {
    const valid = /^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$/;
    for (const topic of TOPICS) expect(topic).toMatch(/^aiprod\.[a-z.]+\.v\d+$/);
    for (const s of subscriptions()) {
      for (const name of [s.name, s.deadLetterTopic, s.deadLetterHoldSubscription, s.deadLetterWatchSubscription]) {
        expect(name).toMatch(valid);
        expect(name.startsWith('goog')).toBe(false);
      }
      expect(s.policy.maxDeliveryAttempts).toBeGreaterThanOrEqual(5);
      expect(s.policy.maxDeliveryAttempts).toBeLessThanOrEqual(100);
      expect(s.policy.ackDeadlineSeconds).toBeGreaterThanOrEqual(10);
      expect(s.policy.ackDeadlineSeconds).toBeLessThanOrEqual(600);
    }
  });

  it('gives each render pool only its own backend topic', () => {
    expect(subscriptionsFor('render', 'local').map((s) => s.topic)).toEqual(['aiprod.render.local.v1']);
    expect(subscriptionsFor('render', 'veo').map((s) => s.topic)).toEqual(['aiprod.render.veo.v1']);
    expect(subscriptionsFor('planner').map((s) => s.topic)).toEqual([
      'aiprod.job.requested.v1',
      'aiprod.job.approved.v1',
      'aiprod.plan.changes.requested.v1',
      'aiprod.estimate.requested.v1',
    ]);
  });

  it('closes every message schema to unknown fields', () => {
    for (const topic of TOPICS) {
      const result = validate(CATALOGUE[topic].schema, { v: 1, jobId: 'j1', tenantId: 't1', unexpected: true });
      expect(result.ok).toBe(false);
    }
  });
});

describe('state tables', () => {
  it('cover every status and leave terminal states with no way out but an operator replay', () => {
    expect(Object.keys(JOB_TRANSITIONS).sort()).toEqual([...JOB_STATUSES].sort());
    expect(JOB_TRANSITIONS.DELIVERED).toEqual([]);
    expect(JOB_TRANSITIONS.CANCELED).toEqual([]);
    expect(SHOT_TRANSITIONS.PASSED).toEqual([]);
  });
});

describe('brief schema', () => {
  // The shared fixture is the minimal brief: this also keeps every other suite's brief valid.
  const brief = aBrief();

  it('accepts a minimal brief', () => {
    expect(validate(BriefSchema, brief).ok).toBe(true);
  });

  it('names each offending field and rule', () => {
    const result = validate(BriefSchema, {
      ...brief,
      durationSeconds: 2,
      aspectRatios: ['16:9', '16:9'],
      brand: { name: 'A', colors: ['blue'] },
      __proto__: { polluted: true },
      extra: 1,
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const pairs = result.errors.map((e) => `${e.field} ${e.rule}`);
    expect(pairs).toEqual(
      expect.arrayContaining([
        '/durationSeconds minimum',
        '/aspectRatios uniqueItems',
        '/brand/colors/0 pattern',
        '/extra additionalProperties',
      ]),
    );
  });
});

describe('fallback policy', () => {
  it('accepts the default policy as configuration and refuses a policy with an unknown action', () => {
    expect(parseFallbackPolicy(JSON.stringify(DEFAULT_FALLBACK_POLICY))).toEqual(DEFAULT_FALLBACK_POLICY);
    const broken = structuredClone(DEFAULT_FALLBACK_POLICY) as unknown as {
      backends: { runway: { onError: Record<string, string> } };
    };
    broken.backends.runway.onError.safety = 'shrug';
    expect(() => parseFallbackPolicy(JSON.stringify(broken))).toThrow(
      /invalid fallback policy: \/backends\/runway\/onError\/safety/,
    );
  });
  it('filters the chain by what the preset allows', () => {
    expect(fallbackChain(DEFAULT_FALLBACK_POLICY, 'runway', ['local', 'runway', 'replicate'])).toEqual([
      'replicate',
      'local',
    ]);
    expect(fallbackChain(DEFAULT_FALLBACK_POLICY, 'veo', ['veo', 'local'])).toEqual(['local']);
  });
});
