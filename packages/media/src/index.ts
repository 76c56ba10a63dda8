export { MediaError, runFfmpeg, runFfprobe, type MediaErrorKind, type RunOptions } from './process';
export { probe, decodeCheck, extractFrame, type ProbeResult } from './probe';
export { CAMERA_MOVE_NAMES, renderAnimatic, type RenderOptions } from './animatic';
export { DEFAULT_FONT_FILE } from './filters';
export {
  analyzeClip,
  DEFAULT_ANALYSIS_THRESHOLDS,
  type AnalysisThresholds,
  type AnalyzeOptions,
  type ClipAnalysis,
  type Interval,
} from './analyze';
export {
  VARIANT_SIZES,
  contactSheet,
  finishCut,
  finishTimeline,
  finishedDuration,
  MAX_VOICE_TEMPO,
  measureLoudness,
  placeVoice,
  quickenVoiceLine,
  posterFrame,
  voiceWindow,
  type AspectRatio,
  type FinishClip,
  type FinishCue,
  type FinishEndCard,
  type FinishInput,
  type FinishMusic,
  type FinishPhrase,
  type FinishTimeline,
  type FinishVariantRequest,
  type FinishVoice,
  type FinishVoiceLine,
  type FinishWord,
  type VoicePlacement,
  type FinishedVariant,
  type TransitionKind,
} from './finishing';
export { h264Args } from './filters';
export { mapLimit } from './finishing/map-limit';
export { conformClip, needsConform, type ConformTarget } from './conform';
export { stillImageInfo, type StillImageInfo, type StillImageType } from './image-header';
export { audioFileInfo, type AudioFileInfo, type AudioFileType } from './audio-header';
