import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const json = (path: string) => JSON.parse(readFileSync(join(root, path), 'utf8')) as Record<string, unknown>;

describe('the runtime', () => {
  it('is Node 24 LTS, the one the engines field, .nvmrc and the node devDependency name', () => {
    const manifest = json('package.json') as { engines: { node: string }; devDependencies: Record<string, string> };
    expect(process.versions.node.split('.')[0]).toBe('24');
    expect(manifest.engines.node).toMatch(/^>=24\.\d+ <25$/);
    expect(manifest.devDependencies.node).toMatch(/^24\./);
    expect(readFileSync(join(root, '.nvmrc'), 'utf8').trim()).toBe('24');
  });
});
