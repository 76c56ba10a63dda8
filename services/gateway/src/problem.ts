import type { Response } from 'express';
import {
  PROBLEM_TYPES,
  problemTypeUri,
  type FieldError,
  type MessageOf,
  type ProblemKind,
  type PublishableBy,
} from '@aiprod/contracts';
import type { Publisher } from '@aiprod/pubsub';

/** RFC 9457 extension members: flat, JSON-safe values a client can act on (e.g. which quota, its limit). */
export type ProblemMembers = Record<string, string | number | boolean | null>;

/** The problem's own members; an extension member never replaces one of them. */
const RESERVED_MEMBERS = new Set(['type', 'title', 'status', 'detail', 'instance', 'requestId', 'errors']);

/** An error the gateway answers with as application/problem+json (RFC 9457). */
export class HttpProblem extends Error {
  constructor(
    readonly kind: ProblemKind,
    readonly detail: string,
    readonly extras: { errors?: FieldError[]; retryAfterSeconds?: number; members?: ProblemMembers } = {},
  ) {
    super(detail);
  }
}

export function sendProblem(res: Response, problem: HttpProblem, instance: string, requestId: string): void {
  const { status, title } = PROBLEM_TYPES[problem.kind];
  const members = Object.fromEntries(
    Object.entries(problem.extras.members ?? {}).filter(([name]) => !RESERVED_MEMBERS.has(name)),
  );
  if (problem.extras.retryAfterSeconds) res.setHeader('Retry-After', String(problem.extras.retryAfterSeconds));
  res
    .status(status)
    .type('application/problem+json')
    .send(
      JSON.stringify({
        ...members,
        type: problemTypeUri(problem.kind),
        title,
        status,
        detail: problem.detail,
        instance,
        requestId,
        ...(problem.extras.errors ? { errors: problem.extras.errors } : {}),
      }),
    );
}

/**
 * Publishes a message whose request is already recorded; a publish that fails answers 503 with
 * Retry-After, and the client's repeat (idempotent) passes it on.
 */
export async function publishOrUnavailable<T extends PublishableBy<'gateway'>>(
  publisher: Publisher<'gateway'>,
  topic: T,
  payload: MessageOf<T>,
): Promise<void> {
  try {
    await publisher.publish(topic, payload);
  } catch {
    throw new HttpProblem('unavailable', 'the request was recorded but could not be passed on yet; repeat it', {
      retryAfterSeconds: 5,
    });
  }
}
