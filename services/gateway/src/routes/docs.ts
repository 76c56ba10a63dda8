import { Router } from 'express';
import send from 'send';

/** The pages' own policy: Redoc styles inline and runs its search in a worker made from a blob. */
const DOCS_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AIPROD API</title>
</head>
<body>
<redoc spec-url="/v1/openapi.json"></redoc>
<script src="/docs/redoc.standalone.js"></script>
</body>
</html>
`;

/**
 * GET /docs: the API reference, public like the document it renders. Redoc's standalone bundle is
 * served from the installed package (no CDN: the page works offline and pins the version we test).
 */
export function docsRoutes(): Router {
  const router = Router();
  const script = require.resolve('redoc/bundles/redoc.standalone.js');
  router.get('/docs', (_req, res) => {
    res.setHeader('Content-Security-Policy', DOCS_CSP);
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type('html').send(PAGE);
  });
  router.get('/docs/redoc.standalone.js', (req, res, next) => {
    // dotfiles: the package lives under node_modules/.pnpm/ in a pnpm install.
    send(req, script, { cacheControl: false, index: false, dotfiles: 'allow' })
      .on('headers', (out: typeof res) => out.setHeader('Cache-Control', 'public, max-age=3600'))
      .on('error', next)
      .pipe(res);
  });
  return router;
}
