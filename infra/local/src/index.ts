export * from './stack';
export * from './client';
export * from './https-client';
export { runDemo } from './demo';
export * from './prometheus';
export * from './stack-up';
export * from './vendor-servers';
