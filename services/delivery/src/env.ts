import { Type } from '@sinclair/typebox';
import { parseEnv } from '@aiprod/config';
import { CoreEnvProperties, StorageEnvProperties } from '@aiprod/service-runtime';

export const DeliveryEnv = Type.Object({
  ...CoreEnvProperties,
  ...StorageEnvProperties,
  ASSEMBLY_TIMEOUT_SECONDS: Type.Integer({ minimum: 10, maximum: 3600, default: 600 }),
  WORK_DIR: Type.Optional(Type.String({ minLength: 1 })),
});
export const loadEnv = (env: NodeJS.ProcessEnv = process.env) => parseEnv(DeliveryEnv, env);
