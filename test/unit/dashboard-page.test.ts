// The page's script, run against a minimal stand-in DOM (no browser here): it must parse, render
// every panel from an /api/overview body, show money exactly as sent, and show a cluster's error.
import { describe, expect, it } from 'vitest';
import { PAGE_HTML } from '../../src/dashboard/page.ts';
import { PAGE_SCRIPT } from '../../src/dashboard/page-script.ts';

class Node {
  children: Node[] = [];
  className = '';
  attrs: Record<string, string> = {};
  private ownText = '';
  constructor(readonly tag: string) {}
  get textContent(): string {
    return this.ownText + this.children.map((c) => c.textContent).join(' ');
  }
  set textContent(v: string) {
    this.ownText = String(v);
    this.children = [];
  }
  appendChild(c: Node) {
    this.children.push(c);
    return c;
  }
  replaceChildren() {
    this.children = [];
    this.ownText = '';
  }
  setAttribute(k: string, v: string) {
    this.attrs[k] = v;
  }
  createTHead() {
    return this.appendChild(new Node('thead'));
  }
  createTBody() {
    return this.appendChild(new Node('tbody'));
  }
  insertRow() {
    return this.appendChild(new Node('tr'));
  }
  insertCell() {
    return this.appendChild(new Node('td'));
  }
  find(tag: string): Node[] {
    return [...(this.tag === tag ? [this] : []), ...this.children.flatMap((c) => c.find(tag))];
  }
}

async function renderPage(body: unknown) {
  const ids = [...PAGE_HTML.matchAll(/id="([^"]+)"/g)].map((m) => m[1]!);
  const byId = new Map(ids.map((id) => [id, new Node('div')]));
  const document = {
    getElementById: (id: string) => byId.get(id) ?? null,
    createElement: (tag: string) => new Node(tag),
    createElementNS: (_ns: string, tag: string) => new Node(tag),
  };
  const fetch = async () => ({ ok: true, status: 200, json: async () => JSON.parse(JSON.stringify(body)) });
  const timers: unknown[] = [];
  new Function('document', 'fetch', 'setTimeout', PAGE_SCRIPT)(document, fetch, (f: unknown) => timers.push(f));
  // Let poll()'s awaits finish (ordering only: the stand-in fetch resolves at once).
  for (let i = 0; i < 5 && timers.length === 0; i++) await new Promise((r) => setImmediate(r));
  expect(timers).toHaveLength(1); // the next poll is scheduled
  return byId;
}

const ok = (data: unknown) => ({ ok: true, data });
const body = {
  generated_at: '2026-11-26T02:00:00.000Z',
  shared: false,
  ingest: { ok: true, role: 'kapitaal_readonly', panels: { runs: ok([{ run_id: '7', status: 'running', heartbeat_age_s: 1.25, last_epoch: '3' }]), queue: ok([]) } },
  decision: {
    ok: true,
    role: 'kapitaal_readonly',
    panels: {
      summary: ok({ outcomes: { candidates: 2 }, lastOutcome: 'candidates', lastReason: 'top-1 selected', equity: '220.123456789', realisedPnl: '0', unrealisedPnl: null, openPositions: 1, orders: 1, fills: 1, entriesHalted: 'DAILY_LOSS_LIMIT: test' }),
      runs: ok([]),
      outcomes: ok([{ outcome: 'candidates', evaluations: '2', last_at: '2026-11-26T01:59:59.000Z', last_reason: 'top-1 selected' }]),
      routes: ok([{ symbol: 'AAA/USD', route_type: 'taker_entry', exec_allowed: false, reason: 'STATE_AGE_EXCEEDS_MAX: market data 00:00:31 old > 00:00:30', marker: 'ROUTE_FRESHNESS_STALE', total: '1' }]),
      regimes: { ok: false, error: 'permission denied for view symbol_regimes' },
      orders: ok([{ order_id: '42', symbol: 'AAA/USD', price: '100.10000001', qty: '0.12345678', terminal: false }]),
      fills: ok([]),
      positions: ok([]),
      balances: ok([
        { asset: 'USD', expected: '1000', actual: '990.5', drift: '-9.5', tolerance: '1', exceeded_snapshots: 3, persistent: true, snapshot_at: '2026-11-26T02:00:00.000Z' },
        { asset: 'BTC', expected: '0.5', actual: '0.5', drift: '0', tolerance: '0.0005', exceeded_snapshots: 0, persistent: false, snapshot_at: '2026-11-26T02:00:00.000Z' },
      ]),
      equity: ok([{ at: '2026-11-26T01:00:00.000Z', equity: '220' }, { at: '2026-11-26T02:00:00.000Z', equity: '221.5' }]),
      queue: ok([{ task_identifier: 'state__sync', waiting: '0', failed: '1', last_failure: 'boom' }]),
    },
  },
  sync: [{ run_id: '7', ingest_generation_id: '10', decision_generation_id: '9', in_sync: false, behind_s: 0.4 }],
};

describe('dashboard page script', () => {
  it('renders every panel from the overview, money as sent', async () => {
    const dom = await renderPage(body);
    const text = (id: string) => dom.get(id)!.textContent;
    expect(text('conn')).toBe(''); // render did not throw
    expect(text('ingest-state')).toBe('ingest: ok (as kapitaal_readonly)');
    expect(text('p-summary')).toContain('220.123456789');
    expect(text('p-summary')).toContain('candidates: top-1 selected');
    expect(text('p-summary')).toContain('HALTED: DAILY_LOSS_LIMIT: test');
    expect(text('p-orders')).toContain('100.10000001');
    expect(text('p-orders')).toContain('0.12345678');
    expect(text('p-routes')).toContain('STATE_AGE_EXCEEDS_MAX: market data 00:00:31 old > 00:00:30');
    expect(dom.get('p-routes')!.find('tr').filter((r) => r.className === 'bad')).toHaveLength(1);
    expect(text('p-regimes')).toBe('permission denied for view symbol_regimes');
    expect(text('p-runs')).toContain('1.3 s');
    expect(text('p-sync')).toContain('0.4 s');
    expect(dom.get('p-equity')!.find('polyline')).toHaveLength(1);
    expect(text('p-equity')).toContain('last 221.5');
    expect(text('p-queue-decision')).toContain('boom');
    expect(text('p-fills')).toBe('none');
    expect(text('p-balances')).toContain('990.5');
    expect(dom.get('p-balances')!.find('tr').filter((r) => r.className === 'bad')).toHaveLength(1); // the persistent drift
  });

  it('says why the balances panel is empty', async () => {
    const dom = await renderPage({ ...body, decision: { ...body.decision, panels: { ...body.decision.panels, balances: ok([]) } } });
    expect(dom.get('p-balances')!.textContent).toBe('no balance snapshots: a paper venue, or capital__balances has not run yet');
  });

  it('shows an unreachable cluster on each of its panels', async () => {
    const dom = await renderPage({ ...body, decision: { ok: false, error: 'connect ECONNREFUSED 127.0.0.1:1', panels: {} }, sync: null });
    expect(dom.get('conn')!.textContent).toBe('');
    expect(dom.get('decision-state')!.textContent).toBe('decision: unreachable');
    for (const id of ['p-summary', 'p-orders', 'p-routes', 'p-equity', 'p-queue-decision']) {
      expect(dom.get(id)!.textContent).toBe('connect ECONNREFUSED 127.0.0.1:1');
    }
    expect(dom.get('p-runs')!.textContent).toContain('running');
    expect(dom.get('p-sync')!.textContent).toBe('needs both clusters');
  });
});
