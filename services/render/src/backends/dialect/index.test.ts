import type { CameraMove } from '@aiprod/contracts';
import {
  CAMERA_WORDS,
  translatePrompt,
  type AttachedReference,
  type Dialect,
  type PromptLimits,
  type PromptSource,
} from './index';

const DIALECTS: Dialect[] = ['runway', 'veo', 'seedance', 'kling', 'hailuo', 'wan', 'local'];
const MOVES: CameraMove[] = ['static', 'zoom_in', 'zoom_out', 'pan_left', 'pan_right'];

const spec = (over: Partial<PromptSource> = {}): PromptSource => ({
  prompt: 'A runner in neon shoes sprints through a rainy city at dawn',
  camera: 'static',
  palette: ['#0B1D3A', '#1E6FD9'],
  ...over,
});

const limits = (dialect: Dialect, over: Partial<PromptLimits> = {}): PromptLimits => ({
  dialect,
  maxPromptChars: 1000,
  negativePrompt: false,
  ...over,
});

const product: AttachedReference = { id: 'product', role: 'product' };

describe('camera moves in each vendor dialect', () => {
  // What each vendor's guide calls the move (see camera.ts for the sources).
  const expected: Record<Dialect, Record<CameraMove, RegExp>> = {
    runway: {
      static: /locked-off camera remains still/,
      zoom_in: /camera slowly dollies in/,
      zoom_out: /camera slowly pulls back/,
      pan_left: /camera slowly pans left/,
      pan_right: /camera slowly pans right/,
    },
    veo: {
      static: /^.*Static shot/,
      zoom_in: /dolly-in shot/,
      zoom_out: /dolly-out shot/,
      pan_left: /pan shot to the left/,
      pan_right: /pan shot to the right/,
    },
    seedance: {
      static: /camera stays fixed/,
      zoom_in: /camera pushes in/,
      zoom_out: /camera pulls back/,
      pan_left: /camera pans slowly to the left/,
      pan_right: /camera pans slowly to the right/,
    },
    kling: {
      static: /Static camera, locked-off shot/,
      zoom_in: /dolly in toward the subject/,
      zoom_out: /dolly out/,
      pan_left: /pan left/,
      pan_right: /pan right/,
    },
    hailuo: {
      static: /^\[Static shot\] /,
      zoom_in: /^\[Push in\] /,
      zoom_out: /^\[Pull out\] /,
      pan_left: /^\[Pan left\] /,
      pan_right: /^\[Pan right\] /,
    },
    wan: {
      static: /Fixed camera, static shot/,
      zoom_in: /camera pushes in/,
      zoom_out: /camera pulls back/,
      pan_left: /camera pans left/,
      pan_right: /camera pans right/,
    },
    local: {
      static: /Static camera/,
      zoom_in: /Zoom in/,
      zoom_out: /Zoom out/,
      pan_left: /Pan left/,
      pan_right: /Pan right/,
    },
  };

  const cases = DIALECTS.flatMap((dialect) => MOVES.map((move) => [dialect, move] as const));
  it.each(cases)('%s says %s in its own words', (dialect, move) => {
    const out = translatePrompt(spec({ camera: move }), limits(dialect));
    expect(out.prompt).toMatch(expected[dialect][move]);
    expect(out.prompt).toContain(CAMERA_WORDS[dialect][move]);
    // No other move's wording leaks in (a table row copied under the wrong key).
    for (const other of MOVES.filter((m) => CAMERA_WORDS[dialect][m] !== CAMERA_WORDS[dialect][move]))
      expect(out.prompt).not.toContain(CAMERA_WORDS[dialect][other]);
  });

  it('gives every dialect a distinct wording for every move', () => {
    for (const dialect of DIALECTS) expect(new Set(Object.values(CAMERA_WORDS[dialect])).size).toBe(MOVES.length);
  });

  it.each(MOVES)('Seedance sets camera_fixed only for a static shot (%s)', (move) => {
    expect(translatePrompt(spec({ camera: move }), limits('seedance')).cameraFixed).toBe(move === 'static');
  });

  it.each(DIALECTS.filter((d) => d !== 'seedance'))('%s has no camera_fixed input', (dialect) => {
    expect(translatePrompt(spec(), limits(dialect))).not.toHaveProperty('cameraFixed');
  });

  it('puts the subject first everywhere but Hailuo, which leads with its bracket command', () => {
    for (const dialect of DIALECTS) {
      const { prompt } = translatePrompt(spec({ camera: 'pan_left' }), limits(dialect));
      if (dialect === 'hailuo') expect(prompt).toMatch(/^\[Pan left\] A runner in neon shoes/);
      else expect(prompt.startsWith('A runner in neon shoes sprints through a rainy city at dawn.')).toBe(true);
    }
  });
});

