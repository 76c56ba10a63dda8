import { Type } from '@sinclair/typebox';
import { parseEnv } from '@aiprod/config';
import { CoreEnvProperties, StorageEnvProperties } from '@aiprod/service-runtime';

export const RenderEnv = Type.Object({
  ...CoreEnvProperties,
  ...StorageEnvProperties,
  RENDER_BACKEND: Type.Union(
    [Type.Literal('local'), Type.Literal('runway'), Type.Literal('veo'), Type.Literal('replicate')],
    {
      description: 'Which backend this worker pool serves; one pool per backend.',
    },
  ),
  RENDER_CONCURRENCY: Type.Integer({
    minimum: 1,
    maximum: 64,
    default: 2,
    description: 'Shots rendered at once by this process.',
  }),
  RENDER_TIMEOUT_SECONDS: Type.Integer({ minimum: 5, maximum: 3600, default: 300 }),
  WORK_DIR: Type.Optional(Type.String({ minLength: 1, description: 'Scratch directory (default: the OS temp dir).' })),
});
export const loadEnv = (env: NodeJS.ProcessEnv = process.env) => parseEnv(RenderEnv, env);
