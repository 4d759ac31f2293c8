export * from './path';
export * from './render';
