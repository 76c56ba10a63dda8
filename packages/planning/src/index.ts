export * from './shaping';
export * from './estimate';
export * from './director/director';
export * from './director/local';
export * from './director/gemini';
export * from './languages';
export * from './translator/gemini';
