import { readFileSync } from 'node:fs';
import { httpsJson } from './https-client';
import type { StackInfo } from './stack';

export interface JobView {
  id: string;
  status: string;
  error?: { reason: string; message: string };
  outputs: {
    variant: string;
    url: string;
    durationSeconds: number;
    width: number;
    height: number;
    sizeBytes: number;
    integratedLufs?: number;
    language?: string;
    captions?: { vttUrl: string; srtUrl: string; cues: number };
    qa: { name: string; verdict: string; measured?: unknown }[] | null;
  }[];
  /** Each language's voice-over alone (WAV), once DELIVERED. */
  voiceTracks?: { language: string; url: string; engine: string; voice: string; timing: string }[];
  stills: { posterUrl: string; contactSheetUrl: string } | null;
  /** provenance.json, once DELIVERED (a signed link). */
  provenanceUrl: string | null;
  events: { id: string; type: string; at: string; data: Record<string, unknown> }[];
  shots: {
    id: string;
    status: string;
    attempt: number;
    qa: null | {
      verdict: string;
      judge: string | null;
      checks: { name: string; verdict: string; measured?: unknown }[];
      evidence: string[];
    };
  }[];
  qa: { shotsPassed: number; shotsTotal: number; retakes: number };
}

/** Talks to the local gateway over HTTPS the way a client would, with the stack's API key. */
export class GatewayClient {
  private readonly ca: string;

  constructor(private readonly info: Pick<StackInfo, 'gatewayUrl' | 'apiKey' | 'caCertPath'>) {
    this.ca = readFileSync(info.caCertPath, 'utf8');
  }

  async submit(brief: unknown): Promise<JobView> {
    const res = await httpsJson(`${this.info.gatewayUrl}/v1/jobs`, {
      method: 'POST',
      ca: this.ca,
      apiKey: this.info.apiKey,
      body: brief,
    });
    if (res.status !== 202) throw new Error(`submit failed with HTTP ${res.status}: ${res.body}`);
    return JSON.parse(res.body) as JobView;
  }

  async get(jobId: string): Promise<JobView> {
    const res = await httpsJson(`${this.info.gatewayUrl}/v1/jobs/${jobId}`, { ca: this.ca, apiKey: this.info.apiKey });
    if (res.status !== 200) throw new Error(`GET job failed with HTTP ${res.status}: ${res.body}`);
    return JSON.parse(res.body) as JobView;
  }

  /** The job's storyboard, with its version (the ETag an approval names). */
  async plan(jobId: string): Promise<{ version: number; etag: string } & Record<string, unknown>> {
    const res = await httpsJson(`${this.info.gatewayUrl}/v1/jobs/${jobId}/plan`, {
      ca: this.ca,
      apiKey: this.info.apiKey,
    });
    if (res.status !== 200) throw new Error(`GET plan failed with HTTP ${res.status}: ${res.body}`);
    return JSON.parse(res.body) as { version: number; etag: string };
  }

  /**
   * Approves a job parked in AWAITING_APPROVAL (its estimate was over the tenant's auto-approve
   * limit): the plan version given, or the one it has now (read first; the approval names it).
   */
  async approve(jobId: string, version?: number): Promise<void> {
    const approved = version ?? (await this.plan(jobId)).version;
    const res = await httpsJson(`${this.info.gatewayUrl}/v1/jobs/${jobId}/approve`, {
      method: 'POST',
      ca: this.ca,
      apiKey: this.info.apiKey,
      headers: { 'if-match': `"${approved}"` },
    });
    if (res.status !== 202 && res.status !== 200)
      throw new Error(`approve failed with HTTP ${res.status}: ${res.body}`);
  }

  /** Uploads an image the tenant's briefs can name as a reference (`{ assetId, role }`). */
  async uploadAsset(bytes: Buffer, contentType: string): Promise<{ assetId: string; sha256: string }> {
    const res = await httpsJson(`${this.info.gatewayUrl}/v1/assets`, {
      method: 'POST',
      ca: this.ca,
      apiKey: this.info.apiKey,
      headers: { 'content-type': contentType },
      body: bytes,
    });
    if (res.status !== 201) throw new Error(`upload failed with HTTP ${res.status}: ${res.body}`);
    return JSON.parse(res.body) as { assetId: string; sha256: string };
  }

  /** Edits a plan waiting for approval (If-Match: the version edited); answers the new version. */
  async patchPlan(jobId: string, version: number, shots: Record<string, unknown>[]): Promise<number> {
    const res = await httpsJson(`${this.info.gatewayUrl}/v1/jobs/${jobId}/plan`, {
      method: 'PATCH',
      ca: this.ca,
      apiKey: this.info.apiKey,
      headers: { 'if-match': `"${version}"` },
      body: { shots },
    });
    if (res.status !== 200) throw new Error(`PATCH plan failed with HTTP ${res.status}: ${res.body}`);
    return (JSON.parse(res.body) as { version: number }).version;
  }

  get caCert(): string {
    return this.ca;
  }

  /** Polls until the job is terminal, calling onEvent for each new timeline event; bounded in time. */
  async waitForTerminal(
    jobId: string,
    options: { timeoutMs: number; intervalMs?: number; onEvent?: (e: JobView['events'][number]) => void },
  ): Promise<JobView> {
    const seen = new Set<string>();
    const deadline = Date.now() + options.timeoutMs;
    for (;;) {
      const job = await this.get(jobId);
      for (const e of job.events) {
        if (!seen.has(e.id)) {
          seen.add(e.id);
          options.onEvent?.(e);
        }
      }
      if (['DELIVERED', 'FAILED', 'CANCELED'].includes(job.status)) return job;
      if (Date.now() > deadline) {
        const recent = job.events.slice(-6).map((e) => `${e.at} ${e.type} ${JSON.stringify(e.data)}`);
        throw new Error(
          `job ${jobId} still ${job.status} after ${options.timeoutMs} ms; last events:\n${recent.join('\n')}`,
        );
      }
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 200));
    }
  }
}
