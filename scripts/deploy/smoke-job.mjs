#!/usr/bin/env node
// The deploy's smoke job: submits one brief to a gateway through the public API and waits, bounded
// in time, for the job to be DELIVERED. Plain Node 24 ESM, no build step, no dependencies, so
// Cloud Build runs it straight from the checkout.
//
//   SMOKE_API_KEY=… node scripts/deploy/smoke-job.mjs --gateway https://canary---… [--timeout 600]
//
// The API key comes only from the environment (Cloud Build maps Secret Manager's
// aiprod-smoke-api-key there), so it never appears in a process list or a build log. When the
// gateway sits behind Cloud Run's IAM check, SMOKE_ID_TOKEN is sent as X-Serverless-Authorization,
// which Cloud Run reads instead of Authorization, leaving Authorization to the API key.
//
// The default brief (smoke-brief.json) is a short social_quick brief with budgetCapUsd 0: a brief
// cannot name a backend, but a zero cap leaves the planner only the free local animatic backend,
// so the smoke job never bills a vendor; --expect-backend local then checks that it was so.
//
// Exit codes: 0 delivered; 1 the job ended otherwise (FAILED, CANCELED, parked for approval, or
// delivered on another backend); 2 not finished within --timeout; 3 the gateway refused the
// request or could not be reached, or the arguments are wrong.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const EXIT = { delivered: 0, failed: 1, timeout: 2, error: 3 };

const USAGE =
  'usage: SMOKE_API_KEY=… smoke-job.mjs --gateway URL [--brief FILE] [--timeout SECONDS] ' +
  '[--interval SECONDS] [--expect-backend NAME]';

class SmokeError extends Error {
  constructor(message, exitCode) {
    super(message);
    this.exitCode = exitCode;
  }
}

const say = (line) => process.stderr.write(`smoke: ${line}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function options(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        gateway: { type: 'string', default: process.env.SMOKE_GATEWAY_URL },
        brief: { type: 'string', default: join(dirname(fileURLToPath(import.meta.url)), 'smoke-brief.json') },
        timeout: { type: 'string', default: '600' },
        interval: { type: 'string', default: '3' },
        'expect-backend': { type: 'string' },
      },
    }));
  } catch (error) {
    throw new SmokeError(`${error.message}\n${USAGE}`, EXIT.error);
  }
  const timeoutSeconds = Number(values.timeout);
  const intervalSeconds = Number(values.interval);
  if (!values.gateway || !/^https?:\/\//.test(values.gateway)) throw new SmokeError(USAGE, EXIT.error);
  if (!(timeoutSeconds > 0) || !(intervalSeconds > 0))
    throw new SmokeError('timeout and interval must be > 0', EXIT.error);
  const apiKey = process.env.SMOKE_API_KEY;
  if (!apiKey) throw new SmokeError('SMOKE_API_KEY is not set', EXIT.error);
  return {
    gateway: values.gateway.replace(/\/+$/, ''),
    brief: JSON.parse(readFileSync(values.brief, 'utf8')),
    timeoutMs: timeoutSeconds * 1000,
    intervalMs: intervalSeconds * 1000,
    expectBackend: values['expect-backend'],
    apiKey,
    idToken: process.env.SMOKE_ID_TOKEN,
  };
}

/** One API call, bounded; answers status and parsed body (problem+json included). */
async function call(opts, method, path, body) {
  const headers = { accept: 'application/json', authorization: `Bearer ${opts.apiKey}` };
  if (opts.idToken) headers['x-serverless-authorization'] = `Bearer ${opts.idToken}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${opts.gateway}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

const describeProblem = (res) =>
  `HTTP ${res.status}${res.json?.title ? ` ${res.json.title}` : ''}${res.json?.detail ? `: ${res.json.detail}` : ''}`;

export async function runSmoke(opts) {
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  let submitted;
  try {
    submitted = await call(opts, 'POST', '/v1/jobs', opts.brief);
  } catch (error) {
    throw new SmokeError(`could not reach ${opts.gateway}: ${error.message}`, EXIT.error);
  }
  if (submitted.status !== 202 || !submitted.json?.id) {
    throw new SmokeError(`the gateway refused the job: ${describeProblem(submitted)}`, EXIT.error);
  }
  const jobId = submitted.json.id;
  say(`submitted ${jobId}`);
  let last = submitted.json.status;
  for (;;) {
    if (Date.now() >= deadline) {
      throw new SmokeError(`job ${jobId} still ${last} after ${opts.timeoutMs / 1000} s`, EXIT.timeout);
    }
    await sleep(Math.min(opts.intervalMs, Math.max(0, deadline - Date.now())));
    let res;
    try {
      res = await call(opts, 'GET', `/v1/jobs/${encodeURIComponent(jobId)}`);
    } catch (error) {
      // A canary revision starting, or a dropped connection: keep asking until the deadline.
      say(`polling ${jobId}: ${error.message}`);
      continue;
    }
    if (res.status >= 500 || res.status === 429) {
      say(`polling ${jobId}: ${describeProblem(res)}`);
      continue;
    }
    if (res.status !== 200) throw new SmokeError(`polling ${jobId}: ${describeProblem(res)}`, EXIT.error);
    const job = res.json;
    if (job.status !== last) say(`${jobId} ${last} -> ${job.status}`);
    last = job.status;
    const elapsedSeconds = Math.round((Date.now() - started) / 100) / 10;
    if (job.status === 'DELIVERED') {
      const backends = [...new Set((job.shots ?? []).map((s) => s.backend))];
      // No shot reported is not "only local": the check must see at least one shot to pass.
      if (opts.expectBackend && (backends.length === 0 || backends.some((b) => b !== opts.expectBackend))) {
        throw new SmokeError(
          `job ${jobId} was delivered on ${backends.join(', ') || 'no reported shot'}, not only on ${opts.expectBackend}`,
          EXIT.failed,
        );
      }
      return { jobId, status: job.status, backends, outputs: job.outputs?.length ?? 0, elapsedSeconds };
    }
    if (job.status === 'FAILED' || job.status === 'CANCELED') {
      const reason = job.error ? `${job.error.reason}: ${job.error.message}` : 'no reason given';
      throw new SmokeError(`job ${jobId} ended ${job.status} (${reason})`, EXIT.failed);
    }
    if (job.status === 'AWAITING_APPROVAL') {
      // Nobody approves a smoke job: the smoke tenant's auto-approve limit must cover it.
      throw new SmokeError(`job ${jobId} is waiting for approval; the smoke tenant must auto-approve`, EXIT.failed);
    }
  }
}

async function main() {
  try {
    const result = await runSmoke(options(process.argv.slice(2)));
    say(`${result.jobId} delivered in ${result.elapsedSeconds} s`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exitCode = EXIT.delivered;
  } catch (error) {
    say(error.message);
    process.exitCode = error instanceof SmokeError ? error.exitCode : EXIT.error;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
