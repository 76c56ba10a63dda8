import { Type } from '@sinclair/typebox';
import { parseEnv } from '@aiprod/config';
import { CoreEnvProperties, StorageEnvProperties } from '@aiprod/service-runtime';

export const QaEnv = Type.Object({
  ...CoreEnvProperties,
  ...StorageEnvProperties,
  QA_MAX_ATTEMPTS: Type.Integer({
    minimum: 1,
    maximum: 10,
    default: 3,
    description: 'Render attempts per shot before the job fails.',
  }),
  QA_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 32, default: 2 }),
});
export const loadEnv = (env: NodeJS.ProcessEnv = process.env) => parseEnv(QaEnv, env);
