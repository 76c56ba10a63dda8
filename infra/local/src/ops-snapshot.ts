import { Timestamp } from '@google-cloud/firestore';
import { OpsProblem, iso, snapshotName, workSubscription, type OpsContext } from './ops-context';

export interface SnapshotRow {
  name: string;
  topic: string | null;
  subscription: string | null;
  createdAt: string | null;
  createdBy: string | null;
  expireTime: string | null;
}

const shortName = (path: string) => path.split('/').pop() ?? path;

/** `ops snapshot create`: the subscription's ack state now, to seek back to (see ops replay). */
export async function createSnapshot(ctx: OpsContext, subscription: string, name: string): Promise<SnapshotRow> {
  const spec = workSubscription(subscription);
  snapshotName(name);
  const createdAt = Timestamp.now();
  try {
    await ctx.pubsub.subscription(spec.name).createSnapshot(name);
  } catch (e) {
    if ((e as { code?: number }).code === 6) throw new OpsProblem('conflict', `snapshot ${name} exists already`);
    throw e;
  }
  await ctx.ledger.recordSnapshot({ name, subscription: spec.name, createdAt, operator: ctx.operator });
  return {
    name,
    topic: spec.topic,
    subscription: spec.name,
    createdAt: iso(createdAt),
    createdBy: ctx.operator,
    expireTime: null,
  };
}

/** `ops snapshot list`: the project's snapshots, with what our records know of each. */
export async function listSnapshots(ctx: OpsContext): Promise<SnapshotRow[]> {
  const [snapshots] = await ctx.pubsub.getSnapshots();
  const rows: SnapshotRow[] = [];
  for (const s of snapshots) {
    const name = shortName(s.name);
    const record = await ctx.ledger.getSnapshotRecord(name);
    const meta = (s as { metadata?: { topic?: string | null; expireTime?: { seconds?: unknown } | null } }).metadata;
    const expires = meta?.expireTime?.seconds;
    rows.push({
      name,
      topic: meta?.topic ? shortName(meta.topic) : null,
      subscription: record?.subscription ?? null,
      createdAt: iso(record?.createdAt),
      createdBy: record?.operator ?? null,
      expireTime: expires ? new Date(Number(expires) * 1000).toISOString() : null,
    });
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

/** `ops snapshot delete`. */
export async function deleteSnapshot(ctx: OpsContext, name: string): Promise<{ deleted: string }> {
  snapshotName(name);
  try {
    await ctx.pubsub.snapshot(name).delete();
  } catch (e) {
    if ((e as { code?: number }).code === 5) throw new OpsProblem('not_found', `no snapshot ${name}`);
    throw e;
  }
  await ctx.ledger.deleteSnapshotRecord(name);
  return { deleted: name };
}
