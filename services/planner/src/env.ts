import { Type } from '@sinclair/typebox';
import { parseEnv } from '@aiprod/config';
import { CoreEnvProperties } from '@aiprod/service-runtime';

export const PlannerEnv = Type.Object({
  ...CoreEnvProperties,
  PLANNER_DIRECTOR: Type.Union([Type.Literal('local'), Type.Literal('gemini')], {
    default: 'local',
    description: 'The creative director: the deterministic local one, or Gemini on Vertex AI.',
  }),
  PLANNER_FALLBACK_TO_LOCAL: Type.Boolean({
    default: false,
    description:
      'When Gemini fails, plan with the local director instead (recorded on the job as plan.director_fallback); otherwise the job fails.',
  }),
  PLANNER_BACKENDS: Type.String({
    default: 'local',
    pattern: '^(runway|veo|replicate|local)(,(runway|veo|replicate|local))*$',
    description: 'The render pools this deployment runs, comma-separated; shots are only sent to these.',
  }),
  RENDER_FALLBACK_POLICY: Type.Optional(
    Type.String({
      minLength: 2,
      description:
        "The render pools' fallback policy as JSON (the same value they get): the worst case a budget cap is compared with is priced with it; the default otherwise.",
    }),
  ),
  GEMINI_MODEL: Type.String({ default: 'gemini-2.5-flash' }),
  VERTEX_LOCATION: Type.String({ default: 'europe-west1' }),
  VERTEX_BASE_URL: Type.Optional(
    Type.String({ format: 'uri', description: 'Override of the Vertex endpoint (tests).' }),
  ),
  PLANNER_GEMINI_TIMEOUT_SECONDS: Type.Number({ minimum: 1, maximum: 300, default: 45 }),
  PLANNER_GEMINI_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 10, default: 3 }),
});
export type PlannerEnv = ReturnType<typeof loadEnv>;
export const loadEnv = (env: NodeJS.ProcessEnv = process.env) => parseEnv(PlannerEnv, env);
