import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeErrors, PRESETS, ShotSpecSchema, validate, type Preset } from '@aiprod/contracts';
import {
  createLocalJudge,
  evaluateClip,
  expectationFromSpec,
  type ClipExpectation,
  type SemanticJudge,
} from '@aiprod/clip-checks';

/** Checking one clip by hand, semantic judge included: generous, it is an operator waiting. */
const QA_COMMAND_TIMEOUT_MS = 300_000;

export class UsageError extends Error {}

export interface QaCommandOptions {
  plan?: string;
  preset: string;
  judge: string;
  expectAudio?: boolean;
}

/**
 * `aiprod qa <file>`: the same checks the platform runs, on any file. Returns the report and
 * whether it passed; usage problems (no such file, a plan that is not a shot, an unknown preset)
 * throw UsageError.
 */
export async function runQaCommand(file: string, options: QaCommandOptions) {
  if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
  const preset: Preset | undefined = PRESETS[options.preset as Preset['name']];
  if (!preset) throw new UsageError(`unknown preset "${options.preset}" (one of ${Object.keys(PRESETS).join(', ')})`);
  if (!['local', 'none'].includes(options.judge))
    throw new UsageError(`unknown judge "${options.judge}" (local or none)`);
  let spec;
  if (options.plan) {
    if (!existsSync(options.plan)) throw new UsageError(`no such plan file: ${options.plan}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(options.plan, 'utf8'));
    } catch {
      throw new UsageError(`the plan is not JSON: ${options.plan}`);
    }
    const checked = validate(ShotSpecSchema, parsed);
    if (!checked.ok) throw new UsageError(`the plan is not a shot: ${describeErrors(checked.errors)}`);
    spec = checked.value;
  }
  const expectation: ClipExpectation = spec
    ? expectationFromSpec(spec, options.expectAudio ?? false)
    : { expectAudio: options.expectAudio ?? false };
  const workDir = mkdtempSync(join(tmpdir(), 'aiprod-qa-'));
  let judge: SemanticJudge | null = null;
  try {
    judge = spec && options.judge === 'local' ? await createLocalJudge() : null;
    const evaluation = await evaluateClip({
      file,
      expectation,
      thresholds: preset.qa,
      ...(spec ? { spec } : {}),
      judge,
      workDir,
      timeoutMs: QA_COMMAND_TIMEOUT_MS,
    });
    // Evidence frames live in a temp dir that is removed; the report names the checks instead.
    return {
      file,
      preset: preset.name,
      judge: judge?.name ?? null,
      verdict: evaluation.verdict,
      checks: evaluation.checks,
      timings: evaluation.timings,
    };
  } finally {
    await judge?.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}
