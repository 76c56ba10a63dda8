import { Type, type TSchema } from '@sinclair/typebox';

/**
 * The webhook events the platform sends (delivery's notify-client step writes the finished-job
 * bodies; the planner's approval notice is job.awaiting_approval). Described here so that the
 * OpenAPI document's `webhooks` section, and the SDK generated from it, type every payload.
 */
const DateTime = Type.String({ format: 'date-time' });
const JobLinks = Type.Object(
  { job: Type.String({ description: 'The job in this API: GET it for fresh signed links.' }) },
  { additionalProperties: true },
);
const Metadata = Type.Optional(
  Type.Record(Type.String(), Type.String(), { description: "The brief's metadata, as the client sent it." }),
);
const OutputFacts = Type.Object(
  {
    variant: Type.String({ description: 'Aspect ratio, e.g. 9:16.' }),
    durationSeconds: Type.Number(),
    width: Type.Integer(),
    height: Type.Integer(),
    sizeBytes: Type.Integer(),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  },
  { additionalProperties: false },
);

function finishedEvent(type: string, status: string, description: string): TSchema {
  return Type.Object(
    {
      type: Type.Literal(type),
      timestamp: DateTime,
      data: Type.Object({
        jobId: Type.String(),
        status: Type.Literal(status),
        metadata: Metadata,
        outputs: Type.Array(OutputFacts, { description: 'The delivered files (none unless DELIVERED).' }),
        error: Type.Optional(Type.Object({ reason: Type.String(), message: Type.String() })),
        links: JobLinks,
      }),
    },
    { description },
  );
}

export interface WebhookEventSpec {
  type: string;
  operationId: string;
  summary: string;
  schemaName: string;
  schema: TSchema;
  example: Record<string, unknown>;
}

const JOB_ID = 'job_01JH8Z3Q4W5E6R7T8Y9U0I1O2P';
const SHA = 'a3f1c9e2b7d4a6f8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a6';
const AT = '2026-12-07T10:00:00.000Z';
const links = { job: `/v1/jobs/${JOB_ID}` };
const outputs = [{ variant: '16:9', durationSeconds: 15, width: 1920, height: 1080, sizeBytes: 4718592, sha256: SHA }];

export const WEBHOOK_EVENTS: WebhookEventSpec[] = [
  {
    type: 'job.delivered',
    operationId: 'onJobDelivered',
    summary: 'A job was delivered: its files are ready.',
    schemaName: 'JobDeliveredEvent',
    schema: finishedEvent('job.delivered', 'DELIVERED', 'Sent once when a job is DELIVERED.'),
    example: { type: 'job.delivered', timestamp: AT, data: { jobId: JOB_ID, status: 'DELIVERED', outputs, links } },
  },
  {
    type: 'job.failed',
    operationId: 'onJobFailed',
    summary: 'A job failed; `data.error` says why.',
    schemaName: 'JobFailedEvent',
    schema: finishedEvent('job.failed', 'FAILED', 'Sent once when a job is FAILED.'),
    example: {
      type: 'job.failed',
      timestamp: AT,
      data: {
        jobId: JOB_ID,
        status: 'FAILED',
        outputs: [],
        error: { reason: 'render_failed', message: 'shot s02 failed on every backend allowed' },
        links,
      },
    },
  },
  {
    type: 'job.canceled',
    operationId: 'onJobCanceled',
    summary: 'A job was canceled.',
    schemaName: 'JobCanceledEvent',
    schema: finishedEvent('job.canceled', 'CANCELED', 'Sent once when a job is CANCELED.'),
    example: { type: 'job.canceled', timestamp: AT, data: { jobId: JOB_ID, status: 'CANCELED', outputs: [], links } },
  },
  {
    type: 'job.awaiting_approval',
    operationId: 'onJobAwaitingApproval',
    summary: 'A plan waits for the client: review it (and its free preview), then approve or cancel.',
    schemaName: 'JobAwaitingApprovalEvent',
    // Open (additional members allowed): the planner's notice carries the estimate and the preview
    // link as its authors define them; the members named here are the ones a client can rely on.
    schema: Type.Object(
      {
        type: Type.Literal('job.awaiting_approval'),
        timestamp: DateTime,
        data: Type.Object(
          {
            jobId: Type.String(),
            status: Type.Literal('AWAITING_APPROVAL'),
            metadata: Metadata,
            planVersion: Type.Optional(Type.Integer({ minimum: 1, description: 'Send it as If-Match: "<version>".' })),
            links: JobLinks,
          },
          { additionalProperties: true },
        ),
      },
      { description: "Sent when a job's plan is over the auto-approve limit and waits for approval." },
    ),
    example: {
      type: 'job.awaiting_approval',
      timestamp: AT,
      data: { jobId: JOB_ID, status: 'AWAITING_APPROVAL', planVersion: 1, links },
    },
  },
];

const plain = (schema: TSchema) => JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
const header = (name: string, description: string) => ({
  name,
  in: 'header',
  required: true,
  schema: { type: 'string' },
  description,
});
const SIGNATURE_HEADERS = [
  header('webhook-id', 'Unique per event: the same id on every retry. Deduplicate on it.'),
  header('webhook-timestamp', 'Unix seconds of this attempt; refuse one more than 5 minutes off.'),
  header(
    'webhook-signature',
    'Standard Webhooks `v1,<base64 HMAC-SHA256>` entries, space-separated (two during a secret rotation); verify with `verifyWebhook` of @aiprod/client.',
  ),
];

/** The document's `webhooks` section and the payload schemas it refers to. */
export function webhookSection() {
  const webhooks: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  for (const event of WEBHOOK_EVENTS) {
    schemas[event.schemaName] = plain(event.schema);
    webhooks[event.type] = {
      post: {
        operationId: event.operationId,
        summary: event.summary,
        tags: ['webhook'],
        security: [],
        parameters: SIGNATURE_HEADERS,
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: { $ref: `#/components/schemas/${event.schemaName}` },
              examples: { [event.type]: { summary: event.summary, value: event.example } },
            },
          },
        },
        responses: {
          '200': { description: 'Any 2xx acknowledges the event; nothing is read from the body.' },
          '410': { description: 'Gone: the endpoint is disabled and nothing more is sent to it.' },
          '413': { description: 'The receiver refuses the body: this event is given up.' },
        },
      },
    };
  }
  return { webhooks, schemas };
}
