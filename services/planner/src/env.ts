import { Type } from '@sinclair/typebox';
import { parseEnv } from '@aiprod/config';
import { CoreEnvProperties } from '@aiprod/service-runtime';

export const PlannerEnv = Type.Object({ ...CoreEnvProperties });
export const loadEnv = (env: NodeJS.ProcessEnv = process.env) => parseEnv(PlannerEnv, env);
