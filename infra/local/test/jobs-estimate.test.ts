import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAiprodClient, type Brief } from '@aiprod/client';
import { estimateOf } from '../src/jobs-commands';

/** `aiprod jobs estimate` against a gateway whose planner is slow: it follows the 202 to the estimate. */
let server: Server;
let base: string;
const seen: string[] = [];
const ESTIMATE = { currency: 'USD', totalUsd: 1.5, firstPassUsd: 1, worstCaseUsd: 3, shots: [], notes: [] };

beforeAll(async () => {
  let polls = 0;
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    const id = 'est_0123456789abcdef01234567';
    if (req.method === 'POST' || (req.method === 'GET' && ++polls < 2)) {
      res.writeHead(202, { 'content-type': 'application/json', location: `/v1/estimates/${id}`, 'retry-after': '0' });
      res.end(JSON.stringify({ estimateId: id, status: 'PENDING' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(ESTIMATE));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

it('polls the estimate the 202 names until it is ready', async () => {
  const client = createAiprodClient({ baseUrl: base, apiKey: 'aiprod_test_x' });
  const estimate = await estimateOf(client, { durationSeconds: 15 } as Brief);
  expect(estimate).toEqual(ESTIMATE);
  expect(seen).toEqual([
    'POST /v1/estimates',
    'GET /v1/estimates/est_0123456789abcdef01234567',
    'GET /v1/estimates/est_0123456789abcdef01234567',
  ]);
});
