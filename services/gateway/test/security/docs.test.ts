// docs/security.md names a test for every OWASP API Top 10 category that applies; this keeps
// those names true: every file named exists and holds a test of that name.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..', '..');
const doc = readFileSync(join(ROOT, 'docs', 'security.md'), 'utf8');

/** `path` › "test name" (the name is optional); names may hold apostrophes, never double quotes. */
const REFERENCE = /`([^`\s]+\.test\.ts)`(?: › "([^"]+)")?/g;

const sections = doc.split(/^## /m).slice(1);
const categories = sections.filter((s) => /^API\d+:2023 /.test(s));

it('has one section for each of the ten categories, in order', () => {
  expect(categories.map((s) => s.split(':')[0])).toEqual(Array.from({ length: 10 }, (_, i) => `API${i + 1}`));
});

it('names at least one test for every category that applies', () => {
  for (const section of categories) {
    const applies = /\*\*Applies:\*\* (yes|partly)/.exec(section);
    const heading = section.split('\n')[0];
    expect([heading, /\*\*Applies:\*\* (yes|partly|no)/.test(section)]).toEqual([heading, true]);
    if (applies)
      expect([heading, [...section.matchAll(REFERENCE)].filter((m) => m[2]).length > 0]).toEqual([heading, true]);
  }
});

it('names only test files that exist, and tests that are in them', () => {
  const references = [...doc.matchAll(REFERENCE)];
  expect(references.length).toBeGreaterThan(30);
  const missing: string[] = [];
  for (const [, path, name] of references) {
    const file = join(ROOT, path!);
    if (!existsSync(file)) {
      missing.push(`${path}: no such file`);
      continue;
    }
    if (name && !readFileSync(file, 'utf8').includes(name)) missing.push(`${path}: no test "${name}"`);
  }
  expect(missing).toEqual([]);
});
