export * from './types';
export * from './job-store';
export * from './message-ledger';
export * from './tenants';
export * from './firestore';
export * from './webhooks';
