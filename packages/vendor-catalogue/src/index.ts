export * from './capabilities';
export * from './durations';
export * from './pricing';
export * from './plan-rules';
export * from './plan-estimate';
export * from './presets-view';
export * from './stored-estimate';
