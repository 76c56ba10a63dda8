/** node-webvtt 2 ships no type declarations; what the caption tests use of it. */
declare module 'node-webvtt' {
  interface Cue {
    identifier: string;
    start: number;
    end: number;
    text: string;
    styles: string;
  }
  export function parse(
    input: string,
    options?: { strict?: boolean; meta?: boolean },
  ): { valid: boolean; cues: Cue[]; errors: unknown[] };
  const webvtt: { parse: typeof parse };
  export default webvtt;
}
