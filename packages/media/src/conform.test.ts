import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { conformClip, needsConform } from './conform';
import { runFfmpeg } from './process';
import { probe } from './probe';

const dir = mkdtempSync(join(tmpdir(), 'aiprod-conform-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('conforming a vendor clip to the shot', () => {
  it('turns a 24 fps 1920x1080 clip that runs long into the exact 30 fps 1280x720 frames the shot asked for', async () => {
    const vendor = join(dir, 'vendor.mp4');
    await runFfmpeg(
      [
        '-y',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=s=1920x1080:r=24:d=6',
        '-f',
        'lavfi',
        '-i',
        'sine=d=6',
        '-shortest',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-c:a',
        'aac',
        vendor,
      ],
      { timeoutMs: 60_000 },
    );
    const target = { width: 1280, height: 720, fps: 30, durationSeconds: 4.5 };
    const before = await probe(vendor);
    expect(needsConform(before, target)).toBe(true);

    const out = join(dir, 'conformed.mp4');
    await conformClip(vendor, out, target, { timeoutMs: 60_000 });
    const after = await probe(out);
    expect(after.video).toMatchObject({ width: 1280, height: 720, fps: 30, frames: 135, pixFmt: 'yuv420p' });
    expect(after.audio).not.toBeNull();
    expect(after.durationSeconds).toBeCloseTo(4.5, 1);
    expect(needsConform(after, target)).toBe(false);
  });
});
