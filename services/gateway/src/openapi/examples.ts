import { PROBLEM_TYPES, problemTypeUri, type ProblemKind } from '@aiprod/contracts';

/**
 * Examples shown by the docs page and checked by Redocly's linter against the schemas they
 * illustrate (no-invalid-media-type-examples), so an example that drifts from its schema fails
 * the lint test.
 */
export const REQUEST_EXAMPLES: Record<string, Record<string, { summary: string; value: unknown }>> = {
  Brief: {
    aurora: {
      summary: 'A 15 s spot (examples/briefs/aurora-15s.json)',
      value: {
        product: 'Aurora running shoe',
        brand: { name: 'Aurora', colors: ['#1E6FD9', '#D91E6F', '#1ED96F'] },
        keyMessage: 'Meet Aurora',
        audience: 'Urban runners, 25-40',
        tone: 'energetic',
        durationSeconds: 15,
        aspectRatios: ['16:9'],
        callToAction: 'Run brighter',
        scenes: ['Lighter every mile'],
        musicMood: 'upbeat',
        preset: 'social_quick',
      },
    },
  },
  WebhookPut: {
    endpoint: { summary: 'Send job notifications here', value: { url: 'https://hooks.example.com/aiprod' } },
  },
};

/** One example per problem kind of a status: what a client receives. */
export function problemExamples(kinds: readonly ProblemKind[]): Record<string, { summary: string; value: unknown }> {
  return Object.fromEntries(
    kinds.map((kind) => {
      const { status, title } = PROBLEM_TYPES[kind];
      return [
        kind,
        {
          summary: title,
          value: {
            type: problemTypeUri(kind),
            title,
            status,
            detail: PROBLEM_DETAIL_EXAMPLES[kind] ?? title,
            instance: '/v1/jobs/job_01JH8Z3Q4W5E6R7T8Y9U0I1O2P',
            requestId: '6f1c2e0a-3b4d-4e5f-8a9b-0c1d2e3f4a5b',
          },
        },
      ];
    }),
  );
}

const PROBLEM_DETAIL_EXAMPLES: Partial<Record<ProblemKind, string>> = {
  validation: '/durationSeconds must be <= 60',
  unauthenticated: 'send an API key as "Authorization: Bearer aiprod_…"',
  forbidden: 'this key lacks the jobs:write scope',
  not_found: 'no job job_01JH8Z3Q4W5E6R7T8Y9U0I1O2P',
  gone: 'job job_01JH8Z3Q4W5E6R7T8Y9U0I1O2P was erased at 2026-12-07T10:00:00.000Z',
  conflict: 'the job is DELIVERED; only a job that has not finished can be canceled',
};
