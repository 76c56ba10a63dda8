import type { ProblemKind } from '@aiprod/contracts';

/**
 * What each problem type means and what a client should do about it: the text of /problems/<type>.
 * A kind without an entry still gets a page (its title); a test asks for one for every kind.
 */
export const PROBLEM_EXPLANATIONS: Partial<Record<ProblemKind, { meaning: string; todo: string }>> = {
  validation: {
    meaning:
      'The request does not match the API: a body that is not JSON, a field missing, too long or of the wrong type, an unknown field, or a query parameter out of range. `errors` lists each field as a JSON Pointer with the rule it broke.',
    todo: 'Fix the fields named in `errors` and send the request again; it will fail the same way until then.',
  },
  unauthenticated: {
    meaning:
      'No credential, or one that is not valid: an unknown, revoked or malformed API key, or an OIDC token that is expired, for another audience or not signed by the configured issuer.',
    todo: 'Send `Authorization: Bearer <key or token>` with a valid key or a fresh token.',
  },
  forbidden: {
    meaning:
      'The credential is valid but lacks the scope this operation needs, or a signed link is tampered with or expired.',
    todo: 'Use a key with the scope the operation lists (jobs:read, jobs:write, admin…), or ask the API for a fresh link.',
  },
  not_found: {
    meaning: "No such resource for your tenant. Another tenant's job answers exactly like a missing one.",
    todo: 'Check the id; list your jobs with GET /v1/jobs.',
  },
  gone: {
    meaning:
      "The resource existed and was deleted for good. Either the job was erased (DELETE /v1/jobs/{id}): its files and creative content are gone, and only a tombstone (who erased it, when, what it cost) is kept for billing and audit — every route of the job answers this, and so do its share links (`erasedAt` says when). Or a job's outputs were deleted after the tenant's retention period (`expiredAt` says when).",
    todo: 'Nothing brings it back. Submit the brief again as a new job if you need it, keep your own copy of deliverables you need longer, or ask your administrator to lengthen the retention.',
  },
  conflict: {
    meaning:
      'The resource is in a state that does not allow this: approving a job that is not waiting for approval, cancelling one that is finished, asking for the outputs of a job that is not delivered.',
    todo: 'Read the job (GET /v1/jobs/{id}) and act on its current status.',
  },
  precondition_failed: {
    meaning:
      'The plan changed since the version your request names in If-Match (someone edited it, or the director re-planned after a change request). `currentVersion` and the ETag header give the version now.',
    todo: 'Read the plan again (GET /v1/jobs/{id}/plan), review what changed, and approve or edit that version.',
  },
  precondition_required: {
    meaning:
      'Approving or editing a plan must name the version you reviewed, so that nobody pays for a plan they have not seen.',
    todo: 'Send If-Match with the plan’s ETag, e.g. If-Match: "2", as GET /v1/jobs/{id}/plan gave it.',
  },
  payload_too_large: {
    meaning:
      'The request body is larger than the gateway accepts: 64 KiB for a JSON body, 10 MB for an uploaded image (POST /v1/assets).',
    todo: 'Send a smaller body: a brief never needs that much; scale a reference image down before uploading it.',
  },
  unsupported_media_type: {
    meaning:
      'The body is not sent as UTF-8 `application/json` (or is compressed), or an upload to POST /v1/assets is not declared as one of its image or audio types.',
    todo: 'Send `Content-Type: application/json` with an uncompressed UTF-8 body; upload images as PNG, JPEG or WebP.',
  },
  unprocessable: {
    meaning:
      'The request is well-formed but cannot be used: an uploaded file whose bytes are not the image its Content-Type declares, or a brief naming an asset id your tenant does not own. `errors` names the field.',
    todo: 'Upload the image again as what it is, or name an asset id POST /v1/assets gave your tenant.',
  },
  range_not_satisfiable: {
    meaning:
      'A file was asked for with a `Range` that starts beyond its end. `Content-Range: bytes */<size>` gives its size.',
    todo: 'Ask for a range inside the file, or for the whole file without `Range`.',
  },
  idempotency_conflict: {
    meaning: 'A request with the same Idempotency-Key is still being processed.',
    todo: 'Wait a moment and retry with the same key: you will get the first request’s response.',
  },
  idempotency_mismatch: {
    meaning: 'This Idempotency-Key was already used with a different request body or path.',
    todo: 'Use a new key for a new request; reuse a key only to retry the very same request.',
  },
  estimate_failed: {
    meaning:
      'The planner could not plan the brief, so it cannot be priced: no enabled backend can make it, or the creative director refused it (a safety block) or kept failing. `detail` says which.',
    todo: 'Change the brief as `detail` suggests and ask again; a job made from this brief would fail the same way.',
  },
  rate_limited: {
    meaning:
      'Too many requests from your tenant (or too many failed authentications from your address) in a short time.',
    todo: 'Wait the seconds `Retry-After` gives, then retry; spread requests out.',
  },
  quota_exceeded: {
    meaning:
      "A quota of your tenant is used up: unfinished jobs at once, jobs per day, estimates per day, or the month's spending cap. The members name the quota and its limit.",
    todo: 'Wait for jobs to finish or for the quota period to turn (`Retry-After`), or ask for a higher quota.',
  },
  unavailable: {
    meaning: 'The service cannot take the request just now (starting, draining, or a dependency is unavailable).',
    todo: 'Retry after the seconds `Retry-After` gives, with the same Idempotency-Key when the request had one.',
  },
  internal: {
    meaning: 'Something failed on our side.',
    todo: 'Retry later; if it persists, report it quoting the `requestId`.',
  },
};
