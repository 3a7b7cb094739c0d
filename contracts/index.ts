export * from './address.ts';
export * from './config.ts';
export * from './actions.ts';
export * from './events.ts';
export * from './audit.ts';
export * from './keys.ts';
export * from './errors.ts';
