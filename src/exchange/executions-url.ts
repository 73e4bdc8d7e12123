// Where the executions feed connects: KRAKEN_WS_AUTH_URL when set, else Kraken's private endpoint for
// live and, for the simulator exchange, the simulator's private WebSocket on KRAKEN_REST_URL's server
// (same host and port, path /v2). The same rails as REST: live needs wss://, the simulator loopback.
import type { Config } from '../config/config.ts';
import { ExchangeRefused } from './factory.ts';
import { isLoopbackUrl } from './simulator.ts';
import type { ExchangeKind } from './types.ts';

export const KRAKEN_WS_AUTH_DEFAULT = 'wss://ws-auth.kraken.com/v2';

export function executionsFeedUrl(kind: Exclude<ExchangeKind, 'paper'>, cfg: Pick<Config, 'KRAKEN_REST_URL' | 'KRAKEN_WS_AUTH_URL'>): string {
  const set = cfg.KRAKEN_WS_AUTH_URL;
  if (kind === 'live') {
    const url = set ?? KRAKEN_WS_AUTH_DEFAULT;
    if (!url.startsWith('wss://')) throw new ExchangeRefused('configuration error: KRAKEN_WS_AUTH_URL: live trading needs a wss:// URL');
    return url;
  }
  if (set !== undefined) {
    if (!isLoopbackUrl(set)) throw new ExchangeRefused('configuration error: KRAKEN_WS_AUTH_URL: the simulator exchange needs a loopback address');
    return set;
  }
  const u = new URL(cfg.KRAKEN_REST_URL);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = '/v2';
  u.search = '';
  u.hash = '';
  return u.toString();
}
