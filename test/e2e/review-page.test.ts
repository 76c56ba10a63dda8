import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startRunwayServer, waitFor, type RunwayServer } from '@aiprod/testing';
import { GatewayClient, httpsJson, type LocalStack } from '../../infra/local/src';
import { repoRoot, runwayPool, startTestStack, testFallbackPolicy } from './e2e-stack';

/**
 * The review page in a real browser (Debian's Chromium driven by playwright-core; no browser is
 * downloaded), on the whole local platform with a Runway pool on its protocol test server: a job
 * over the auto-approve limit is opened through its review link, its storyboard shows a card per
 * shot with prompt and cost, its free preview plays, it is approved from the page, reaches
 * DELIVERED live, and its delivered variant plays beside the contact sheet. A tampered link and a
 * link used for another job are refused. Screenshots are kept in out/test-artifacts/review-page.
 */
const RUNWAY_KEY = 'key_e2e_review_runway_0123456789abcdef';
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const ARTIFACTS = join(repoRoot, 'out', 'test-artifacts', 'review-page');
const stateDir = mkdtempSync(join(tmpdir(), 'aiprod-e2e-review-'));
let stack: LocalStack;
let client: GatewayClient;
let runway: RunwayServer;
let browser: Browser;
let ca: string;

/** Over social_quick's auto-approve limit on Runway, so the job waits for a decision. */
const BRIEF = {
  product: 'Aurora running shoe',
  brand: { name: 'Aurora', colors: ['#1E6FD9'] },
  keyMessage: 'Meet Aurora',
  durationSeconds: 10,
  aspectRatios: ['16:9'],
  callToAction: 'Run brighter',
  voiceOver: true,
  preset: 'social_quick',
};

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  runway = await startRunwayServer({ apiKey: RUNWAY_KEY });
  stack = await startTestStack('e2e-review', stateDir, {
    vendorPools: { runway: runwayPool(runway, RUNWAY_KEY) },
    renderEnv: { RENDER_FALLBACK_POLICY: JSON.stringify(testFallbackPolicy()) },
    serviceEnv: { qa: { QA_JUDGE: 'none' } },
  });
  client = new GatewayClient(stack.info);
  ca = client.caCert;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}, 90_000);
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await runway?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

async function reviewLink(jobId: string): Promise<string> {
  const res = await httpsJson(`${stack.info.gatewayUrl}/v1/jobs/${jobId}/review-link`, {
    method: 'POST',
    ca,
    apiKey: stack.info.apiKey,
    body: {},
  });
  expect(res.status).toBe(201);
  return (JSON.parse(res.body) as { url: string }).url;
}

async function awaitingApproval(): Promise<string> {
  const { id } = await client.submit(BRIEF);
  await waitFor(async () => ((await client.get(id)).status === 'AWAITING_APPROVAL' ? true : undefined), {
    timeoutMs: 30_000,
    what: `job ${id} awaiting approval`,
  });
  return id;
}

/** Plays a video element for a moment and says how far it got. */
const playFor = (page: Page, selector: string, ms: number) =>
  page.$eval(
    selector,
    async (video: HTMLVideoElement, wait: number) => {
      video.muted = true;
      await video.play();
      await new Promise((r) => setTimeout(r, wait));
      video.pause();
      return video.currentTime;
    },
    ms,
  );

