/** The document's `info`: what the API is, how to authenticate, its scopes, errors and licence. */
export const API_INFO = {
  title: 'AIPROD API',
  version: '1.0.0',
  summary: 'A marketing brief in, a finished and checked video out.',
  description: [
    'Authenticate with an API key (`Authorization: Bearer aiprod_<env>_…`) or an OIDC JWT from the configured issuer.',
    "Scopes: reads need `jobs:read`; creating, cancelling and editing jobs need `jobs:write`; approving a plan needs `jobs:approve`; the webhook endpoint needs `admin` (it decides where all of a tenant's notifications go). `admin` implies the others.",
    "Every job route is tenant-scoped: another tenant's job answers 404, exactly like a missing one.",
    'Errors are `application/problem+json` (RFC 9457) with a stable `type` URI; validation errors list each field as a JSON Pointer with the rule it broke.',
    'Webhooks (below) are signed the Standard Webhooks way (`verifyWebhook` of the `@aiprod/client` SDK checks them). Each problem `type` resolves, against the gateway that answered, to a page explaining it: `/problems/<type>`.',
  ].join('\n\n'),
  license: { name: 'Proprietary: use under your AIPROD agreement', identifier: 'LicenseRef-AIPROD-Proprietary' },
};

/** Relative by default: the gateway that serves the document; an export may name one. */
export const serversFor = (serverUrl?: string) => [
  serverUrl
    ? { url: serverUrl, description: 'The AIPROD gateway.' }
    : { url: '/', description: 'The gateway that serves this document.' },
];
