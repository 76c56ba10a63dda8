import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CATALOGUE, TOPICS } from '@aiprod/contracts';

const collapse = (topic: string) => topic.replace(/^aiprod\.render\.[a-z]+\.v1$/, 'aiprod.render.*.v1');

describe('docs/architecture.md', () => {
  it('draws exactly the publisher → subscriber edges of the topic catalogue', () => {
    const doc = readFileSync(join(__dirname, 'architecture.md'), 'utf8');
    const diagram = /```mermaid\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
    const drawn = new Set(
      [...diagram.matchAll(/^\s*(\w+) -->\|([^|]+)\| (\w+)\s*$/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`),
    );
    const expected = new Set(
      TOPICS.flatMap((topic) =>
        CATALOGUE[topic].publishers.flatMap((p) =>
          CATALOGUE[topic].subscribers.map((s) => `${p} ${collapse(topic)} ${s.service}`),
        ),
      ),
    );
    expect([...drawn].sort()).toEqual([...expected].sort());
  });
});
