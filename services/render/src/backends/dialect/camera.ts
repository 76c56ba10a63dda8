import type { CameraMove } from '@aiprod/contracts';
import type { Dialect } from './limits';

/**
 * Each plan camera move in each vendor's own words. A `Record` over `CameraMove`, so a move added
 * to the contract is a compile error here until every dialect has a wording for it.
 *
 * `zoom_in` / `zoom_out` come from the animatic (an ffmpeg zoom), where they mean "closer to the
 * product" and "reveal the scene". Vendors' guides teach that intent as a push-in / pull-back
 * (dolly): the camera moves, the lens does not. Models render that more reliably than an optical
 * zoom, so that is what is asked for, in the words each guide uses.
 */
export const CAMERA_WORDS: Record<Dialect, Record<CameraMove, string>> = {
  // Runway's Gen-4 prompting guide: describe the camera's motion in plain sentences ("the locked
  // camera remains still", "the camera slowly pans"), positive phrasing only.
  runway: {
    static: 'The locked-off camera remains still.',
    zoom_in: 'The camera slowly dollies in toward the subject.',
    zoom_out: 'The camera slowly pulls back to reveal the scene.',
    pan_left: 'The camera slowly pans left.',
    pan_right: 'The camera slowly pans right.',
  },
  // Veo's prompt guide names shots the way a cinematographer does ("static shot", "dolly shot",
  // "pan shot", "tracking shot", "aerial view").
  veo: {
    static: 'Static shot from a tripod.',
    zoom_in: 'Slow dolly-in shot toward the subject.',
    zoom_out: 'Slow dolly-out shot revealing the surroundings.',
    pan_left: 'Slow pan shot to the left.',
    pan_right: 'Slow pan shot to the right.',
  },
  // Seedance reads camera language as subject-verb sentences ("the camera pushes in"); a static
  // shot is also requested with its `camera_fixed` input (see `cameraFixed`).
  seedance: {
    static: 'The camera stays fixed.',
    zoom_in: 'The camera pushes in slowly toward the subject.',
    zoom_out: 'The camera pulls back slowly to reveal the scene.',
    pan_left: 'The camera pans slowly to the left.',
    pan_right: 'The camera pans slowly to the right.',
  },
  // Kling's guide puts camera language after subject, movement and scene, as short shot terms.
  kling: {
    static: 'Static camera, locked-off shot.',
    zoom_in: 'Slow dolly in toward the subject.',
    zoom_out: 'Slow dolly out, revealing the surroundings.',
    pan_left: 'Smooth pan left.',
    pan_right: 'Smooth pan right.',
  },
  // MiniMax Hailuo takes bracketed camera commands from a fixed list (Truck, Pan, Push in/Pull
  // out, Pedestal, Tilt, Zoom, Shake, Tracking shot, Static shot); the prompt leads with it.
  hailuo: {
    static: '[Static shot]',
    zoom_in: '[Push in]',
    zoom_out: '[Pull out]',
    pan_left: '[Pan left]',
    pan_right: '[Pan right]',
  },
  // Wan follows plain cinematographic English ("the camera pushes in", "fixed camera").
  wan: {
    static: 'Fixed camera, static shot.',
    zoom_in: 'The camera pushes in slowly toward the subject.',
    zoom_out: 'The camera pulls back slowly, revealing the scene.',
    pan_left: 'The camera pans left.',
    pan_right: 'The camera pans right.',
  },
  // The animatic makes the move itself with ffmpeg; the words are for people reading the plan.
  local: {
    static: 'Static camera.',
    zoom_in: 'Zoom in.',
    zoom_out: 'Zoom out.',
    pan_left: 'Pan left.',
    pan_right: 'Pan right.',
  },
};
