// Zod schemas for the Kraken public WebSocket v2 messages we receive and send, plus a parser that
// keeps decimal fields as their raw text (JSON.parse would turn 0.10000000 into 0.1 and break the
// checksum) and keeps connection_id (> 2^53) as a string. Unknown extra fields are stripped.
import { z } from 'zod';

/** Fields whose numeric values are kept as their raw JSON text. */
export const DECIMAL_FIELDS = [
  'price', 'qty', 'limit_price', 'order_qty',
  'bid', 'bid_qty', 'ask', 'ask_qty', 'last', 'volume', 'vwap', 'low', 'high', 'change', 'change_pct',
  'qty_increment', 'price_increment', 'cost_min', 'qty_min', 'tick_size', 'margin_initial',
  'connection_id',
] as const;

const NUMBER = '-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?';
const QUOTE_RE = new RegExp(`"(${DECIMAL_FIELDS.join('|')})"(\\s*:\\s*)(${NUMBER})(?=\\s*[,}\\]])`, 'g');

/**
 * Wraps the numbers of DECIMAL_FIELDS in quotes so JSON.parse keeps their exact text.
 * Safe on valid JSON: inside a string every '"' is escaped, so `"price":` followed by a bare
 * number can only be a real key.
 */
export function quoteDecimalFields(raw: string): string {
  return raw.replace(QUOTE_RE, '"$1"$2"$3"');
}

/** JSON.parse with decimal fields and connection_id kept as text. Throws SyntaxError on bad JSON. */
export function parseJsonPreservingDecimals(raw: string): unknown {
  return JSON.parse(quoteDecimalFields(raw));
}

const DEC_RE = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;
export const DecimalText = z.string().regex(DEC_RE, 'expected decimal number text');
const Timestamp = z.string().min(1);
const ReqId = z.number().int();
const SymbolText = z.string().min(1);
const Checksum = z.number().int().min(0).max(0xffffffff);

export const SystemStatus = z.enum(['online', 'cancel_only', 'maintenance', 'post_only']);
export const PairStatus = z.enum([
  'online', 'cancel_only', 'delisted', 'limit_only', 'maintenance', 'post_only', 'reduce_only', 'work_in_progress',
]);
export const PublicChannel = z.enum(['ticker', 'trade', 'book', 'level3', 'instrument']);
export const BOOK_DEPTHS = [10, 25, 100, 500, 1000] as const;
export const L3_DEPTHS = [10, 100, 1000] as const;

// ---- server → client ----------------------------------------------------------------------

export const StatusMessage = z.object({
  channel: z.literal('status'),
  type: z.enum(['snapshot', 'update']),
  data: z.array(z.object({
    api_version: z.string(),
    connection_id: z.string().regex(/^\d+$/, 'connection_id must be kept as integer text'),
    system: SystemStatus,
    version: z.string(),
  })).min(1),
});

export const HeartbeatMessage = z.object({ channel: z.literal('heartbeat') });

export const PongMessage = z.object({
  method: z.literal('pong'),
  req_id: ReqId.optional(),
  time_in: Timestamp,
  time_out: Timestamp,
});

const AckBase = {
  method: z.enum(['subscribe', 'unsubscribe']),
  req_id: ReqId.optional(),
  time_in: Timestamp,
  time_out: Timestamp,
};
export const AckSuccess = z.object({
  ...AckBase,
  success: z.literal(true),
  result: z.object({
    channel: PublicChannel,
    symbol: SymbolText.optional(),
    depth: z.number().int().optional(),
    snapshot: z.boolean().optional(),
    event_trigger: z.enum(['bbo', 'trades']).optional(),
    warnings: z.array(z.string()).optional(),
  }),
});
export const AckFailure = z.object({
  ...AckBase,
  success: z.literal(false),
  error: z.string(),
  symbol: SymbolText.optional(),
});
export const AckMessage = z.discriminatedUnion('success', [AckSuccess, AckFailure]);

