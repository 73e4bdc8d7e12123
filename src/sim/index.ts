// Public entry points of the simulator.
export { startSimulator } from './server.ts';
export type { Simulator, SimulatorOptions, SimMarketControl, SimRate, SystemStatus } from './server.ts';
export type { SentCounts, ChannelSymbolCounts } from './counts.ts';
export { NO_FAULTS, parseFaultSpec, type FaultConfig, type FaultSpec } from './faults.ts';
export { defaultPairs, type PairSpec, type PairStatus, type PriceProcess } from './pairs.ts';
