export * from './types';
export * from './technical';
export * from './evaluate';
export * from './semantic';
