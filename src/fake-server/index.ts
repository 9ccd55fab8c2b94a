export { startFakeServer } from './server.js';
export type { FakeServer, FakeServerOptions, FakeServerSettings, FakeStats, FaultKind, FaultOptions, LimitOptions } from './types.js';