export const TickerData = z.object({
  symbol: SymbolText,
  bid: DecimalText, bid_qty: DecimalText, ask: DecimalText, ask_qty: DecimalText,
  last: DecimalText, volume: DecimalText, vwap: DecimalText, low: DecimalText, high: DecimalText,
  change: DecimalText, change_pct: DecimalText,
  timestamp: Timestamp.optional(),
});
export const TickerMessage = z.object({
  channel: z.literal('ticker'),
  type: z.enum(['snapshot', 'update']),
  data: z.array(TickerData).min(1),
});

export const TradeData = z.object({
  symbol: SymbolText,
  side: z.enum(['buy', 'sell']),
  price: DecimalText,
  qty: DecimalText,
  ord_type: z.enum(['market', 'limit']),
  trade_id: z.number().int().nonnegative(),
  timestamp: Timestamp,
});
export const TradeMessage = z.object({
  channel: z.literal('trade'),
  type: z.enum(['snapshot', 'update']),
  data: z.array(TradeData),
});

export const BookLevel = z.object({ price: DecimalText, qty: DecimalText });
export const BookData = z.object({
  symbol: SymbolText,
  bids: z.array(BookLevel),
  asks: z.array(BookLevel),
  checksum: Checksum,
  timestamp: Timestamp.optional(),
});
export const BookMessage = z.object({
  channel: z.literal('book'),
  type: z.enum(['snapshot', 'update']),
  data: z.array(BookData).min(1),
});

export const L3Order = z.object({
  order_id: z.string().min(1),
  limit_price: DecimalText,
  order_qty: DecimalText,
  timestamp: Timestamp,
});
export const L3Event = L3Order.extend({ event: z.enum(['add', 'modify', 'delete']) });
export const L3SnapshotData = z.object({
  symbol: SymbolText,
  checksum: Checksum,
  bids: z.array(L3Order),
  asks: z.array(L3Order),
  timestamp: Timestamp.optional(),
});
export const L3UpdateData = z.object({
  symbol: SymbolText,
  checksum: Checksum,
  bids: z.array(L3Event),
  asks: z.array(L3Event),
  timestamp: Timestamp.optional(),
});
export const L3SnapshotMessage = z.object({
  channel: z.literal('level3'),
  type: z.literal('snapshot'),
  data: z.array(L3SnapshotData).min(1),
});
export const L3UpdateMessage = z.object({
  channel: z.literal('level3'),
  type: z.literal('update'),
  data: z.array(L3UpdateData).min(1),
});

export const InstrumentAsset = z.object({
  id: z.string().min(1),
  status: z.string(),
  precision: z.number().int().nonnegative(),
  precision_display: z.number().int().nonnegative().optional(),
});
export const InstrumentPair = z.object({
  symbol: SymbolText,
  base: z.string().min(1),
  quote: z.string().min(1),
  status: PairStatus,
  qty_precision: z.number().int().nonnegative(),
  qty_increment: DecimalText,
  price_precision: z.number().int().nonnegative(),
  price_increment: DecimalText,
  cost_precision: z.number().int().nonnegative(),
  cost_min: DecimalText,
  qty_min: DecimalText,
});
export const InstrumentMessage = z.object({
  channel: z.literal('instrument'),
  type: z.enum(['snapshot', 'update']),
  data: z.object({ assets: z.array(InstrumentAsset), pairs: z.array(InstrumentPair) }),
});

export type StatusMessage = z.infer<typeof StatusMessage>;
export type HeartbeatMessage = z.infer<typeof HeartbeatMessage>;
export type PongMessage = z.infer<typeof PongMessage>;
export type AckMessage = z.infer<typeof AckMessage>;
export type TickerMessage = z.infer<typeof TickerMessage>;
export type TradeMessage = z.infer<typeof TradeMessage>;
export type BookMessage = z.infer<typeof BookMessage>;
export type BookData = z.infer<typeof BookData>;
export type L3SnapshotMessage = z.infer<typeof L3SnapshotMessage>;
export type L3UpdateMessage = z.infer<typeof L3UpdateMessage>;
export type L3SnapshotData = z.infer<typeof L3SnapshotData>;
export type L3UpdateData = z.infer<typeof L3UpdateData>;
export type InstrumentMessage = z.infer<typeof InstrumentMessage>;
export type InstrumentPair = z.infer<typeof InstrumentPair>;

