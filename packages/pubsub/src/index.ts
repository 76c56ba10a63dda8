export * from './publisher';
export * from './consumer';
export * from './provision';
export type { Log } from './log';
