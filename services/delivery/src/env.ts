import { Type } from '@sinclair/typebox';
import { envSchema, parseEnv } from '@aiprod/config';
import { SpeechEnvProperties } from '@aiprod/speech';
import {
  CoreEnvProperties,
  LoopbackEnvProperties,
  StorageEnvProperties,
  StorageEnvRules,
  WorkDirEnvProperties,
} from '@aiprod/service-runtime';

export const DeliveryEnv = envSchema(
  {
    ...CoreEnvProperties,
    ...StorageEnvProperties,
    ...WorkDirEnvProperties,
    ...LoopbackEnvProperties,
    ...SpeechEnvProperties,
    ASSEMBLY_TIMEOUT_SECONDS: Type.Integer({
      minimum: 10,
      maximum: 3600,
      default: 600,
      description:
        "Bound on assembling one job (every variant, poster and contact sheet). Default 600 s: room for a long cut with all its variants on the pool's 2 CPUs, and below the ASSEMBLING deadline (900 s), so a stuck ffmpeg fails the attempt before the sweeper acts.",
    }),
    WEBHOOK_TIMEOUT_SECONDS: Type.Integer({
      minimum: 1,
      maximum: 60,
      default: 10,
      description:
        'Bound on one webhook request. Default 10 s: a receiver should acknowledge and work later; a slow one is retried on the schedule instead of holding a sender.',
    }),
    WEBHOOK_POLL_SECONDS: Type.Number({
      minimum: 0.2,
      maximum: 300,
      default: 5,
      description:
        "How often due webhook retries are sent. Default 5 s: the retry schedule's first step (docs/decisions/2026-11-client-webhooks.md).",
    }),
    RETENTION_SWEEP_INTERVAL_SECONDS: Type.Integer({
      minimum: 60,
      maximum: 86400,
      default: 3600,
      description:
        "How often the retention sweeper deletes the files and records past their tenant's retention. Default 3600 s: retention is counted in days, so an hour late is nothing, and each pass reads every ended job.",
    }),
    LOGO_FETCH_TIMEOUT_SECONDS: Type.Integer({
      minimum: 1,
      maximum: 120,
      default: 15,
      description:
        'Overall deadline of the brand-logo download, from the DNS check to the last byte. Default 15 s: a logo is small; a slow host must not hold the assembly.',
    }),
  },
  [...StorageEnvRules],
);
export const loadEnv = (env: NodeJS.ProcessEnv = process.env) => parseEnv(DeliveryEnv, env);
