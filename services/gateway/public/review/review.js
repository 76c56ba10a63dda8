// The review page: reads one job through its review link's token (in the URL fragment, never sent
// to a server by the browser) and shows the storyboard, the free preview, the decision buttons,
// live progress, and after delivery every variant, the stills and the QA evidence.
'use strict';

const jobId = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] ?? '');
const token = new URLSearchParams(location.hash.slice(1)).get('t');
const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const usd = (n) => (typeof n === 'number' ? `$${n.toFixed(2)}` : '—');
const TERMINAL = ['DELIVERED', 'FAILED', 'CANCELED'];
let planVersion = null;
let frames = new Map();

function notice(text, kind) {
  const el = $('notice');
  el.textContent = text;
  el.className = `notice ${kind ?? ''}`;
  el.hidden = !text;
}

async function api(path, init = {}) {
  const res = await fetch(`/v1/jobs/${encodeURIComponent(jobId)}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) },
  });
  if (res.status === 401) throw new Error('This review link is not valid or has expired. Ask for a new one.');
  if (!res.ok) {
    const problem = await res.json().catch(() => ({}));
    const error = new Error(problem.detail ?? `${res.status} ${res.statusText}`);
    error.status = res.status;
    throw error;
  }
  return res.status === 204 ? null : res.json();
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

function field(dl, name, value) {
  if (value === undefined || value === null || value === '') return;
  dl.append(el('dt', { text: name }), el('dd', { text: Array.isArray(value) ? value.join(', ') : String(value) }));
}

function renderStoryboard(plan) {
  const list = $('storyboard');
  list.replaceChildren();
  for (const [i, shot] of (plan.shots ?? []).entries()) {
    const canvas = el('canvas', { width: '320', height: '180', 'data-testid': 'shot-frame' });
    frames.set(i, canvas);
    const dl = el('dl');
    field(dl, 'Purpose', shot.purpose);
    field(dl, 'Duration', shot.durationSeconds !== undefined ? `${shot.durationSeconds} s` : undefined);
    field(dl, 'Camera', shot.camera);
    field(dl, 'On screen', shot.onScreenText);
    field(dl, 'Voice-over', shot.voiceOver);
    field(dl, 'Backend', shot.model ? `${shot.backend} (${shot.model})` : shot.backend);
    const cost = shot.cost ?? {};
    field(
      dl,
      'Cost',
      `${usd(cost.firstPassUsd)} first pass · ${usd(cost.expectedUsd)} expected · ${usd(cost.worstCaseUsd)} worst case`,
    );
    const card = el(
      'li',
      { class: 'card', 'data-testid': 'shot-card' },
      canvas,
      el('h3', { text: `Shot ${i + 1}` }),
      el('p', { 'data-testid': 'shot-prompt', text: shot.prompt ?? '' }),
      shot.negativePrompt ? el('p', { class: 'negative', text: `Avoid: ${shot.negativePrompt}` }) : null,
      el('span', { 'data-testid': 'shot-cost', text: usd(cost.expectedUsd ?? cost.firstPassUsd) }),
      dl,
    );
    list.append(card);
  }
  $('storyboard-section').hidden = false;
  $('plan-version').textContent = String(plan.version ?? '');
  const totals = plan.totals ?? {};
  $('plan-total').textContent =
    `${usd(totals.expectedUsd ?? totals.firstPassUsd)} (worst case ${usd(totals.worstCaseUsd)})`;
}

/** One frame of each shot, taken from the preview at the middle of the shot. */
async function drawFrames(plan, url) {
  const video = el('video', { muted: '', preload: 'auto', playsinline: '' });
  video.muted = true;
  video.src = url;
  await new Promise((resolve, reject) => {
    video.onloadeddata = resolve;
    video.onerror = () => reject(new Error('preview not playable'));
  });
  let start = 0;
  for (const [i, shot] of (plan.shots ?? []).entries()) {
    const at = start + (shot.durationSeconds ?? 0) / 2;
    start += shot.durationSeconds ?? 0;
    video.currentTime = Math.min(at, Math.max(0, video.duration - 0.05));
    await new Promise((resolve) => (video.onseeked = resolve));
    const canvas = frames.get(i);
    canvas?.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
  }
}

function renderPreview(plan) {
  const preview = plan.preview;
  if (!preview?.url || preview.status !== 'READY') return;
  const video = $('preview');
  if (video.dataset.version !== String(preview.planVersion)) {
    video.src = preview.url;
    video.dataset.version = String(preview.planVersion);
    drawFrames(plan, preview.url).catch(() => undefined);
  }
  $('preview-section').hidden = false;
}

function renderDelivered(job) {
  const variants = $('variants');
  variants.replaceChildren(
    ...job.outputs.map((o) =>
      el(
        'figure',
        {},
        el('video', { controls: '', preload: 'metadata', src: o.url, 'data-testid': 'variant' }),
        el(
          'figcaption',
          {},
          el('a', {
            href: o.url,
            download: '',
            text: `Download ${o.language ? `${o.language} ` : ''}${o.variant} (${(o.sizeBytes / 1e6).toFixed(1)} MB)`,
          }),
          // The voice-over's captions, for players and platforms that take a caption file.
          ...(o.captions
            ? [
                ' · ',
                el('a', { href: o.captions.vttUrl, download: '', text: 'captions (WebVTT)' }),
                ' · ',
                el('a', { href: o.captions.srtUrl, download: '', text: 'SRT' }),
              ]
            : []),
        ),
      ),
    ),
  );
  if (job.stills) {
    $('poster').src = job.stills.posterUrl;
    $('contact-sheet').src = job.stills.contactSheetUrl;
  }
  $('evidence').replaceChildren(
    ...job.shots.map((s) =>
      el(
        'div',
        {},
        el('h4', { text: `Shot ${s.id}: QA ${s.qa?.verdict ?? 'not run'}` }),
        ...(s.qa?.evidence ?? []).map((u) => el('img', { src: u, alt: `QA evidence of ${s.id}` })),
      ),
    ),
  );
  $('delivered').hidden = false;
}

async function refresh() {
  const job = await api('');
  $('title').textContent = `${job.brief?.product ?? 'Job'} — review`;
  $('status').textContent = job.status;
  $('cost').textContent = `spent ${usd(job.costUsd)}`;
  $('progress').textContent = job.qa ? `${job.qa.shotsPassed} of ${job.qa.shotsTotal} shots passed QA` : '';
  if (job.error) notice(`${job.error.reason}: ${job.error.message}`, 'error');
  const plan = await api('/plan').catch((e) => (e.status === 404 || e.status === 409 ? null : Promise.reject(e)));
  if (plan) {
    if ($('storyboard').dataset.version !== String(plan.version)) {
      // Someone changed the plan while it was on screen: say so, the approval names what is shown.
      if (planVersion !== null)
        notice(`The plan changed to version ${plan.version} while you were looking: review it again before approving.`);
      renderStoryboard(plan);
      $('storyboard').dataset.version = String(plan.version);
    }
    // Approval names the version on screen (If-Match), never one the page has not shown.
    planVersion = plan.version ?? null;
    renderPreview(plan);
    // While a preview of this version is being made, wait for it: approving means having seen it.
    $('approve').disabled =
      plan.preview?.status === 'RENDERING' || (plan.preview?.status === 'READY' && plan.preview.current === false);
  }
  $('actions').hidden = job.status !== 'AWAITING_APPROVAL';
  if (job.status === 'DELIVERED') renderDelivered(job);
  return job;
}

async function act(button, run, done) {
  button.disabled = true;
  try {
    await run();
    notice(done);
  } catch (e) {
    notice(e.message, 'error');
  }
  button.disabled = false;
  // refresh() decides again whether approving is possible (a preview may still be rendering).
  await refresh().catch((e) => notice(e.message, 'error'));
}

/** Live progress: the job's SSE feed read with fetch (EventSource cannot send the token). */
async function follow() {
  let lastId = null;
  for (let round = 0; round < 1000; round++) {
    try {
      const res = await fetch(`/v1/jobs/${encodeURIComponent(jobId)}/events`, {
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'text/event-stream',
          ...(lastId ? { 'last-event-id': lastId } : {}),
        },
      });
      // An expired or refused link ends the feed: listening again would only fail again.
      if (res.status === 401)
        return notice('This review link is not valid or has expired. Ask for a new one.', 'error');
      if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const id = /^id: ?(.*)$/m.exec(block)?.[1];
          if (id) lastId = id;
          if (/^data:/m.test(block)) {
            const job = await refresh();
            if (TERMINAL.includes(job.status)) return;
          }
        }
      }
    } catch {
      // the stream ended or failed: read the job once, then listen again
    }
    const job = await refresh().catch(() => null);
    if (job && TERMINAL.includes(job.status)) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function main() {
  if (!jobId || !token) return notice('This review link is incomplete. Ask for a new one.', 'error');
  $('approve').addEventListener('click', (e) =>
    act(
      e.target,
      () =>
        api('/approve', { method: 'POST', headers: planVersion !== null ? { 'if-match': `"${planVersion}"` } : {} }),
      'Approved: rendering starts now.',
    ),
  );
  $('cancel').addEventListener('click', (e) =>
    act(e.target, () => api('/cancel', { method: 'POST' }), 'The job is canceled.'),
  );
  $('request-changes').addEventListener('click', (e) =>
    act(
      e.target,
      () =>
        api('/plan/changes', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ notes: $('change-notes').value }),
        }),
      'Sent: the director is re-planning; a new version and preview follow.',
    ),
  );
  try {
    const job = await refresh();
    if (!TERMINAL.includes(job.status)) await follow();
  } catch (e) {
    notice(e.message, 'error');
    $('status').textContent = 'unavailable';
  }
}

main();
