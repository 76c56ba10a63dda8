import { readFileSync } from 'node:fs';
import { CONFIGURATION_DOC, renderConfigurationDoc, SECTIONS } from '../scripts/config-docs';

describe('docs/configuration.md', () => {
  it('is what the services’ env.ts schemas render today', async () => {
    const committed = readFileSync(CONFIGURATION_DOC, 'utf8');
    const rendered = await renderConfigurationDoc();
    if (committed !== rendered) {
      const lines = committed.split('\n');
      const at = rendered.split('\n').findIndex((line, i) => line !== lines[i]);
      throw new Error(
        `docs/configuration.md is out of date (first difference at line ${at + 1}): run \`pnpm config:docs\` and commit the file`,
      );
    }
  });

  it('gives every default its reason ("Default …: why") in the description', () => {
    const unexplained = SECTIONS.flatMap(({ title, schema }) =>
      Object.entries(schema.properties)
        .filter(([, p]) => p.default !== undefined && !/\bDefault \S+/.test(String(p.description)))
        .map(([name]) => `${title}: ${name}`),
    );
    expect(unexplained).toEqual([]);
  });
});
