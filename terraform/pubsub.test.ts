import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from '@cdktf/hcl2json';

type Block = Record<string, unknown>[];

describe('terraform/modules/pubsub', () => {
  it('creates topics, subscriptions and dead letters from the exported catalogue', async () => {
    const file = join(__dirname, 'modules', 'pubsub', 'main.tf');
    const hcl = (await parse('main.tf', readFileSync(file, 'utf8'))) as {
      locals: Block;
      resource: Record<string, Record<string, Block>>;
    };
    expect(JSON.stringify(hcl.locals)).toContain('jsondecode(file(var.catalogue_file))');
    const r = hcl.resource;
    expect(Object.keys(r.google_pubsub_topic ?? {}).sort()).toEqual(['dead_letter', 'topic']);
    expect(Object.keys(r.google_pubsub_subscription ?? {}).sort()).toEqual([
      'dead_letter_hold',
      'dead_letter_watch',
      'subscription',
    ]);
    const sub = r.google_pubsub_subscription!.subscription![0]!;
    expect(JSON.stringify(sub.dead_letter_policy)).toContain('each.value.policy.maxDeliveryAttempts');
    expect(JSON.stringify(sub.retry_policy)).toContain('each.value.policy.minimumBackoffSeconds');
    expect(sub.ack_deadline_seconds).toBe('${each.value.policy.ackDeadlineSeconds}');
  });
});
