// The one HTML page: inline CSS and script (nothing fetched from elsewhere), allowed by hash
// in the Content-Security-Policy so no other script or style can run on it.
import { createHash } from 'node:crypto';
import { PAGE_SCRIPT } from './page-script.ts';

const STYLE = `
body { font: 13px/1.4 system-ui, sans-serif; margin: 1em 2em; color: #222; background: #fafafa; }
h1 { font-size: 18px; margin: 0 0 .3em; } h2 { font-size: 15px; margin: 1.2em 0 .3em; }
section { background: #fff; border: 1px solid #ddd; border-radius: 4px; padding: .5em .8em; margin-bottom: 1em; overflow-x: auto; }
table { border-collapse: collapse; } th, td { padding: 2px 8px; text-align: left; border-bottom: 1px solid #eee; white-space: nowrap; }
th { font-weight: 600; color: #555; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.dim td { color: #999; } tr.bad td { background: #fde8e8; } tr.warn td { background: #fff6db; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 8px; margin-right: .5em; }
.ok { background: #dff3e4; } .bad { background: #fde8e8; }
.error { color: #b00; } .empty, .note { color: #777; } .curve { width: 100%; max-width: 640px; height: 160px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 0 1em; }
`;

const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `script-src ${sha256(PAGE_SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const section = (id: string, title: string, hint = '') =>
  `<section><h2>${title}</h2>${hint ? `<p class="note">${hint}</p>` : ''}<div id="${id}"><p class="empty">loading…</p></div></section>`;

export const PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>KapitaalBot dashboard</title><style>${STYLE}</style></head>
<body>
<h1>KapitaalBot</h1>
<p><span id="ingest-state" class="pill">ingest: …</span><span id="decision-state" class="pill">decision: …</span>
<span id="generated" class="note"></span> <span id="conn" class="error"></span></p>
<div class="grid">
${section('p-summary', 'Trading now', 'decision cluster: last evaluation, equity and P&amp;L (as <code>kapitaal status</code>)')}
${section('p-outcomes', 'Evaluation outcomes, last hour', 'dashboard_evaluation_outcomes')}
</div>
${section('p-runs', 'Ingest runs', 'ingest cluster: dashboard_ingest_runs (heartbeat, newest epoch and generation, rows pending refresh)')}
${section('p-sync', 'Generations and sync lag', 'ingest newest generation against the generation the decision cluster shows (decision_status, state_generation_visibility)')}
${section('p-druns', 'Runs as the decision cluster sees them', 'decision_status')}
${section('p-routes', 'Route freshness', 'route_freshness on the decision cluster, blocked routes first')}
${section('p-regimes', 'Regimes per symbol', 'symbol_regimes of running runs')}
${section('p-orders', 'Orders', 'order_status, newest 50')}
${section('p-fills', 'Fills', 'fills_ledger, newest 50')}
${section('p-positions', 'Open positions', 'dashboard_open_positions: at the state mid (as the status line), and at the newest capital snapshot mark')}
${section('p-balances', 'Balances against the ledger', 'balance__drift: the newest exchange balance per asset against the fills ledger since the baseline (BALANCE_DRIFT halts entries when it persists)')}
${section('p-equity', 'Equity curve', 'dashboard__equity_curve: capital snapshots of the last 24 h')}
<div class="grid">
${section('p-queue-ingest', 'Worker queue: ingest', 'job_queue_status')}
${section('p-queue-decision', 'Worker queue: decision', 'job_queue_status')}
</div>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
