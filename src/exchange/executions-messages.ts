// zod schemas of what Kraken's private WebSocket v2 sends on a connection subscribed to `executions`
// (PROTOCOL.md, "WebSocket v2 private"). Only the fields the engine reads are checked; the rest passes
// through. Amounts (last_qty, cost, fees, …) are not read: fills and money come from REST TradesHistory.
import { z } from 'zod';

export const EXEC_TYPES = ['pending_new', 'new', 'trade', 'filled', 'iceberg_refill', 'canceled', 'expired', 'restated', 'status'] as const;
export type ExecType = (typeof EXEC_TYPES)[number];

export const ExecutionReport = z
  .object({
    exec_type: z.enum(EXEC_TYPES),
    order_id: z.string().min(1),
    cl_ord_id: z.string().optional(),
    exec_id: z.string().optional(),
    trade_id: z.number().int().optional(),
    order_status: z.string().optional(),
    symbol: z.string().optional(),
    timestamp: z.string().optional(),
  })
  .passthrough();
export type ExecutionReport = z.infer<typeof ExecutionReport>;

// Reports are validated one by one (parseFeedFrame): one odd report must not hide the others of its message.
export const ExecutionsMessage = z.object({
  channel: z.literal('executions'),
  type: z.enum(['snapshot', 'update']),
  data: z.array(z.unknown()),
  sequence: z.number().int().optional(),
});

export const HeartbeatMessage = z.object({ channel: z.literal('heartbeat') });
export const StatusMessage = z.object({ channel: z.literal('status'), type: z.string(), data: z.array(z.object({ system: z.string() }).passthrough()) });

export const AckMessage = z.object({
  method: z.enum(['subscribe', 'unsubscribe', 'pong']),
  success: z.boolean().optional(),
  error: z.string().optional(),
  req_id: z.number().int().optional(),
});

export type FeedMessage =
  | { kind: 'executions'; reports: ExecutionReport[]; rejected: string[] }
  | { kind: 'heartbeat' }
  | { kind: 'status'; system: string }
  | { kind: 'ack'; msg: z.infer<typeof AckMessage> };

/**
 * Parses one frame; `error` names what was wrong (kinds for the MalformedCounter: `invalid JSON`, `executions: …`,
 * `unknown message (…)`). An executions message with some invalid reports keeps the valid ones; the others are
 * listed in `rejected` (`executions report: …`).
 */
export function parseFeedFrame(text: string): { ok: FeedMessage } | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { error: 'invalid JSON' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'unknown message (not an object)' };
  const o = v as Record<string, unknown>;
  const issue = (e: z.ZodError) => e.issues[0] ? `${e.issues[0].path.join('.')} ${e.issues[0].message}` : 'invalid';
  if (o.channel === 'executions') {
    const r = ExecutionsMessage.safeParse(v);
    if (!r.success) return { error: `executions: ${issue(r.error)}` };
    const reports: ExecutionReport[] = [];
    const rejected: string[] = [];
    for (const d of r.data.data) {
      const p = ExecutionReport.safeParse(d);
      if (p.success) reports.push(p.data);
      else rejected.push(`executions report: ${issue(p.error)}`);
    }
    return { ok: { kind: 'executions', reports, rejected } };
  }
  if (o.channel === 'heartbeat') return HeartbeatMessage.safeParse(v).success ? { ok: { kind: 'heartbeat' } } : { error: 'heartbeat: invalid' };
  if (o.channel === 'status') {
    const r = StatusMessage.safeParse(v);
    return r.success ? { ok: { kind: 'status', system: r.data.data[0]?.system ?? 'unknown' } } : { error: `status: ${issue(r.error)}` };
  }
  if (typeof o.method === 'string') {
    const r = AckMessage.safeParse(v);
    return r.success ? { ok: { kind: 'ack', msg: r.data } } : { error: `ack: ${issue(r.error)}` };
  }
  return { error: `unknown message (${typeof o.channel === 'string' ? `channel ${o.channel}` : 'no channel or method'})` };
}
