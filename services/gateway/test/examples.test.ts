import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseBrief } from '../src/brief';

/** The sample briefs in examples/ are what users copy first: they must pass the strict schema. */
const dir = join(__dirname, '..', '..', '..', 'examples', 'briefs');
it.each(readdirSync(dir).filter((f) => f.endsWith('.json')))('examples/briefs/%s is a valid brief', (file) => {
  expect(() => parseBrief(JSON.parse(readFileSync(join(dir, file), 'utf8')))).not.toThrow();
});
