import { SpanStatusCode } from '@opentelemetry/api';
import { recordSpans, type SpanRecorder } from '@aiprod/testing';
import { MediaError, runFfmpeg, runFfprobe } from './process';

let spans: SpanRecorder;
beforeAll(() => {
  spans = recordSpans();
});
afterAll(() => spans.stop());
beforeEach(() => spans.reset());

describe('ffmpeg spans', () => {
  it('names one span per process by its operation, never by its argv', async () => {
    const secretPath = '/tmp/tenant-secret-name/does-not-exist.mp4';
    await runFfmpeg(['-v', 'error', '-f', 'lavfi', '-i', 'nullsrc=s=16x16:d=0.1', '-f', 'null', '-'], {
      timeoutMs: 20_000,
      operation: 'smoke',
    });
    await expect(
      runFfprobe(['-v', 'error', '-i', secretPath], { timeoutMs: 20_000, operation: 'probe' }),
    ).rejects.toThrow(MediaError);
    const [ok, failed] = spans.spans();
    expect(ok).toMatchObject({
      name: 'ffmpeg smoke',
      attributes: { 'media.tool': 'ffmpeg', 'media.operation': 'smoke' },
    });
    expect(ok!.status.code).toBe(SpanStatusCode.UNSET);
    expect(failed).toMatchObject({ name: 'ffprobe probe', attributes: { 'media.error.kind': 'exit' } });
    expect(failed!.status.code).toBe(SpanStatusCode.ERROR);
    expect(JSON.stringify([ok!.attributes, failed!.attributes, ok!.name, failed!.name])).not.toContain('nullsrc');
  });
});
