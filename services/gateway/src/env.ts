import { Type } from '@sinclair/typebox';
import { parseEnv } from '@aiprod/config';
import { CoreEnvProperties, StorageEnvProperties } from '@aiprod/service-runtime';

export const GatewayEnv = Type.Object({
  ...CoreEnvProperties,
  ...StorageEnvProperties,
  TLS_CERT_FILE: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'Serve HTTPS with this certificate (local platform). On Cloud Run TLS ends in front.',
    }),
  ),
  TLS_KEY_FILE: Type.Optional(Type.String({ minLength: 1 })),
  OUTPUT_URL_TTL_SECONDS: Type.Integer({ minimum: 60, maximum: 604800, default: 3600 }),
});
export type GatewayEnv = ReturnType<typeof loadEnv>;
export const loadEnv = (env: NodeJS.ProcessEnv = process.env) => parseEnv(GatewayEnv, env);
