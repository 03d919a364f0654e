/**
 * Zoom simulator: a faithful, scriptable stand-in for Zoom's OAuth, REST, webhook and RTMS
 * WebSocket servers (docs/simulator.md). Independent of the hub's code on purpose.
 */
export { ZoomSimulator, type SimRoom } from './simulator';
export { DEFAULT_USER } from './oauth';
export { SimulatorFaults, type RestRule, type SlowRule, type MalformedKind } from './faults';
export type { Participant } from './meeting';
export type { MediaPath } from './rtms-stream';
export type { OAuthStats } from './oauth';
export type { EventWsStats } from './event-ws';
export * from './types';
export * as rtmsProtocol from './protocol';
export { rtmsHandshakeSignature, webhookSignature, urlValidationToken, pkceS256 } from './signing';
