import { readFileSync } from 'node:fs';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { ApiError, createAiprodClient, type AiprodClient, type Problem } from '@aiprod/client';
import { problemJson, usage } from './ops-context';
import type { StackInfo } from './stack';

/** The gateway a jobs command talks to, and the SDK client for it. */
export interface JobsConnection {
  baseUrl: string;
  apiKey: string;
  client: AiprodClient;
}

const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** A job id as the API accepts it; anything else is a usage error before any request. */
export function jobIdArg(raw: string): string {
  if (!JOB_ID.test(raw)) throw usage(`"${raw}" is not a job id (letters, digits, _ and -, at most 64)`);
  return raw;
}

/**
 * The local stack's gateway from .aiprod/stack.json, or another one named by AIPROD_GATEWAY_URL
 * and AIPROD_API_KEY (AIPROD_CA_CERT: a CA to trust besides the system's).
 */
export function openJobsConnection(readInfo: () => StackInfo | null): JobsConnection {
  const info = readInfo();
  const baseUrl = process.env.AIPROD_GATEWAY_URL ?? info?.gatewayUrl;
  const apiKey = process.env.AIPROD_API_KEY ?? info?.apiKey;
  if (!baseUrl || !apiKey) {
    throw usage('no gateway: run "pnpm stack:up" for the local platform, or set AIPROD_GATEWAY_URL and AIPROD_API_KEY');
  }
  const caFile = process.env.AIPROD_CA_CERT ?? (process.env.AIPROD_GATEWAY_URL ? undefined : info?.caCertPath);
  // The local stack's certificate is signed by its own CA: trusted for this process only (a
  // command runs and exits), on top of the system's CAs, so fetch and the SDK need no options.
  if (caFile) setDefaultCACertificates([...getCACertificates('default'), readFileSync(caFile, 'utf8')]);
  return { baseUrl, apiKey, client: createAiprodClient({ baseUrl, apiKey }) };
}

/**
 * Prints a failure as a problem document on stderr and sets the exit code: the API's own problem
 * (exit 1: the operation was refused or failed), or the CLI's (2: called wrongly; 1: failed).
 */
export function reportFailure(error: unknown, hint?: (problem: Problem | null, status: number) => string | undefined) {
  if (error instanceof ApiError) {
    const detail = hint?.(error.problem, error.status);
    const problem = {
      ...(error.problem ?? { type: 'about:blank', title: `HTTP ${error.status}`, status: error.status }),
      ...(detail ? { detail } : {}),
      exitCode: 1,
    };
    process.stderr.write(`${JSON.stringify(problem)}\n`);
    process.exitCode = 1;
    return;
  }
  const { problem, exitCode } = problemJson(error);
  process.stderr.write(`${JSON.stringify(problem)}\n`);
  process.exitCode = exitCode;
}
