/**
 * Writes docs/configuration.md from each service's env.ts (`pnpm config:docs`);
 * docs/configuration.test.ts fails when the committed file differs from what this renders.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// The standalone build: prettier's main entry loads its parsers with import(), which jest's
// CommonJS runtime refuses, and this must render the same in `pnpm config:docs` and in the test.
import * as markdown from 'prettier/plugins/markdown';
import type { Options } from 'prettier';
import { format } from 'prettier/standalone';
import { renderReference, type ReferenceSection } from '@aiprod/config';
import { DeliveryEnv } from '../services/delivery/src/env';
import { GatewayEnv } from '../services/gateway/src/env';
import { PlannerEnv } from '../services/planner/src/env';
import { QaEnv } from '../services/qa/src/env';
import { RenderEnv } from '../services/render/src/env';

export const CONFIGURATION_DOC = join(__dirname, '..', 'docs', 'configuration.md');

const section = (service: string, intro: string, schema: ReferenceSection['schema']): ReferenceSection => ({
  title: service,
  intro: `\`services/${service}/src/env.ts\`: ${intro}`,
  schema,
});

export const SECTIONS: ReferenceSection[] = [
  section('gateway', 'the public HTTPS API (Cloud Run service `aiprod-gateway`).', GatewayEnv),
  section('planner', 'shot plans, prices and backend choice (worker pool `aiprod-planner`).', PlannerEnv),
  section('render', 'one worker pool per backend, `aiprod-render-<backend>`, all from the render image.', RenderEnv),
  section('qa', 'technical and semantic checks of each clip (worker pool `aiprod-qa`).', QaEnv),
  section('delivery', 'assembly, delivery and client webhooks (worker pool `aiprod-delivery`).', DeliveryEnv),
];

const HEADER = `<!-- Generated from each service's src/env.ts by \`pnpm config:docs\`; do not edit by hand. -->

# Configuration

Every setting each service reads from its environment, parsed once at start-up by
\`parseEnv\` (\`packages/config\`): a missing or malformed setting, or a broken rule across
settings, stops the service with a message that names the settings (never their values).
Settings shared by several services (\`GCP_PROJECT\`, storage, \`ENABLED_BACKENDS\`, Gemini, …)
are defined once in \`packages/service-runtime/src/env.ts\`. "by rule" marks a setting that
is optional on its own but that a rule below its table may require. Comma lists are trimmed,
empty entries dropped and repeated entries kept once.

`;

/** The reference as it should be committed, formatted as \`pnpm lint\` expects. */
export async function renderConfigurationDoc(): Promise<string> {
  const options = JSON.parse(readFileSync(join(__dirname, '..', '.prettierrc.json'), 'utf8')) as Options;
  return format(HEADER + renderReference(SECTIONS), { ...options, parser: 'markdown', plugins: [markdown] });
}

if (require.main === module) {
  renderConfigurationDoc().then(
    (doc) => {
      writeFileSync(CONFIGURATION_DOC, doc);
      console.log('wrote docs/configuration.md');
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
