// Writes the topic catalogue as JSON for Terraform and the docs: `pnpm catalogue:export`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { catalogueJson } from './catalogue';

const out = process.argv[2] ?? join(__dirname, '..', 'catalogue.json');
writeFileSync(out, `${JSON.stringify(catalogueJson(), null, 2)}\n`);
process.stdout.write(`${out}\n`);