describe('negative prompt', () => {
  const withNegative = spec({ negativePrompt: '  blurry,   extra fingers, watermark ' });

  it.each([
    ['veo', true],
    ['kling', true],
    ['wan', true],
  ] as const)('goes in its own field where %s has one', (dialect, supported) => {
    const out = translatePrompt(withNegative, limits(dialect, { negativePrompt: supported }));
    expect(out.negativePrompt).toBe('blurry, extra fingers, watermark');
    expect(out.prompt).not.toMatch(/blurry|extra fingers|watermark/);
    expect(out.dropped).toEqual([]);
  });

  it.each(DIALECTS)('is dropped and recorded, never phrased as "no X", when %s has no field', (dialect) => {
    const out = translatePrompt(withNegative, limits(dialect, { negativePrompt: false }));
    expect(out).not.toHaveProperty('negativePrompt');
    expect(out.prompt).not.toMatch(/blurry|extra fingers|watermark|\bno\b|\bavoid\b|\bwithout\b/i);
    expect(out.dropped).toContainEqual({
      part: 'negativePrompt',
      reason: 'unsupported',
      text: 'blurry, extra fingers, watermark',
    });
    // Not a length problem: nothing was cut to fit.
    expect(out.shortened).toBe(false);
  });

  it('is cut at a word end to the model limit, and the rest recorded', () => {
    const out = translatePrompt(
      spec({ negativePrompt: 'blurry footage, extra fingers, watermark' }),
      limits('kling', { negativePrompt: true, maxNegativePromptChars: 30 }),
    );
    expect(out.negativePrompt).toBe('blurry footage, extra fingers');
    expect(out.shortened).toBe(true);
    expect(out.dropped).toEqual([{ part: 'negativePrompt', reason: 'length', text: ', watermark' }]);
  });

  it('is absent when the spec has none or only spaces', () => {
    expect(
      translatePrompt(spec({ negativePrompt: '   ' }), limits('veo', { negativePrompt: true })),
    ).not.toHaveProperty('negativePrompt');
  });
});

