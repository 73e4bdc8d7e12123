// The Exchange the execution tasks use, with the bookkeeping keys that go with it. Paper by default
// (PaperExchange over the ingest cluster's raw book and trades), the local simulator when
// KAPITAAL_EXCHANGE=simulator, live Kraken only through the exchange factory's explicit opt-in.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { createExchange, resolveExchangeKind, ExchangeRefused } from '../exchange/factory.ts';
import { PgMarketView } from '../exchange/market-view-pg.ts';
import type { MarketView } from '../exchange/market-view.ts';
import { apiKeyId } from '../exchange/nonce.ts';
import type { Exchange } from '../exchange/types.ts';
import { type LedgerExchange, ledgerExchangeOf } from './context.ts';

export interface ExecutionExchangeOptions {
  config: Pick<Config, 'TRADING_MODE' | 'KRAKEN_REST_URL' | 'KRAKEN_API_KEY' | 'KRAKEN_API_SECRET'>;
  env?: NodeJS.ProcessEnv;
  /** Ingest cluster: the paper adapter's market. */
  ingestPool?: pg.Pool;
  /** Decision cluster: live nonces. */
  decisionPool?: pg.Pool;
  /** Paper: restrict the market view to one ingest run. */
  runId?: number;
  /** Paper: another market view (tests). */
  market?: MarketView;
  log?: Logger;
}

export interface ExecutionExchange {
  exchange: Exchange;
  venue: string;
  ledgerExchange: LedgerExchange;
}

/** Builds the configured exchange; throws ExchangeRefused with one line when it must not. */
export function createExecutionExchange(opts: ExecutionExchangeOptions): ExecutionExchange {
  const env = opts.env ?? process.env;
  const choice = resolveExchangeKind(opts.config, env);
  if ('refused' in choice) throw new ExchangeRefused(choice.refused);
  const market = choice.kind === 'paper' ? (opts.market ?? (opts.ingestPool ? new PgMarketView(opts.ingestPool, { runId: opts.runId === undefined ? undefined : String(opts.runId) }) : undefined)) : undefined;
  const exchange = createExchange({ config: opts.config, env, decisionPool: opts.decisionPool, ingestPool: opts.ingestPool, market, log: opts.log });
  const venue =
    choice.kind === 'paper'
      ? `paper:${randomUUID()}` // the paper venue lives in this process: its fill feed starts anew with it
      : choice.kind === 'simulator'
        ? `simulator:${opts.config.KRAKEN_REST_URL}:${apiKeyId(opts.config.KRAKEN_API_KEY ?? '')}`
        : `kraken:${apiKeyId(opts.config.KRAKEN_API_KEY ?? '')}`;
  return { exchange, venue, ledgerExchange: ledgerExchangeOf(choice.kind) };
}
