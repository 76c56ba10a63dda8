import { isIP } from 'node:net';

/**
 * Names of our own infrastructure that text shown to clients (job events, errors, webhook
 * payloads) must not carry: Google resource paths (a Vertex operation name holds the project,
 * region and operation id), our Pub/Sub topic and subscription names, Cloud Storage URIs, and IP
 * addresses (what a client's hostname resolved to, our own peers in socket errors).
 */
const GOOGLE_RESOURCE = /\bprojects\/[^\s"'`,;()<>\]]+/g;
const PUBSUB_NAME = /\baiprod\.[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.v\d+(?:\.[a-z0-9_.-]+)?/gi;
const STORAGE_URI = /\bgs:\/\/[^\s"'`,;()<>\]]+/g;
/** Candidates only: each is checked with isIP, so times (12:30:45) and versions stay. */
const ADDRESS_LIKE = /\[?[0-9a-f:.]*[:.][0-9a-f:.]*\]?(?::\d{1,5})?/gi;

function isAddress(candidate: string): boolean {
  let text = candidate.replace(/[.:]+$/, '');
  if (isIP(text)) return true;
  // [v6]:port, [v6], v4:port
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d+)?$/i.exec(text);
  if (bracketed) return isIP(bracketed[1]!) !== 0;
  text = text.replace(/:\d{1,5}$/, '');
  return isIP(text) === 4;
}

/** `text` with internal resource names and addresses replaced by what kind of thing they were. */
export function redactInternalNames(text: string): string {
  return text
    .replace(GOOGLE_RESOURCE, '[internal resource]')
    .replace(STORAGE_URI, '[internal storage]')
    .replace(PUBSUB_NAME, '[internal queue]')
    .replace(ADDRESS_LIKE, (candidate) => (candidate.length >= 2 && isAddress(candidate) ? '[address]' : candidate));
}
