export * from './topics.js';
export * from './envelope.js';
export * from './session-events.js';
export * from './integration-events.js';
export * from './decode.js';
