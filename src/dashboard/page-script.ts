// The page's only script (inline, no libraries): polls /api/overview every ~2 s and renders
// every panel with textContent (no HTML from data). Money arrives as decimal text and is shown
// as such; only the equity curve's drawing converts to numbers, for pixel coordinates.
export const PAGE_SCRIPT = String.raw`
'use strict';
const POLL_MS = 2000;
const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
const ISO = /^\d{4}-\d\d-\d\dT/;
function show(v, key) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') return /_s$/.test(key) ? v.toFixed(1) + ' s' : String(v);
  if (typeof v === 'string' && ISO.test(v)) return new Date(v).toLocaleString();
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
function table(rows, cols, rowClass) {
  if (!rows || rows.length === 0) return el('p', 'empty', 'none');
  const t = el('table'); const h = t.createTHead().insertRow();
  for (const c of cols) h.appendChild(el('th', null, c));
  const b = t.createTBody();
  for (const r of rows) {
    const tr = b.insertRow(); const cls = rowClass && rowClass(r); if (cls) tr.className = cls;
    for (const c of cols) { const td = tr.insertCell(); td.textContent = show(r[c], c); if (typeof r[c] === 'string' && /^-?\d+(\.\d+)?$/.test(r[c])) td.className = 'num'; }
  }
  return t;
}
function panel(id, cluster, name, render) {
  const box = $(id); box.replaceChildren();
  if (!cluster.ok) { box.appendChild(el('p', 'error', cluster.error)); return; }
  const p = cluster.panels[name];
  if (!p) { box.appendChild(el('p', 'empty', 'not read')); return; }
  if (!p.ok) { box.appendChild(el('p', 'error', p.error)); return; }
  render(box, p.data);
}
function cut(box, rows, limit) { if (rows.length && rows[0].total !== undefined && Number(rows[0].total) > rows.length) box.appendChild(el('p', 'note', 'showing ' + rows.length + ' of ' + rows[0].total)); }
function curve(box, pts) {
  if (!pts.length) { box.appendChild(el('p', 'empty', 'no capital snapshots in the last 24 h (capital__snapshot writes them)')); return; }
  const W = 640, H = 160, ns = 'http://www.w3.org/2000/svg';
  const xs = pts.map((p) => Date.parse(p.at)), ys = pts.map((p) => Number(p.equity));
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = (x) => x1 === x0 ? W / 2 : ((x - x0) / (x1 - x0)) * (W - 10) + 5;
  const sy = (y) => y1 === y0 ? H / 2 : H - 5 - ((y - y0) / (y1 - y0)) * (H - 10);
  const svg = document.createElementNS(ns, 'svg'); svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H); svg.setAttribute('class', 'curve');
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', pts.map((p, i) => sx(xs[i]).toFixed(1) + ',' + sy(ys[i]).toFixed(1)).join(' '));
  line.setAttribute('fill', 'none'); line.setAttribute('stroke', '#2a7'); line.setAttribute('stroke-width', '2');
  svg.appendChild(line); box.appendChild(svg);
  const last = pts[pts.length - 1];
  box.appendChild(el('p', 'note', 'low ' + pts[ys.indexOf(y0)].equity + ' · high ' + pts[ys.indexOf(y1)].equity + ' · last ' + last.equity + ' at ' + show(last.at)));
}
function render(o) {
  $('generated').textContent = 'read ' + show(o.generated_at) + (o.shared ? ' · one shared database' : '');
  for (const side of ['ingest', 'decision']) {
    const c = o[side], s = $(side + '-state');
    s.textContent = side + ': ' + (c.ok ? 'ok (as ' + c.role + ')' : 'unreachable'); s.className = 'pill ' + (c.ok ? 'ok' : 'bad');
  }
  const D = o.decision, I = o.ingest;
  panel('p-summary', D, 'summary', (b, s) => {
    const outcomes = Object.entries(s.outcomes).map(([k, v]) => k + ' ' + v).join(', ') || 'none';
    const rows = [
      ['last evaluation', (s.lastOutcome || '-') + (s.lastReason ? ': ' + s.lastReason : '')],
      ['evaluations, last 60 s', outcomes],
      ['equity', s.equity], ['realised P&L', s.realisedPnl], ['unrealised P&L', s.unrealisedPnl],
      ['open positions / orders / fills', s.openPositions + ' / ' + s.orders + ' / ' + s.fills],
      ['new entries', s.entriesHalted ? 'HALTED: ' + s.entriesHalted : 'allowed'],
    ];
    const t = el('table', 'kv'); for (const [k, v] of rows) { const r = t.insertRow(); r.appendChild(el('th', null, k)); r.insertCell().textContent = v ?? '-'; }
    b.appendChild(t);
  });
  panel('p-outcomes', D, 'outcomes', (b, r) => b.appendChild(table(r, ['outcome', 'evaluations', 'last_at', 'last_reason'])));
  panel('p-runs', I, 'runs', (b, r) => b.appendChild(table(r, ['run_id', 'status', 'heartbeat_age_s', 'last_epoch', 'last_generation_id', 'refresh_lag_s', 'symbols', 'pending_rows', 'last_duration_ms'], (x) => x.status === 'running' ? '' : 'dim')));
  const sb = $('p-sync'); sb.replaceChildren();
  if (!o.sync) sb.appendChild(el('p', 'error', 'needs both clusters'));
  else sb.appendChild(table(o.sync, ['run_id', 'ingest_generation_id', 'decision_generation_id', 'in_sync', 'behind_s', 'decision_generation_complete', 'last_visibility_lag_s', 'max_visibility_lag_5m_s'], (x) => x.in_sync ? '' : 'warn'));
  panel('p-druns', D, 'runs', (b, r) => b.appendChild(table(r, ['run_id', 'status', 'heartbeat_age_s', 'last_epoch', 'current_generation_id', 'generation_age_s', 'last_outcome', 'last_reason'])));
  panel('p-routes', D, 'routes', (b, r) => { cut(b, r); b.appendChild(table(r, ['symbol', 'route_type', 'exec_allowed', 'state_age_s', 'refresh_age_s', 'max_state_age_s', 'marker', 'reason'], (x) => x.exec_allowed ? '' : 'bad')); });
  panel('p-regimes', D, 'regimes', (b, r) => { cut(b, r); b.appendChild(table(r, ['symbol', 'regime', 'regime_since', 'regime_candidate', 'regime_streak', 'regime_reason', 'vol_5m_bps', 'spread_bps', 'book_valid'])); });
  panel('p-orders', D, 'orders', (b, r) => b.appendChild(table(r, ['order_id', 'created_at', 'symbol', 'side', 'purpose', 'strategy', 'order_type', 'status', 'price', 'qty', 'filled_qty', 'avg_fill_price', 'fees', 'reason'], (x) => x.terminal ? 'dim' : '')));
  panel('p-fills', D, 'fills', (b, r) => b.appendChild(table(r, ['fill_id', 'filled_at', 'symbol', 'side', 'purpose', 'price', 'qty', 'notional', 'fee', 'liquidity', 'cash_delta', 'order_id'])));
  panel('p-positions', D, 'positions', (b, r) => b.appendChild(table(r, ['position_id', 'symbol', 'strategy', 'opened_at', 'qty', 'avg_entry_price', 'state_mid', 'unrealised_pnl_at_state_mid', 'mark_price', 'unrealised_pnl', 'realised_pnl', 'trail_armed', 'exit_order_status'])));
  panel('p-balances', D, 'balances', (b, r) => {
    if (!r.length) { b.appendChild(el('p', 'empty', 'no balance snapshots: a paper venue, or capital__balances has not run yet')); return; }
    b.appendChild(table(r, ['asset', 'expected', 'actual', 'drift', 'tolerance', 'exceeded_snapshots', 'persistent', 'snapshot_at', 'baseline_at'], (x) => x.persistent ? 'bad' : ''));
  });
  panel('p-equity', D, 'equity', curve);
  const qcols = ['task_identifier', 'waiting', 'scheduled', 'running', 'failed', 'retrying', 'last_failure'];
  panel('p-queue-ingest', I, 'queue', (b, r) => b.appendChild(table(r, qcols, (x) => Number(x.failed) > 0 ? 'bad' : '')));
  panel('p-queue-decision', D, 'queue', (b, r) => b.appendChild(table(r, qcols, (x) => Number(x.failed) > 0 ? 'bad' : '')));
}
async function poll() {
  try {
    const res = await fetch('api/overview', { cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    render(await res.json());
    $('conn').textContent = ''; 
  } catch (e) {
    $('conn').textContent = 'dashboard server not answering: ' + e.message;
  }
  setTimeout(poll, POLL_MS);
}
poll();
`;
