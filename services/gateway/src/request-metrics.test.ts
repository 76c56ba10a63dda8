import express from 'express';
import request from 'supertest';
import { startMetricsProbe, type MetricsProbe } from '@aiprod/testing';
import { requestMetrics } from './request-metrics';

let probe: MetricsProbe;
beforeAll(async () => {
  probe = await startMetricsProbe('gateway-test');
});
afterAll(() => probe.stop());

const app = express();
app.use(requestMetrics());
app.get('/healthz', (_req, res) => void res.json({ ok: true }));
const router = express.Router();
router.get('/v1/jobs/:id', (req, res) => void res.json({ id: req.params.id }));
router.get('/v1/broken/:id', () => {
  throw new Error('a bug');
});
app.use(router);

const requests = (labels: Record<string, string>) => probe.value('aiprod_http_requests_total', labels);

it('labels requests by route template and status, never by the raw path', async () => {
  await request(app).get('/v1/jobs/job_123').expect(200);
  await request(app).get('/v1/jobs/job_456').expect(200);
  expect(await requests({ route: '/v1/jobs/:id', method: 'GET', code: '200' })).toBe(2);
  expect(await probe.text()).not.toContain('job_123');
});

it('labels a failing route by its template (5xx), an unknown path as unmatched, and health checks by path', async () => {
  await request(app).get('/v1/broken/x1').expect(500);
  await request(app).get('/nowhere/at/all').expect(404);
  await request(app).get('/healthz').expect(200);
  expect(await requests({ route: '/v1/broken/:id', method: 'GET', code: '500' })).toBe(1);
  expect(await requests({ route: 'unmatched', method: 'GET', code: '404' })).toBe(1);
  expect(await requests({ route: '/healthz', method: 'GET', code: '200' })).toBe(1);
  expect(
    await probe.value('aiprod_http_request_duration_seconds_count', { route: '/v1/jobs/:id', method: 'GET' }),
  ).toBe(2);
});
