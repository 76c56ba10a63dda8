import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { buildOpenApiDocument } from './document';

/** The document as the exported file holds it (stable key order, two-space indent, final newline). */
export const openApiFileText = () => `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;

/** `pnpm openapi:export [file]`: writes the document where the SDK is generated from. */
if (require.main === module) {
  const target = resolve(
    process.argv[2] ?? resolve(__dirname, '..', '..', '..', '..', 'packages', 'client', 'openapi.json'),
  );
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, openApiFileText());
  process.stdout.write(`${target}\n`);
}
