import { createHash } from 'node:crypto';
import { renderAnimatic } from '@aiprod/media';
import { BackendFailure, sentRequest, type VideoBackend } from './backend';

/**
 * The zero-cost animatic: palette gradients, a camera move and the shot's text, made by ffmpeg.
 * There is no vendor task: the "task id" is the spec's hash and the render happens in fetchResult,
 * so a redelivered request simply renders the same clip again.
 */
export function localBackend(options: { timeoutMs: number }): VideoBackend {
  const specs = new Map<string, Parameters<VideoBackend['submit']>[0]>();
  return {
    name: 'local',
    model: 'animatic-1',
    pollIntervalMs: 0,
    async submit(spec) {
      const taskId = `local-${createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 24)}`;
      specs.set(taskId, spec);
      // The animatic draws the spec itself: its "prompt" is the shot's prompt, and it takes no images.
      return {
        taskId,
        sent: sentRequest({
          model: 'animatic-1',
          prompt: spec.prompt,
          negativePrompt: spec.negativePrompt,
          seed: spec.seed,
        }),
      };
    },
    async poll(taskId) {
      const spec = specs.get(taskId);
      if (!spec) {
        // A restarted worker resuming a local "task": nothing was paid, so the caller re-submits.
        return {
          state: 'failed',
          error: {
            class: 'transient',
            code: 'local.unknown_task',
            message: 'local task lost in a restart',
            charged: false,
          },
        };
      }
      specs.delete(taskId);
      return { state: 'succeeded', output: { kind: 'local', spec }, usage: { outputSeconds: spec.durationSeconds } };
    },
    async fetchResult(output, outFile, signal) {
      if (output.kind !== 'local')
        throw new BackendFailure(this.classify(new Error(`local cannot fetch ${output.kind}`)));
      await renderAnimatic(output.spec, outFile, { timeoutMs: options.timeoutMs, signal });
    },
    async cancel() {
      // Nothing runs outside this process, and nothing is billed.
      return { charged: false };
    },
    classify(error) {
      if (error instanceof BackendFailure) return error.detail;
      const message = error instanceof Error ? error.message : String(error);
      return { class: 'transient', code: 'local.ffmpeg', message: message.slice(0, 300), charged: false };
    },
  };
}
