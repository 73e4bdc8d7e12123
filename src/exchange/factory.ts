// Chooses the Exchange for the engine:
//   TRADING_MODE=paper (default), KAPITAAL_EXCHANGE=paper (default) → paper adapter on the ingested market
//   TRADING_MODE=paper,           KAPITAAL_EXCHANGE=simulator       → the local simulator's REST (loopback only)
//   TRADING_MODE=live + KAPITAAL_LIVE_CONFIRM=I_UNDERSTAND          → live Kraken
// Anything else is refused with one line that says why.
import type pg from 'pg';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config } from '../config/config.ts';
import { createLiveExchange, liveRefusal } from './kraken-live.ts';
import type { MarketView } from './market-view.ts';
import { PgMarketView } from './market-view-pg.ts';
import { DEFAULT_FEES } from './matching.ts';
import { PaperExchange } from './paper.ts';
import { PgPaperStore } from './paper-store.ts';
import { createSimulatorExchange, isLoopbackUrl } from './simulator.ts';
import type { Exchange, ExchangeKind } from './types.ts';

const feeRate = z.string().regex(/^0(\.\d+)?$/, 'expected a fraction like 0.0025 (0.25 %)');

/** Variables read here in addition to config.ts (documented in docs/EXCHANGE.md). */
export const exchangeEnvSchema = z.object({
  KAPITAAL_EXCHANGE: z.enum(['paper', 'simulator']).default('paper'),
  KAPITAAL_LIVE_CONFIRM: z.string().optional(),
  KAPITAAL_PAPER_MAKER_FEE: feeRate.default(DEFAULT_FEES.maker),
  KAPITAAL_PAPER_TAKER_FEE: feeRate.default(DEFAULT_FEES.taker),
});
export type ExchangeEnv = z.infer<typeof exchangeEnvSchema>;

export class ExchangeRefused extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'ExchangeRefused';
  }
}

export function readExchangeEnv(env: NodeJS.ProcessEnv): ExchangeEnv {
  const relevant: Record<string, string> = {};
  for (const k of Object.keys(exchangeEnvSchema.shape)) {
    const v = env[k];
    if (v !== undefined && v !== '') relevant[k] = v;
  }
  const parsed = exchangeEnvSchema.safeParse(relevant);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    // KAPITAAL_LIVE_CONFIRM's value is harmless, but keep the habit of not echoing values here.
    throw new ExchangeRefused(`configuration error: ${variable}: ${issue.message}`);
  }
  return parsed.data;
}

type ExchangeConfig = Pick<Config, 'TRADING_MODE' | 'KRAKEN_REST_URL' | 'KRAKEN_API_KEY' | 'KRAKEN_API_SECRET'>;

/** Which exchange the configuration asks for, or the one-line reason it is refused. */
export function resolveExchangeKind(config: ExchangeConfig, env: NodeJS.ProcessEnv): { kind: ExchangeKind } | { refused: string } {
  let xenv: ExchangeEnv;
  try {
    xenv = readExchangeEnv(env);
  } catch (err) {
    return { refused: (err as Error).message };
  }
  if (config.TRADING_MODE === 'live') {
    const refusal = liveRefusal({
      tradingMode: config.TRADING_MODE,
      confirm: xenv.KAPITAAL_LIVE_CONFIRM,
      restUrl: config.KRAKEN_REST_URL,
      apiKey: config.KRAKEN_API_KEY,
      apiSecret: config.KRAKEN_API_SECRET,
    });
    return refusal ? { refused: refusal } : { kind: 'live' };
  }
  if (xenv.KAPITAAL_EXCHANGE === 'simulator') {
    if (!isLoopbackUrl(config.KRAKEN_REST_URL)) {
      return { refused: 'simulator exchange refused: KRAKEN_REST_URL is not a loopback address (use TRADING_MODE=live for Kraken)' };
    }
    if (!config.KRAKEN_API_KEY || !config.KRAKEN_API_SECRET) {
      return { refused: 'simulator exchange refused: KRAKEN_API_KEY and KRAKEN_API_SECRET must be set (the simulator checks signatures)' };
    }
    return { kind: 'simulator' };
  }
  return { kind: 'paper' };
}

export interface CreateExchangeDeps {
  config: ExchangeConfig;
  env?: NodeJS.ProcessEnv;
  /** Decision cluster: live nonces. */
  decisionPool?: Pick<pg.Pool, 'query'>;
  /** Paper: the market view; default a PgMarketView over ingestPool. */
  market?: MarketView;
  ingestPool?: Pick<pg.Pool, 'query'>;
  log?: Logger;
}

/** Builds the configured Exchange; throws ExchangeRefused (one line) when it must not. */
export function createExchange(deps: CreateExchangeDeps): Exchange {
  const env = deps.env ?? process.env;
  const choice = resolveExchangeKind(deps.config, env);
  if ('refused' in choice) throw new ExchangeRefused(choice.refused);
  const xenv = readExchangeEnv(env);
  switch (choice.kind) {
    case 'live': {
      if (!deps.decisionPool) throw new ExchangeRefused('live trading refused: no decision database for nonces');
      return createLiveExchange({
        tradingMode: 'live',
        confirm: xenv.KAPITAAL_LIVE_CONFIRM,
        restUrl: deps.config.KRAKEN_REST_URL,
        apiKey: deps.config.KRAKEN_API_KEY,
        apiSecret: deps.config.KRAKEN_API_SECRET,
        pool: deps.decisionPool,
        log: deps.log,
      });
    }
    case 'simulator':
      return createSimulatorExchange({
        baseUrl: deps.config.KRAKEN_REST_URL,
        apiKey: deps.config.KRAKEN_API_KEY!,
        apiSecret: deps.config.KRAKEN_API_SECRET!,
        log: deps.log,
      });
    case 'paper': {
      const market = deps.market ?? (deps.ingestPool ? new PgMarketView(deps.ingestPool) : undefined);
      if (!market) throw new ExchangeRefused('paper exchange refused: no market view (ingest database) to simulate fills against');
      return new PaperExchange({
        market,
        fees: { maker: xenv.KAPITAAL_PAPER_MAKER_FEE, taker: xenv.KAPITAAL_PAPER_TAKER_FEE },
        // The paper venue's orders and fills survive restarts in the decision database.
        store: deps.decisionPool ? new PgPaperStore(deps.decisionPool) : undefined,
      });
    }
  }
}
