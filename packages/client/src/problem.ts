/** An RFC 9457 problem document as the API sends it (application/problem+json). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  requestId?: string;
  errors?: { field: string; rule: string; message: string }[];
  [member: string]: unknown;
}

/** A non-2xx answer: its status, the problem document when there was one, and the response. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly problem: Problem | null,
    readonly response?: Response,
  ) {
    super(problem ? `${status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ''}` : `HTTP ${status}`);
  }
}

const isProblem = (value: unknown): value is Problem =>
  typeof value === 'object' && value !== null && typeof (value as Problem).type === 'string';

/**
 * openapi-fetch's `{ data, error, response }` as a value or a thrown ApiError: for code that
 * handles failures in one place (a CLI, a script).
 */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok && result.error === undefined) return result.data as T;
  throw new ApiError(result.response.status, isProblem(result.error) ? result.error : null, result.response);
}

/** Reads a failed response's problem document (null when the body is not one). */
export async function problemOf(response: Response): Promise<Problem | null> {
  const body: unknown = await response.json().catch(() => null);
  return isProblem(body) ? body : null;
}
