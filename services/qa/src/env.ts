import { Type } from '@sinclair/typebox';
import { parseEnv } from '@aiprod/config';
import { CoreEnvProperties, StorageEnvProperties } from '@aiprod/service-runtime';

export const QaEnv = Type.Object({
  ...CoreEnvProperties,
  ...StorageEnvProperties,
  QA_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 32, default: 2 }),
  QA_TIMEOUT_SECONDS: Type.Integer({
    minimum: 5,
    maximum: 1800,
    default: 120,
    description: 'Bound on checking one clip.',
  }),
  QA_JUDGE: Type.Union([Type.Literal('local'), Type.Literal('gemini'), Type.Literal('none')], {
    default: 'local',
    description: 'Semantic judge: local OCR and plan conformance, Gemini on Vertex AI, or none (reported as skipped).',
  }),
  GEMINI_MODEL: Type.String({ default: 'gemini-2.5-flash' }),
  VERTEX_LOCATION: Type.String({ default: 'europe-west1' }),
  VERTEX_BASE_URL: Type.Optional(
    Type.String({ format: 'uri', description: 'Override of the Vertex endpoint (tests).' }),
  ),
  WORK_DIR: Type.Optional(Type.String({ minLength: 1 })),
});
export type QaEnv = ReturnType<typeof loadEnv>;
export const loadEnv = (env: NodeJS.ProcessEnv = process.env) => parseEnv(QaEnv, env);
