import { Type } from '@sinclair/typebox';
import { envRule, envSchema, parseEnv, splitList } from '@aiprod/config';
import { SpeechEnvProperties } from '@aiprod/speech';
import { parseBackendModels } from '@aiprod/vendor-catalogue';
import {
  BackendModelsEnvProperties,
  BackendsEnvProperties,
  CoreEnvProperties,
  FallbackPolicyEnvProperties,
  GeminiEnvProperties,
  LoopbackEnvProperties,
  StorageEnvProperties,
  StorageEnvRules,
} from '@aiprod/service-runtime';

export const PlannerEnv = envSchema(
  {
    ...CoreEnvProperties,
    ...StorageEnvProperties,
    ...LoopbackEnvProperties,
    ...BackendsEnvProperties,
    ...FallbackPolicyEnvProperties,
    ...GeminiEnvProperties,
    ...BackendModelsEnvProperties,
    ...SpeechEnvProperties,
    PLANNER_BACKENDS: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Retired name of ENABLED_BACKENDS, read for one release only when ENABLED_BACKENDS is unset (a start-up error when the two disagree), so planner images before and after the rename both plan on the deployed pools. Remove after the upgrade (docs/deploy.md).',
      }),
    ),
    PLANNER_DIRECTOR: Type.Union([Type.Literal('local'), Type.Literal('gemini')], {
      default: 'local',
      description:
        'The creative director: the deterministic local one, or Gemini on Vertex AI (which needs GCP_PROJECT, VERTEX_LOCATION and GEMINI_MODEL, all always set). Default local: it costs nothing and needs no credentials, so a new deployment and CI plan without a paid API; production sets gemini.',
    }),
    PLANNER_TRANSLATOR: Type.Union([Type.Literal('none'), Type.Literal('gemini')], {
      default: 'none',
      description:
        "Translates a plan's voice-over lines, on-screen text and call to action into a brief's further languages: none, or Gemini on Vertex AI (the gemini director's settings: GCP_PROJECT, required, and VERTEX_LOCATION, GEMINI_MODEL and the PLANNER_GEMINI_* bounds, which have defaults). The gateway must be given the same value (it refuses a further language without the brief's own words when none). Default none: no paid API, and a brief's translations are used as given.",
    }),
    PLANNER_FALLBACK_TO_LOCAL: Type.Boolean({
      default: false,
      description:
        'When Gemini fails, plan with the local director instead (recorded on the job as plan.director_fallback); otherwise the job fails. Default false: a tenant who paid for Gemini planning is not silently given the animatic plan.',
    }),
    PLANNER_PREFER_BACKENDS_WITH_ROOM: Type.Boolean({
      default: true,
      description:
        "Read the render pools' live capacity board when planning, and put a shot whose cheapest backend has no room now on one of the same or a better tier that has room, within the budget cap (the reason is in the plan's notes). Default true: a busy vendor's queue is not where a new job should wait; without capacity reports the plan is as it would be without this.",
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
    REFERENCE_FETCH_TIMEOUT_SECONDS: Type.Integer({
      minimum: 1,
      maximum: 120,
      default: 20,
      description:
        "Overall deadline of one brief reference image download (DNS check to last byte). Default 20 s: a 10 MB image from a slow host fits; a trickling server cannot hold the job's planning for longer.",
    }),
  },
  [
    ...StorageEnvRules,
    // A model the catalogue does not know has no known limits: stop here rather than plan for a guess.
    envRule('BACKEND_MODELS names models of the vendor catalogue', ['BACKEND_MODELS'], (env) => {
      try {
        parseBackendModels(env.BACKEND_MODELS as string | undefined);
        return undefined;
      } catch (error) {
        return (error as Error).message;
      }
    }),
  ],
);
export type PlannerEnv = ReturnType<typeof loadEnv>;
/**
 * PLANNER_BACKENDS is the retired name of ENABLED_BACKENDS, read for one release so an upgrade is
 * safe in either order: a new image deployed on a pool whose environment still has only the old
 * name (Cloud Build keeps a revision's environment), and Terraform setting both names for old
 * images. Without it the planner would fall back to `local` and plan paid briefs as animatics.
 * Remove it (and the name in terraform/modules/platform/main.tf) once every environment runs
 * an image that reads ENABLED_BACKENDS.
 */
export function withRetiredNames(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const retired = env.PLANNER_BACKENDS;
  if (retired === undefined) return env;
  if (env.ENABLED_BACKENDS === undefined) return { ...env, ENABLED_BACKENDS: retired };
  const same = (v: string) => [...new Set(splitList(v))].sort().join(',');
  if (same(env.ENABLED_BACKENDS) !== same(retired)) {
    throw new Error(
      'invalid environment: PLANNER_BACKENDS (the retired name of ENABLED_BACKENDS) disagrees with ENABLED_BACKENDS',
    );
  }
  return env;
}

export const loadEnv = (env: NodeJS.ProcessEnv = process.env) => parseEnv(PlannerEnv, withRetiredNames(env));
