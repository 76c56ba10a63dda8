#!/usr/bin/env node
// Reads the JSON of `gcloud run services describe --format=json` or
// `gcloud beta run worker-pools describe --format=json` (both Cloud Run v1 resources) on stdin
// and prints one fact canary.sh needs, so the shell script holds no JSON parsing:
//   split          the current assignment as REVISION=PERCENT,… (traffic for a service,
//                  instance split for a worker pool), ready to pass back to --to-revisions
//   created        the newest revision (status.latestCreatedRevisionName)
//   url TAG        the URL of a service's tagged revision (e.g. the canary)
import { readFileSync } from 'node:fs';

/** REVISION=PERCENT,… from a v1 Service's status.traffic or a WorkerPool's status.instanceSplits. */
export function currentSplit(resource) {
  const entries = resource?.status?.traffic ?? resource?.status?.instanceSplits ?? [];
  const byRevision = new Map();
  for (const entry of entries) {
    const percent = Number(entry.percent ?? 0);
    if (!entry.revisionName || percent <= 0) continue; // tag-only entries carry no traffic
    byRevision.set(entry.revisionName, (byRevision.get(entry.revisionName) ?? 0) + percent);
  }
  if (byRevision.size === 0) {
    throw new Error(`${resource?.metadata?.name ?? 'resource'} has no revision with a share to return to`);
  }
  // Largest share first: canary.sh splits a pool between the new revision and this one.
  return [...byRevision]
    .sort((a, b) => b[1] - a[1])
    .map(([revision, percent]) => `${revision}=${percent}`)
    .join(',');
}

export function latestCreated(resource) {
  const name = resource?.status?.latestCreatedRevisionName;
  if (!name) throw new Error(`${resource?.metadata?.name ?? 'resource'} reports no created revision`);
  return name;
}

export function taggedUrl(resource, tag) {
  const entry = (resource?.status?.traffic ?? []).find((t) => t.tag === tag && t.url);
  if (!entry) throw new Error(`${resource?.metadata?.name ?? 'service'} has no URL tagged ${tag}`);
  return entry.url;
}

function main([command, arg]) {
  const resource = JSON.parse(readFileSync(0, 'utf8'));
  if (command === 'split') return currentSplit(resource);
  if (command === 'created') return latestCreated(resource);
  if (command === 'url' && arg) return taggedUrl(resource, arg);
  throw new Error('usage: run-status.mjs split|created|url TAG < resource.json');
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  try {
    process.stdout.write(`${main(process.argv.slice(2))}\n`);
  } catch (error) {
    process.stderr.write(`run-status: ${error.message}\n`);
    process.exitCode = 1;
  }
}