export type KrakenWsMessage =
  | ({ kind: 'status' } & StatusMessage)
  | ({ kind: 'heartbeat' } & HeartbeatMessage)
  | ({ kind: 'pong' } & PongMessage)
  | ({ kind: 'ack' } & AckMessage)
  | ({ kind: 'ticker' } & TickerMessage)
  | ({ kind: 'trade' } & TradeMessage)
  | ({ kind: 'book' } & BookMessage)
  | ({ kind: 'level3_snapshot' } & L3SnapshotMessage)
  | ({ kind: 'level3_update' } & L3UpdateMessage)
  | ({ kind: 'instrument' } & InstrumentMessage);

export type ParseResult =
  | { ok: true; message: KrakenWsMessage }
  | { ok: false; error: string };

/** Parses and validates one WebSocket text frame from Kraken. Never throws. */
export function parseKrakenMessage(raw: string): ParseResult {
  let json: unknown;
  try {
    json = parseJsonPreservingDecimals(raw);
  } catch (err) {
    return { ok: false, error: `invalid JSON: ${(err as Error).message}` };
  }
  return validateKrakenMessage(json);
}

/** Validates an already parsed value (decimal fields must be text, see parseJsonPreservingDecimals). */
export function validateKrakenMessage(json: unknown): ParseResult {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, error: 'not a JSON object' };
  }
  const o = json as Record<string, unknown>;
  const pick = (): [string, z.ZodTypeAny] | undefined => {
    if (typeof o.channel === 'string') {
      switch (o.channel) {
        case 'status': return ['status', StatusMessage];
        case 'heartbeat': return ['heartbeat', HeartbeatMessage];
        case 'ticker': return ['ticker', TickerMessage];
        case 'trade': return ['trade', TradeMessage];
        case 'book': return ['book', BookMessage];
        case 'instrument': return ['instrument', InstrumentMessage];
        case 'level3': return o.type === 'snapshot'
          ? ['level3_snapshot', L3SnapshotMessage]
          : ['level3_update', L3UpdateMessage];
        default: return undefined;
      }
    }
    if (o.method === 'pong') return ['pong', PongMessage];
    if (o.method === 'subscribe' || o.method === 'unsubscribe') return ['ack', AckMessage];
    return undefined;
  };
  const picked = pick();
  if (!picked) {
    const what = typeof o.channel === 'string' ? `channel ${o.channel}` : `method ${String(o.method)}`;
    return { ok: false, error: `unknown message (${what})` };
  }
  const [kind, schema] = picked;
  const r = schema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    return { ok: false, error: `${kind}: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}` };
  }
  return { ok: true, message: { kind, ...(r.data as object) } as KrakenWsMessage };
}

// ---- client → server ----------------------------------------------------------------------

export const SubscribeParams = z.object({
  channel: z.string().min(1),
  symbol: z.array(z.string()).optional(),
  depth: z.number().int().optional(),
  snapshot: z.boolean().optional(),
  event_trigger: z.enum(['bbo', 'trades']).optional(),
  token: z.string().optional(),
});
export const SubscribeRequest = z.object({
  method: z.enum(['subscribe', 'unsubscribe']),
  params: SubscribeParams,
  req_id: ReqId.optional(),
});
export const PingRequest = z.object({ method: z.literal('ping'), req_id: ReqId.optional() });

export type SubscribeParams = z.infer<typeof SubscribeParams>;
export type SubscribeRequest = z.infer<typeof SubscribeRequest>;
export type PingRequest = z.infer<typeof PingRequest>;

/** JSON text of a subscribe or unsubscribe request. */
export function subscriptionRequest(
  method: 'subscribe' | 'unsubscribe', params: SubscribeParams, reqId?: number,
): string {
  return JSON.stringify(reqId === undefined ? { method, params } : { method, params, req_id: reqId });
}

export function pingRequest(reqId?: number): string {
  return JSON.stringify(reqId === undefined ? { method: 'ping' } : { method: 'ping', req_id: reqId });
}
