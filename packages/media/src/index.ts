export { MediaError, runFfmpeg, runFfprobe, type MediaErrorKind, type RunOptions } from './process';
export { probe, decodeCheck, extractFrame, type ProbeResult } from './probe';
export { renderAnimatic, type RenderOptions } from './animatic';
export { assemble, type AssembleInput, type EndCard } from './assemble';
export { DEFAULT_FONT_FILE } from './filters';
