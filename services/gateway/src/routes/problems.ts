import { Router } from 'express';
import { PROBLEM_TYPES, problemTypeSlug, type ProblemKind } from '@aiprod/contracts';
import { HttpProblem } from '../problem';
import { PROBLEM_EXPLANATIONS } from '../problem-pages';

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}code{background:#f2f2f2;padding:0 .2em}';

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>\n`;
}

function problemPage(kind: ProblemKind): string {
  const { status, title } = PROBLEM_TYPES[kind];
  const explained = PROBLEM_EXPLANATIONS[kind];
  return page(
    `${title} (${status})`,
    `<p><a href="/problems">All problem types</a> · <a href="/docs">API reference</a></p>` +
      `<h1>${escapeHtml(title)}</h1>` +
      `<p>HTTP status <strong>${status}</strong>; <code>type</code>: <code>/problems/${problemTypeSlug(kind)}</code></p>` +
      `<h2>What it means</h2><p>${escapeHtml(explained?.meaning ?? title)}</p>` +
      `<h2>What to do</h2><p>${escapeHtml(explained?.todo ?? 'Quote the response’s requestId when you contact us.')}</p>`,
  );
}

/**
 * The pages a problem's `type` resolves to (RFC 9457: the type URI should lead a person to
 * documentation). Public and static: they describe the API, no tenant data.
 */
export function problemRoutes(): Router {
  const router = Router();
  const kinds = Object.keys(PROBLEM_TYPES) as ProblemKind[];
  const pages = new Map(kinds.map((kind) => [problemTypeSlug(kind), problemPage(kind)]));
  const index = page(
    'AIPROD problem types',
    `<h1>Problem types</h1><p>Errors are <code>application/problem+json</code> (RFC 9457); their <code>type</code> is one of these.</p><ul>${kinds
      .map(
        (k) =>
          `<li><a href="/problems/${problemTypeSlug(k)}">${problemTypeSlug(k)}</a> (${PROBLEM_TYPES[k].status}): ${escapeHtml(PROBLEM_TYPES[k].title)}</li>`,
      )
      .join('')}</ul>`,
  );
  router.get('/problems', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type('html').send(index);
  });
  router.get('/problems/:type', (req, res) => {
    const html = pages.get(req.params.type);
    if (!html) throw new HttpProblem('not_found', 'no such problem type; see /problems');
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type('html').send(html);
  });
  return router;
}
