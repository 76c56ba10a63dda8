import { HttpProblem } from './problem';

/**
 * A page cursor: opaque to clients (base64url of a JSON array, version 1 first), and bound by its
 * route to the query it was made for. One codec for every paged route, so each refuses a foreign
 * or altered cursor the same way.
 */
export function encodeCursor(parts: readonly unknown[]): string {
  return Buffer.from(JSON.stringify([1, ...parts])).toString('base64url');
}

/** The parts of a cursor of `length` parts, or the route's 400 when it is not one we gave out. */
export function decodeCursor(text: string, length: number, valid: (parts: unknown[]) => boolean): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
  if (!Array.isArray(parsed) || parsed.length !== length + 1 || parsed[0] !== 1) throw badCursor();
  const parts = parsed.slice(1) as unknown[];
  if (!valid(parts)) throw badCursor();
  return parts;
}

const badCursor = () =>
  new HttpProblem('validation', 'the cursor is not one this API gave out for this query', {
    errors: [{ field: '/query/cursor', rule: 'cursor', message: 'is not a valid cursor for this query' }],
  });
