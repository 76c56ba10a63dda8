import type { BackendName } from '@aiprod/contracts';
import { modelCapability, type ModelCapability } from '@aiprod/vendor-catalogue';
import type { Dialect, PromptLimits, ReferenceSyntax } from './limits';

/** The prompt dialect of a catalogued model: its family decides the camera words and reference phrasing. */
export function dialectOf(backend: BackendName, model: string): Dialect {
  if (backend === 'local') return 'local';
  if (backend === 'veo') return 'veo';
  // Runway serves Veo 3.1 too; those follow Veo's prompt guide.
  if (backend === 'runway') return model.startsWith('veo') ? 'veo' : 'runway';
  if (model.includes('seedance')) return 'seedance';
  if (model.includes('kling')) return 'kling';
  if (model.includes('hailuo')) return 'hailuo';
  return 'wan';
}

/** How the model's prompt names the images sent with it, from what the catalogue says it takes. */
function referenceSyntaxOf(capability: ModelCapability, dialect: Dialect): ReferenceSyntax {
  if (dialect === 'local') return 'none';
  if (capability.maxReferenceImages > 0) return dialect === 'veo' ? 'asset' : 'indexed';
  return capability.firstFrame === 'none' ? 'none' : 'first-frame';
}

/** The prompt limits of a configured model, read from the vendor catalogue. */
export function promptLimitsFor(backend: BackendName, model: string): PromptLimits {
  const capability = modelCapability(backend, model);
  const dialect = dialectOf(backend, model);
  return {
    maxPromptChars: capability.maxPromptChars,
    negativePrompt: capability.negativePrompt,
    dialect,
    referenceSyntax: referenceSyntaxOf(capability, dialect),
  };
}