describe('references', () => {
  it('Runway video models refer to the product shown in the first frame', () => {
    const out = translatePrompt(spec(), limits('runway'), [product]);
    expect(out.prompt).toContain('The product shown in the first frame keeps its exact shape');
    expect(out.prompt).not.toContain('@');
  });

  it('Runway image models name tagged references with @tag, a tag Runway accepts', () => {
    const out = translatePrompt(spec(), limits('runway', { referenceSyntax: 'at-tag' }), [
      { id: 'product', role: 'product', tag: 'bottle' },
      { id: 'style-2', role: 'style' },
      { id: 'x', role: 'brand' },
    ]);
    expect(out.prompt).toContain('The product is @bottle, exactly as in its reference.');
    expect(out.prompt).toContain('In the visual style of @style_2.');
    expect(out.prompt).toContain('Brand colors and logo as in @x__.');
    for (const tag of out.prompt.match(/@\S+?(?=[,.\s]|$)/g) ?? [])
      expect(tag.slice(1)).toMatch(/^[A-Za-z][A-Za-z0-9_]{2,15}$/);
  });

  it('Veo describes the product from the reference image(s), whatever their number', () => {
    const one = translatePrompt(spec(), limits('veo'), [product]);
    expect(one.prompt).toContain('The product from the reference image appears exactly as it looks there.');
    const three = translatePrompt(spec(), limits('veo'), [
      product,
      { id: 'product2', role: 'product' },
      { id: 'look', role: 'style' },
    ]);
    expect(three.prompt).toContain('The product from the reference images appears');
    expect(three.prompt).toContain('The visual style follows the style reference image.');
    expect(three.dropped).toEqual([]);
  });

  it('Seedance 2.0 reference images are named by position, [Image1] onwards', () => {
    const out = translatePrompt(spec(), limits('seedance', { referenceSyntax: 'indexed' }), [
      product,
      { id: 'brand', role: 'brand' },
    ]);
    expect(out.prompt).toContain('The product is [Image1], exactly as in its reference.');
    expect(out.prompt).toContain('Brand colors and logo as in [Image2].');
  });

  it.each(['kling', 'hailuo', 'wan', 'seedance'] as const)(
    '%s (first frame) mentions one image and records any other as not sent',
    (dialect) => {
      const out = translatePrompt(spec(), limits(dialect), [product, { id: 'look', role: 'style' }]);
      expect(out.prompt).toContain('shown in the first frame');
      expect(out.prompt).not.toContain('look of the first frame');
      expect(out.dropped).toEqual([{ part: 'reference', reason: 'unsupported', text: 'look' }]);
    },
  );

  it('the animatic takes no image: references are recorded as not sent', () => {
    const out = translatePrompt(spec(), limits('local'), [product]);
    expect(out.prompt).not.toMatch(/reference|first frame/);
    expect(out.dropped).toEqual([{ part: 'reference', reason: 'unsupported', text: 'product' }]);
  });

  it('without attached images nothing mentions a reference', () => {
    for (const dialect of DIALECTS)
      expect(translatePrompt(spec(), limits(dialect)).prompt).not.toMatch(/reference|first frame|@|\[Image/);
  });

  it('a continuity entry shown by the first frame is not described again; others are', () => {
    const continuity: PromptSource['continuity'] = [
      { id: 'product', kind: 'product', description: 'aurora bottle, identical design in every shot' },
      { id: 'style', kind: 'style', description: 'Clean commercial look' },
    ];
    const runway = translatePrompt(spec({ continuity }), limits('runway'), [product]);
    expect(runway.prompt).not.toContain('identical design');
    expect(runway.prompt).toContain('Clean commercial look.');
    const veo = translatePrompt(spec({ continuity }), limits('veo'), [product]);
    expect(veo.prompt).toContain('Aurora bottle, identical design in every shot.');
    // With no image, the words are all the model has.
    expect(translatePrompt(spec({ continuity }), limits('runway')).prompt).toContain('Aurora bottle, identical design');
  });
});

describe('retake note, on-screen text and palette', () => {
  it('folds the retake note in where the vendor can use it', () => {
    for (const dialect of DIALECTS.filter((d) => d !== 'runway')) {
      const out = translatePrompt(spec({ retakeNote: 'the label was  unreadable' }), limits(dialect));
      expect(out.prompt).toContain('Correct what was wrong in the previous take: the label was unreadable.');
    }
  });

  it('leaves it out of a Runway prompt (naming the flaw draws it in) and records it', () => {
    const out = translatePrompt(spec({ retakeNote: 'the label was unreadable' }), limits('runway'));
    expect(out.prompt).not.toContain('label');
    expect(out.dropped).toEqual([
      { part: 'retakeNote', reason: 'negative-phrasing', text: 'the label was unreadable' },
    ]);
  });

  it('quotes the on-screen text exactly', () => {
    const out = translatePrompt(spec({ onScreenText: 'Run brighter 🌅' }), limits('veo'));
    expect(out.prompt).toContain('The on-screen text reads "Run brighter 🌅" in clean, legible lettering.');
  });

  it('says the palette in colour words, never as hex', () => {
    const out = translatePrompt(spec({ palette: ['#0B1D3A', '#1E6FD9'] }), limits('kling'));
    expect(out.prompt).toContain('Color palette: deep blue and bright blue.');
    expect(out.prompt).not.toMatch(/#[0-9a-f]{6}/i);
  });
});

describe('limits', () => {
  const full = spec({
    prompt: 'A runner in neon shoes sprints through a rainy city at dawn. Puddles splash under each stride.',
    camera: 'zoom_in',
    onScreenText: 'Run brighter',
    retakeNote: 'the shoes changed colour',
    continuity: [{ id: 'style', kind: 'style', description: 'Moody blue grade, wet reflections' }],
  });

  it('keeps everything when it fits, and says nothing was shortened', () => {
    const out = translatePrompt(full, limits('veo'), [product]);
    expect(out.shortened).toBe(false);
    expect(out.dropped).toEqual([]);
    expect(out.prompt).toBe(
      'A runner in neon shoes sprints through a rainy city at dawn. Puddles splash under each stride. ' +
        'The product from the reference image appears exactly as it looks there. ' +
        'Slow dolly-in shot toward the subject. ' +
        'The on-screen text reads "Run brighter" in clean, legible lettering. ' +
        'Correct what was wrong in the previous take: the shoes changed colour. ' +
        'Moody blue grade, wet reflections. ' +
        'Color palette: deep blue and bright blue.',
    );
  });

  it('drops the least important parts first: palette, then style, then the retake note', () => {
    const whole = translatePrompt(full, limits('veo')).prompt;
    const palette = ' Color palette: deep blue and bright blue.';
    const noPalette = translatePrompt(full, limits('veo', { maxPromptChars: whole.length - 1 }));
    expect(noPalette.prompt).toBe(whole.slice(0, -palette.length));
    expect(noPalette.shortened).toBe(true);
    expect(noPalette.dropped.map((d) => d.part)).toEqual(['palette']);

    const style = ' Moody blue grade, wet reflections.';
    const noStyle = translatePrompt(full, limits('veo', { maxPromptChars: whole.length - palette.length - 1 }));
    expect(noStyle.prompt).toBe(whole.slice(0, -(palette.length + style.length)));
    expect(noStyle.dropped.map((d) => d.part)).toEqual(['style', 'palette']);
  });

  it('keeps a later, smaller part when a bigger, more important one does not fit', () => {
    const withLongStyle = spec({
      continuity: [{ id: 'style', kind: 'style', description: 'x '.repeat(60).trim() }],
    });
    const room = 'A runner in neon shoes sprints through a rainy city at dawn. Static shot from a tripod.'.length;
    const out = translatePrompt(withLongStyle, limits('veo', { maxPromptChars: room + 45 }));
    expect(out.prompt).toMatch(/Color palette: deep blue and bright blue\.$/);
    expect(out.dropped.map((d) => d.part)).toEqual(['style']);
  });

  it('cuts a long subject at a sentence end, keeping room for the camera', () => {
    const out = translatePrompt(full, limits('veo', { maxPromptChars: 110 }));
    expect(out.prompt).toBe(
      'A runner in neon shoes sprints through a rainy city at dawn. Slow dolly-in shot toward the subject.',
    );
    expect(out.shortened).toBe(true);
    expect(out.dropped[0]).toEqual({ part: 'subject', reason: 'length', text: 'Puddles splash under each stride.' });
  });

  it('cuts a subject of one long sentence at a word end and closes it with a full stop', () => {
    const out = translatePrompt(
      spec({
        prompt: 'A runner in neon shoes sprints through a rainy city at dawn, past shuttered shops and glowing signs',
      }),
      limits('runway', { maxPromptChars: 80 }),
    );
    expect(out.prompt).toBe('A runner in neon shoes sprints. The locked-off camera remains still.');
    expect(out.prompt.length).toBeLessThanOrEqual(80);
  });

  it('fits Runway’s 1,000 units even when the planner used all of them for the subject', () => {
    const out = translatePrompt(
      spec({ prompt: `${'Sunlit product on a marble plinth. '.repeat(40)}` }),
      limits('runway'),
      [product],
    );
    expect(out.prompt.length).toBeLessThanOrEqual(1000);
    expect(out.prompt).toContain('The locked-off camera remains still.');
    expect(out.prompt).toContain('The product shown in the first frame');
    expect(out.shortened).toBe(true);
  });
});
