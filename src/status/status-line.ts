// One line of live status. Row rates come from two published epochs (their cumulative row counts and
// publish times), not from two status ticks: epochs are published every few seconds, so rates taken
// between ticks alternated between a burst and 0.
import Decimal from 'decimal.js';
import type { Overview } from './overview.ts';

/** Money for the eye: two decimals (the database keeps every digit). */
const money = (v: string | null) => (v === null ? '-' : new Decimal(v).toFixed(2));

const rate = (now: number, before: number | undefined, seconds: number) =>
  before === undefined || seconds <= 0 ? '-' : String(Math.max(0, Math.round((now - before) / seconds)));

/**
 * Keeps the newest overview of the previous epoch, the base the row rates are measured from.
 * Feed it every overview; `base` is null until two epochs of one run were seen.
 */
export class EpochBase {
  base: Overview | null = null;
  private current: Overview | null = null;

  observe(now: Overview): void {
    const epochOf = (o: Overview | null) => (o?.ingest ? `${o.ingest.runId}/${o.ingest.epoch ?? '-'}` : null);
    if (epochOf(now) === epochOf(this.current)) return;
    this.base = this.current;
    this.current = now;
  }
}

/** `before`: an overview of an earlier epoch of the same run (EpochBase), or null. */
export function statusLine(now: Overview, before: Overview | null): string {
  const parts: string[] = [];
  const ing = now.ingest;
  if (now.ingestError) parts.push(`ingest: ${now.ingestError}`);
  else if (!ing) parts.push('ingest: no live run');
  else {
    const b = before?.ingest?.runId === ing.runId ? before.ingest : null;
    const seconds = b?.epochAt && ing.epochAt ? (ing.epochAt.getTime() - b.epochAt.getTime()) / 1000 : 0;
    parts.push(
      `run ${ing.runId} epoch ${ing.epoch ?? '-'}`,
      `rows/s t${rate(ing.rows.ticker, b?.rows.ticker, seconds)} tr${rate(ing.rows.trade, b?.rows.trade, seconds)} ` +
        `l2 ${rate(ing.rows.l2, b?.rows.l2, seconds)} l3 ${rate(ing.rows.l3, b?.rows.l3, seconds)}`,
      `symbols ${ing.symbols} (book ok ${ing.symbolsBookValid})`,
    );
  }
  const dec = now.decision;
  if (now.decisionError) parts.push(`decision: ${now.decisionError}`);
  else if (dec) {
    const lagGen = ing?.generationId && dec.generationId ? Number(ing.generationId) - Number(dec.generationId) : null;
    const lagS = dec.generationAt ? ((Date.now() - dec.generationAt.getTime()) / 1000).toFixed(1) : '-';
    parts.push(`gen ${dec.generationId ?? '-'} lag ${lagGen ?? '-'} gen/${lagS}s`);
    const o = Object.entries(dec.outcomes).map(([k, v]) => `${k} ${v}`).join(' ');
    parts.push(`eval/60s ${o || '-'}`);
    parts.push(
      `equity ${money(dec.equity)} open ${dec.openPositions} pnl ${money(dec.realisedPnl)} realised` +
        `${dec.unrealisedPnl ? ` ${money(dec.unrealisedPnl)} unrealised` : ''}` +
        ` orders ${dec.orders} fills ${dec.fills}`,
    );
    if (dec.entriesHalted) parts.push(`NEW ENTRIES HALTED: ${dec.entriesHalted}`);
  }
  return parts.join(' | ');
}
