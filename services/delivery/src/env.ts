import { Type } from '@sinclair/typebox';
import { parseEnv } from '@aiprod/config';
import { CoreEnvProperties, StorageEnvProperties } from '@aiprod/service-runtime';

export const DeliveryEnv = Type.Object({
  ...CoreEnvProperties,
  ...StorageEnvProperties,
  ASSEMBLY_TIMEOUT_SECONDS: Type.Integer({ minimum: 10, maximum: 3600, default: 600 }),
  WORK_DIR: Type.Optional(Type.String({ minLength: 1 })),
  WEBHOOK_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, maximum: 60, default: 10 }),
  WEBHOOK_POLL_SECONDS: Type.Number({
    minimum: 0.2,
    maximum: 300,
    default: 5,
    description: 'How often due webhook retries are sent.',
  }),
  LOGO_FETCH_TIMEOUT_SECONDS: Type.Integer({
    minimum: 1,
    maximum: 120,
    default: 15,
    description: 'Overall deadline of the brand-logo download, from the DNS check to the last byte.',
  }),
  ALLOW_LOOPBACK_HTTP: Type.Boolean({
    default: false,
    description: 'Local platform only: plain http to loopback for webhooks and brand logos.',
  }),
});
export const loadEnv = (env: NodeJS.ProcessEnv = process.env) => parseEnv(DeliveryEnv, env);
