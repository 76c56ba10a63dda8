import type { Request } from 'express';
import { HttpProblem } from './problem';

/**
 * The plan versions an If-Match header names: `"3"`, or a list `"2", "3"`. Weak tags never match
 * (RFC 9110 compares If-Match strongly) and `*` names no version, so both are refused like a
 * missing header: a change or an approval must say which version it was made on.
 */
export function ifMatchVersions(req: Request, required: boolean): number[] | undefined {
  const header = req.get('if-match');
  if (header === undefined) {
    if (!required) return undefined;
    throw new HttpProblem(
      'precondition_required',
      'send If-Match with the plan version this request is made on (its ETag from GET /v1/jobs/{id}/plan)',
    );
  }
  const tags = header.split(',').map((t) => t.trim());
  const versions = tags.map((t) => /^"([1-9][0-9]{0,5})"$/.exec(t)?.[1]).filter((v): v is string => v !== undefined);
  if (versions.length === 0 || versions.length !== tags.length) {
    throw new HttpProblem('precondition_required', 'If-Match must be the plan’s ETag, a quoted version such as "3"', {
      errors: [{ field: '/headers/if-match', rule: 'etag', message: 'is not a strong ETag of a plan version' }],
    });
  }
  return versions.map(Number);
}

/** The version a request acts on: the current one when the header names it, else the first named (stale). */
export const chosenVersion = (named: number[], current: number) => (named.includes(current) ? current : named[0]!);
