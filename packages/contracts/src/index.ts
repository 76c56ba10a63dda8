export * from './schemas';
export * from './catalogue';
export * from './states';
export * from './sweepers';
export * from './errors';
export * from './presets';
export * from './validation';
export * from './fallback';
