// Public entry points of the simulator's private REST side.
export { startPrivateRestServer, createPrivateRestHandler, generateSimCredentials } from './server.ts';
export type { PrivateRestServer, PrivateRestHandler, PrivateRestOptions, SimAccountSpec } from './server.ts';
export { ManualPriceSource, RandomWalkPriceSource, type PriceSource, type TradeListener } from './price-source.ts';
export { DEFAULT_REST_PAIRS, restPairFromSimSpec, toAssetPair, type RestPairSpec } from './pairs.ts';
export { FaultPlan, type PrivateFault, type PrivateFaultKind } from './faults.ts';
export { attachPrivateWs, type PrivateWs, type PrivateWsDeps } from './ws.ts';
