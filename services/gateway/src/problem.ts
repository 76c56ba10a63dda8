import type { Response } from 'express';
import { PROBLEM_TYPES, problemTypeUri, type FieldError, type ProblemKind } from '@aiprod/contracts';

/** An error the gateway answers with as application/problem+json (RFC 9457). */
export class HttpProblem extends Error {
  constructor(
    readonly kind: ProblemKind,
    readonly detail: string,
    readonly extras: { errors?: FieldError[]; retryAfterSeconds?: number } = {},
  ) {
    super(detail);
  }
}

export function sendProblem(res: Response, problem: HttpProblem, instance: string, requestId: string): void {
  const { status, title } = PROBLEM_TYPES[problem.kind];
  if (problem.extras.retryAfterSeconds) res.setHeader('Retry-After', String(problem.extras.retryAfterSeconds));
  res
    .status(status)
    .type('application/problem+json')
    .send(
      JSON.stringify({
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
