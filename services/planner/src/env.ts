import { Type } from '@sinclair/typebox';
import { envSchema, parseEnv } from '@aiprod/config';
import {
  BackendsEnvProperties,
  CoreEnvProperties,
  FallbackPolicyEnvProperties,
  GeminiEnvProperties,
} from '@aiprod/service-runtime';

export const PlannerEnv = envSchema({
  ...CoreEnvProperties,
  ...BackendsEnvProperties,
  ...FallbackPolicyEnvProperties,
  ...GeminiEnvProperties,
  PLANNER_DIRECTOR: Type.Union([Type.Literal('local'), Type.Literal('gemini')], {
    default: 'local',
    description:
      'The creative director: the deterministic local one, or Gemini on Vertex AI (which needs GCP_PROJECT, VERTEX_LOCATION and GEMINI_MODEL, all always set). Default local: it costs nothing and needs no credentials, so a new deployment and CI plan without a paid API; production sets gemini.',
  }),
  PLANNER_FALLBACK_TO_LOCAL: Type.Boolean({
    default: false,
    description:
      'When Gemini fails, plan with the local director instead (recorded on the job as plan.director_fallback); otherwise the job fails. Default false: a tenant who paid for Gemini planning is not silently given the animatic plan.',
  }),
  PLANNER_GEMINI_TIMEOUT_SECONDS: Type.Number({
    minimum: 1,
    maximum: 300,
    default: 45,
    description:
      "Bound on one Gemini planning call. Default 45 s: a full shot plan usually takes well under that; several attempts still fit in the PLANNING state's deadline.",
  }),
  PLANNER_GEMINI_ATTEMPTS: Type.Integer({
    minimum: 1,
    maximum: 10,
    default: 3,
    description:
      'Gemini calls per plan before giving up (on 429, 5xx, timeouts and unusable answers). Default 3: rides out a transient error without multiplying the cost of a broken prompt.',
  }),
});
export type PlannerEnv = ReturnType<typeof loadEnv>;
export const loadEnv = (env: NodeJS.ProcessEnv = process.env) => parseEnv(PlannerEnv, env);
