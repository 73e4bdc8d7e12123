// A scripted Exchange for submit-path tests: records every call; orders live in a map by client id.
import type { AddOrderRequest, AddOrderResult, CancelResult, Exchange, ExchangeOrder, FillsPage } from '../../../src/exchange/types.ts';

export class FakeExchange implements Exchange {
  readonly kind = 'paper' as const;
  readonly calls: { method: string; arg: unknown }[] = [];
  readonly orders = new Map<string, ExchangeOrder>();
  /** Called by addOrder; throw to simulate a failure. `accept` records the order first. */
  onAdd: (req: AddOrderRequest, accept: () => string) => string = (_req, accept) => accept();
  /** Query answers: by default the stored order; override to hide it. */
  onQuery: (clientOrderId: string) => ExchangeOrder | null = (id) => this.orders.get(id) ?? null;
  private n = 0;
  readonly tag = Math.random().toString(36).slice(2, 8);

  count(method: string): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  async addOrder(req: AddOrderRequest): Promise<AddOrderResult> {
    this.calls.push({ method: 'addOrder', arg: req });
    const accept = () => {
      const txid = `OFAKE-${this.tag}-${++this.n}`;
      this.orders.set(req.clientOrderId, {
        exchangeOrderId: txid, clientOrderId: req.clientOrderId, symbol: req.symbol, side: req.side, orderType: req.orderType,
        limitPrice: req.price ?? null, status: 'open', venueStatus: 'open', reason: null, qty: req.qty, qtyExec: '0', cost: '0',
        avgPrice: null, fee: '0', openedAt: new Date(), closedAt: null, tradeIds: [],
      });
      return txid;
    };
    return { exchangeOrderId: this.onAdd(req, accept) };
  }

  async queryOrderByClientId(clientOrderId: string): Promise<ExchangeOrder | null> {
    this.calls.push({ method: 'queryOrderByClientId', arg: clientOrderId });
    return this.onQuery(clientOrderId);
  }

  async cancelOrder(ref: { exchangeOrderId: string } | { clientOrderId: string }): Promise<CancelResult> {
    this.calls.push({ method: 'cancelOrder', arg: ref });
    for (const o of this.orders.values()) {
      if (('exchangeOrderId' in ref && o.exchangeOrderId === ref.exchangeOrderId) || ('clientOrderId' in ref && o.clientOrderId === ref.clientOrderId)) {
        if (o.status === 'open') {
          o.status = 'cancelled';
          o.venueStatus = 'canceled';
          o.reason = 'User requested';
          return { count: 1 };
        }
      }
    }
    return { count: 0 };
  }

  async fillsSince(cursor: string | null): Promise<FillsPage> {
    this.calls.push({ method: 'fillsSince', arg: cursor });
    return { fills: [], cursor: cursor ?? '0' };
  }

  async close(): Promise<void> {}
}
