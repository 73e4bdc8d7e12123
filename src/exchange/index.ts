// Public entry points of the exchange adapters.
export * from './types.ts';
export * from './errors.ts';
export { krakenSignature, decodeSecret } from './sign.ts';
export { PgNonceSource, LocalNonceSource, apiKeyId, type NonceSource } from './nonce.ts';
export { DecayCounter, KrakenRateLimiter, TIERS, cancelCost, restCallCost, realClock, type Clock, type RateLimitTier } from './rate-limit.ts';
export { KrakenRestClient, type KrakenRestOptions, type KrakenCredentials } from './kraken-rest.ts';
export { KrakenExchange, isValidClientOrderId } from './kraken-exchange.ts';
export { mapKrakenStatus, PairMap, legacyAssetCode, wsV2Symbol, restWsname } from './kraken-map.ts';
export { MatchingVenue, DEFAULT_FEES, type BookView, type BookLevel, type MarketTrade, type FeeSchedule } from './matching.ts';
export { StaticMarketView, type MarketView, type TradesPage } from './market-view.ts';
export { PgMarketView } from './market-view-pg.ts';
export { PaperExchange, type PaperOptions, type PaperState } from './paper.ts';
export { createSimulatorExchange, isLoopbackUrl } from './simulator.ts';
export { createLiveExchange, liveRefusal, LiveTradingRefused, LIVE_CONFIRM_VARIABLE, LIVE_CONFIRM_VALUE } from './kraken-live.ts';
export { createExchange, resolveExchangeKind, readExchangeEnv, exchangeEnvSchema, ExchangeRefused } from './factory.ts';
