import { Type } from '@sinclair/typebox';
import { envSchema, parseEnv } from '@aiprod/config';
import {
  CoreEnvProperties,
  GeminiEnvProperties,
  StorageEnvProperties,
  StorageEnvRules,
  WorkDirEnvProperties,
} from '@aiprod/service-runtime';

export const QaEnv = envSchema(
  {
    ...CoreEnvProperties,
    ...StorageEnvProperties,
    ...GeminiEnvProperties,
    ...WorkDirEnvProperties,
    QA_CONCURRENCY: Type.Integer({
      minimum: 1,
      maximum: 32,
      default: 2,
      description:
        'Clips checked at once in one instance. Default 2: each check runs ffmpeg on a core, and the qa pool gets 2 CPUs on Cloud Run.',
    }),
    QA_TIMEOUT_SECONDS: Type.Integer({
      minimum: 5,
      maximum: 1800,
      default: 120,
      description:
        'Bound on checking one clip. Default 120 s: the detectors take seconds on a short clip, so only a stuck decode or judge reaches it.',
    }),
    QA_JUDGE: Type.Union([Type.Literal('local'), Type.Literal('gemini'), Type.Literal('none')], {
      default: 'local',
      description:
        'Semantic judge: local OCR and plan conformance, Gemini on Vertex AI (which needs GCP_PROJECT, VERTEX_LOCATION and GEMINI_MODEL, all always set), or none (reported as skipped). Default local: it runs offline at no cost, so every deployment and CI check on-screen text; production sets gemini.',
    }),
  },
  [...StorageEnvRules],
);
export type QaEnv = ReturnType<typeof loadEnv>;
export const loadEnv = (env: NodeJS.ProcessEnv = process.env) => parseEnv(QaEnv, env);
