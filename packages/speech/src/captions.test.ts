import webvtt from 'node-webvtt';
import SrtParser from 'srt-parser-2';
import { captionsSrt, captionsVtt, type CaptionCue } from './captions';

const cues: CaptionCue[] = [
  { startSeconds: 0.0054, endSeconds: 1.2345, text: 'Fresh coffee, every morning,' },
  { startSeconds: 1.3851, endSeconds: 3.0006, text: 'delivered <fast> & warm --> to you.' },
  { startSeconds: 3661.25, endSeconds: 3662.999, text: 'Ça marche — Ελλάδα, Россия.\n\nSecond line' },
];

describe('captions', () => {
  it('WebVTT parses strictly and keeps every cue time to the millisecond', () => {
    const vtt = captionsVtt(cues);
    const parsed = webvtt.parse(vtt, { strict: true });
    expect(parsed.valid).toBe(true);
    expect(parsed.cues.map((c) => [c.start, c.end])).toEqual([
      [0.005, 1.235],
      [1.385, 3.001],
      [3661.25, 3662.999],
    ]);
    expect(parsed.cues[1]!.text).toBe('delivered &lt;fast&gt; &amp; warm --&gt; to you.');
    expect(parsed.cues[2]!.text).toBe('Ça marche — Ελλάδα, Россия.\nSecond line');
  });

  it('SRT parses and keeps every cue time to the millisecond', () => {
    const parsed = new SrtParser().fromSrt(captionsSrt(cues));
    expect(parsed.map((c) => [c.id, c.startSeconds, c.endSeconds])).toEqual([
      ['1', 0.005, 1.235],
      ['2', 1.385, 3.001],
      ['3', 3661.25, 3662.999],
    ]);
    expect(parsed[1]!.text).toBe('delivered <fast> & warm --> to you.');
  });

  it('orders cues and refuses impossible times', () => {
    const srt = new SrtParser().fromSrt(captionsSrt([cues[1]!, cues[0]!]));
    expect(srt.map((c) => c.startSeconds)).toEqual([0.005, 1.385]);
    expect(() => captionsVtt([{ startSeconds: 2, endSeconds: 1, text: 'x' }])).toThrow(/times/);
    expect(() => captionsSrt([{ startSeconds: 0, endSeconds: 1, text: ' \n ' }])).toThrow(/no text/);
  });
});