describe('the review page in a browser', () => {
  it('shows the storyboard, plays the free preview, approves, follows the job to DELIVERED and plays it', async () => {
    const jobId = await awaitingApproval();
    const url = await reviewLink(jobId);
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 1000 } });
    const page = await context.newPage();
    await page.goto(url);

    const plan = await waitFor(
      async () => {
        const res = await httpsJson(`${stack.info.gatewayUrl}/v1/jobs/${jobId}/plan`, {
          ca,
          apiKey: stack.info.apiKey,
        });
        return res.status === 200 ? (JSON.parse(res.body) as { shots: { prompt: string }[] }) : undefined;
      },
      { timeoutMs: 10_000, what: 'the plan' },
    );
    const cards = page.getByTestId('shot-card');
    await waitFor(async () => ((await cards.count()) === plan.shots.length ? true : undefined), {
      timeoutMs: 15_000,
      what: 'one card per shot',
    });
    for (const [i, shot] of plan.shots.entries()) {
      await expect(cards.nth(i).getByTestId('shot-prompt').textContent()).resolves.toBe(shot.prompt);
      await expect(cards.nth(i).getByTestId('shot-cost').textContent()).resolves.toMatch(/^\$\d+\.\d\d$/);
    }

    // The free preview appears (delivery renders it while the job waits) and plays.
    await page.getByTestId('preview-section').waitFor({ state: 'visible', timeout: 60_000 });
    expect(await playFor(page, '[data-testid="preview"]', 1500)).toBeGreaterThan(0.5);
    // Each card shows a frame of its own shot, taken from the preview at the shot's middle.
    const framesOf = () =>
      page.$$eval('[data-testid="shot-frame"]', (canvases) =>
        (canvases as HTMLCanvasElement[]).map((c) => c.toDataURL('image/png')),
      );
    await waitFor(async () => (new Set(await framesOf()).size === plan.shots.length ? true : undefined), {
      timeoutMs: 20_000,
      what: 'a distinct frame on every card',
    });
    await page.screenshot({ path: join(ARTIFACTS, '1-awaiting-approval.png'), fullPage: true });

    await page.getByTestId('approve').click();
    await page.getByTestId('status').filter({ hasText: 'DELIVERED' }).waitFor({ timeout: 180_000 });
    await page.getByTestId('delivered').waitFor({ state: 'visible' });
    expect(await playFor(page, '[data-testid="variant"]', 1500)).toBeGreaterThan(0.5);
    // The voice-over's caption files beside the cut, as links the page got from the API.
    const captions = await page.getByRole('link', { name: 'captions (WebVTT)' }).getAttribute('href');
    const vtt = await page.evaluate(async (url) => (await fetch(url!)).text(), captions);
    expect(vtt.startsWith('WEBVTT')).toBe(true);
    const sheet = await page
      .getByTestId('contact-sheet')
      .evaluate(async (img: HTMLImageElement) => (await img.decode().then(() => img.naturalWidth)) ?? 0);
    expect(sheet).toBeGreaterThan(100);
    await page.screenshot({ path: join(ARTIFACTS, '2-delivered.png'), fullPage: true });
    expect((await client.get(jobId)).status).toBe('DELIVERED');
    await context.close();
  }, 300_000);

  it('when the plan changes while it is on screen, says so and approves only the version it shows, once its preview is ready', async () => {
    const jobId = await awaitingApproval();
    const url = await reviewLink(jobId);
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(url);
    await page.getByTestId('plan-version').filter({ hasText: /^1$/ }).waitFor({ timeout: 15_000 });

    // A colleague edits the plan through the API while the page is open.
    const edited = await httpsJson(`${stack.info.gatewayUrl}/v1/jobs/${jobId}/plan`, {
      method: 'PATCH',
      ca,
      apiKey: stack.info.apiKey,
      headers: { 'if-match': '"1"' },
      body: { shots: [{ id: 's01', camera: 'static' }] },
    });
    expect(edited.status).toBe(200);
    await page.getByTestId('notice').filter({ hasText: 'changed to version 2' }).waitFor({ timeout: 30_000 });
    await page.getByTestId('plan-version').filter({ hasText: /^2$/ }).waitFor();
    // Approve waits for version 2's preview, then approves version 2: the version on screen.
    await waitFor(async () => ((await page.getByTestId('approve').isEnabled()) ? true : undefined), {
      timeoutMs: 60_000,
      what: "the approve button, once version 2's preview is ready",
    });
    await page.getByTestId('approve').click();
    const plan = await waitFor(
      async () => {
        const res = await httpsJson(`${stack.info.gatewayUrl}/v1/jobs/${jobId}/plan`, {
          ca,
          apiKey: stack.info.apiKey,
        });
        const body = JSON.parse(res.body) as { approvedVersion: number | null };
        return body.approvedVersion ? body : undefined;
      },
      { timeoutMs: 15_000, what: 'the approval' },
    );
    expect(plan.approvedVersion).toBe(2);
    await context.close();
  }, 180_000);

  it('refuses a tampered link, and a link opened on another job', async () => {
    const jobId = await awaitingApproval();
    const other = await awaitingApproval();
    const url = await reviewLink(jobId);
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();

    await page.goto(url.replace(/.{4}$/, 'AAAA'));
    await page.getByTestId('notice').filter({ hasText: 'not valid or has expired' }).waitFor({ timeout: 10_000 });
    await expect(page.getByTestId('shot-card').count()).resolves.toBe(0);

    await page.goto(url.replace(`/review/${jobId}`, `/review/${other}`));
    await page.getByTestId('notice').filter({ hasText: 'only its own job' }).waitFor({ timeout: 10_000 });
    await expect(page.getByTestId('shot-card').count()).resolves.toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, '3-refused.png') });
    await context.close();
  }, 120_000);
});
