import { runFfmpeg, h264Args } from '../packages/media/src';
const g = process.argv[2]!;
void (async () => {
  for (const mode of ['null', 'encode']) {
    const t = Date.now();
    await runFfmpeg(['-v', 'error', '-filter_complex', g, '-map', '[v]', '-map', '[a]', '-frames:v', '450', ...(mode === 'null' ? ['-f', 'null', '-'] : [...h264Args(23, 30), '-c:a', 'aac', '-b:a', '160k', '-y', '/tmp/ref.mp4'])], { timeoutMs: 120000 });
    console.log(mode, Date.now() - t);
  }
})();
