// Simulator → collector → PostgreSQL: what is stored equals what the simulator sent (trades and
// tickers exactly; book and level3 by the sampling rule: every message is accounted for in
// updates_applied / flow counts), and each injected fault is survived as specified.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../../src/sim/index.ts';
import { testDatabase, type TestDatabase } from '../../support/db.ts';
import { until } from './helpers.ts';
import { perSymbol, startPipeline, type Pipeline } from './pipeline.ts';

let db: TestDatabase;
let sim: Simulator | undefined;
let pipe: Pipeline | undefined;
beforeAll(async () => {
  db = await testDatabase('ingest');
});
afterEach(async () => {
  await pipe?.collector.stop().catch(() => {});
  await pipe?.writer.close(1_000).catch(() => {});
  await sim?.close();
  pipe = undefined;
  sim = undefined;
});

const USD = ['ADA/USD', 'BTC/USD', 'DOGE/USD', 'ETH/USD', 'SOL/USD', 'XRP/USD'];

function sentPerSymbol(channel: string, field: 'messages' | 'rows' | 'snapshots'): Record<string, number> {
  const c = sim!.sentCounts().channels[channel] ?? {};
  // Symbols with nothing to store (an empty trade snapshot) have no rows to compare.
  return Object.fromEntries(Object.entries(c).map(([s, v]) => [s, v[field]]).filter(([, n]) => n !== 0));
}

describe('collector end to end', () => {
  it('stores exactly what the simulator sent', async () => {
    sim = await startSimulator({ seed: 11, pairs: 10, rate: 400 });
    pipe = await startPipeline(db.pool, db.url, sim);
    await until('universe of the USD pairs', () => pipe!.collector.universe.length === 6);
    expect(pipe.collector.universe).toEqual(USD);
    await until('trades flowing for every pair', () =>
      USD.every((s) => (pipe!.collector.stats().received.trade?.[s]?.rows ?? 0) > 3), 30_000);
    await pipe.drainAndStop();
    const run = pipe.runId;

    expect(await perSymbol(db.pool, 'select symbol, count(*) n from trade_samples where run_id = $1 group by symbol', run))
      .toEqual(sentPerSymbol('trade', 'rows'));
    expect(await perSymbol(db.pool, 'select symbol, count(*) n from ticker_samples where run_id = $1 group by symbol', run))
      .toEqual(sentPerSymbol('ticker', 'messages'));
    expect(await perSymbol(db.pool, 'select symbol, sum(updates_applied) n from l2_snap_metrics where run_id = $1 group by symbol', run))
      .toEqual(sentPerSymbol('book', 'messages'));
    expect(await perSymbol(db.pool, 'select symbol, count(*) n from l2_snap_metrics where run_id = $1 and is_snapshot group by symbol', run))
      .toEqual(sentPerSymbol('book', 'snapshots'));
    // Sampling folds messages: fewer rows than messages, and every row verified.
    const l2 = await db.pool.query(`select count(*)::int n, bool_and(checksum_ok) ok, max(cardinality(bid_px)) lv
                                      from l2_snap_metrics where run_id = $1`, [run]);
    expect(l2.rows[0]).toMatchObject({ ok: true, lv: 10 });
    const bookMessages = Object.values(sentPerSymbol('book', 'messages')).reduce((a, b) => a + b, 0);
    expect(l2.rows[0]!.n).toBeLessThan(bookMessages);

    const st = pipe.collector.stats();
    const l3Rows = Object.values(sentPerSymbol('level3', 'rows')).reduce((a, b) => a + b, 0);
    expect(st.l3SnapshotOrders + st.l3EventsApplied).toBe(l3Rows);
    const flow = await db.pool.query(`select sum(adds + modifies + deletes)::int n, bool_and(checksum_ok) ok
                                        from l3_queue_metrics where run_id = $1`, [run]);
    expect(flow.rows[0]).toEqual({ n: st.l3EventsApplied, ok: true });
    expect(await perSymbol(db.pool, 'select symbol, count(*) n from l3_queue_metrics where run_id = $1 and adds + modifies + deletes = 0 group by symbol', run))
      .toMatchObject(Object.fromEntries(USD.map((s) => [s, expect.any(Number)])));

    // The book rows hold the simulator's book: the last stored sample matches its current top levels.
    const top = sim.market.book('BTC/USD')!.topLevels('bid', 1)[0]!;
    const last = await db.pool.query(`select bid_px[1]::text px, bid_qty[1]::text qty from l2_snap_metrics
                                       where run_id = $1 and symbol = 'BTC/USD' order by seq desc limit 1`, [run]);
    expect(last.rows[0]).toEqual({ px: top.price, qty: top.qty });
    expect(st.malformed).toEqual({});
    expect(pipe.writer.stats().tables.trade_samples.dropped).toBe(0);
  });

  it('streams level3 for more than 200 pairs over several connections (Kraken allows 200 a connection)', async () => {
    // The simulator refuses a 201st level3 symbol on one connection, as Kraken does.
    sim = await startSimulator({ seed: 12, pairs: 230, rate: 100 });
    pipe = await startPipeline(db.pool, db.url, sim, { policy: { quotes: [], topN: 0 }, subRatePerSec: 200, subBurst: 50 });
    await until('a level3 snapshot for every pair', () =>
      Object.keys(pipe!.collector.stats().received.level3 ?? {}).length === 230, 60_000);
    expect(pipe.collector.connections.map((c) => c.name)).toEqual(['public', 'level3', 'level3-2']);
    await pipe.drainAndStop();
    const snapshots = await perSymbol(db.pool,
      'select symbol, count(*) n from l3_queue_metrics where run_id = $1 and adds + modifies + deletes = 0 group by symbol', pipe.runId);
    expect(Object.keys(snapshots)).toHaveLength(230);
    expect(pipe.cap.lines.filter((l) => /Exceeded maximum/.test(JSON.stringify(l)))).toEqual([]);
    expect(pipe.cap.lines.filter((l) => /opening connection level3-2/.test(String(l.msg)))).toHaveLength(1);
  });

  it('reconnects after the connection drops and stores no trade twice', async () => {
    sim = await startSimulator({ seed: 12, pairs: 10, rate: 400 });
    pipe = await startPipeline(db.pool, db.url, sim);
    await until('trades flowing', () => (pipe!.collector.stats().received.trade?.['BTC/USD']?.rows ?? 0) > 5);
    for (let i = 0; i < 3; i++) {
      const before = pipe.collector.stats().connections.public!.connects;
      expect(sim.dropConnections()).toBeGreaterThan(0);
      await until('reconnected', () => pipe!.collector.stats().connections.public!.connects > before);
      await until('snapshots after reconnect', () => (pipe!.collector.stats().received.book?.['BTC/USD']?.snapshots ?? 0) >= 2 + i);
    }
    await pipe.drainAndStop();
    const dup = await db.pool.query(`select symbol, trade_id, count(*) from trade_samples where run_id = $1
                                      group by 1, 2 having count(*) > 1`, [pipe.runId]);
    expect(dup.rows).toEqual([]);
    const st = pipe.collector.stats();
    expect(st.duplicateTrades).toBeGreaterThan(0); // the trade snapshots after reconnects repeated trades
    const stored = await db.pool.query(`select count(*)::int n from trade_samples where run_id = $1`, [pipe.runId]);
    const sent = Object.values(sentPerSymbol('trade', 'rows')).reduce((a, b) => a + b, 0);
    expect(stored.rows[0]!.n).toBe(sent - st.duplicateTrades);
    // Per symbol the stored trade ids have no holes from the first to the last one (the snapshot of 50 covers each short drop).
    const holes = await db.pool.query(`select symbol from trade_samples where run_id = $1 group by symbol
                                        having max(trade_id) - min(trade_id) + 1 <> count(*)`, [pipe.runId]);
    expect(holes.rows).toEqual([]);
  });

  it('detects a checksum mismatch, stores it as not ok, resubscribes only that symbol and recovers', async () => {
    sim = await startSimulator({ seed: 13, pairs: 10, rate: 400 });
    pipe = await startPipeline(db.pool, db.url, sim);
    await until('books flowing', () => (pipe!.collector.stats().received.book?.['ETH/USD']?.updates ?? 0) > 5);
    sim.setFaults({ corruptChecksum: ['BTC/USD'] });
    await until('mismatch detected', () => (pipe!.collector.stats().checksumMismatches['book:BTC/USD'] ?? 0) > 0);
    sim.setFaults({ corruptChecksum: [] });
    const snapsBefore = pipe.collector.stats().received.book!['BTC/USD']!.snapshots;
    await until('fresh BTC/USD snapshot', () => pipe!.collector.stats().received.book!['BTC/USD']!.snapshots > snapsBefore);
    await until('BTC/USD updates again', async () => {
      const r = await db.pool.query(`select checksum_ok from l2_snap_metrics where run_id = $1 and symbol = 'BTC/USD'
                                      order by seq desc limit 1`, [pipe!.runId]);
      return r.rows[0]?.checksum_ok === true;
    });
    await pipe.drainAndStop();
    const st = pipe.collector.stats();
    // Only BTC/USD was resubscribed; the other symbols got exactly one book snapshot (their first).
    expect(Object.keys(st.resubscribes).filter((k) => k.startsWith('book:'))).toEqual(['book:BTC/USD']);
    for (const s of USD.filter((x) => x !== 'BTC/USD')) expect(st.received.book![s]!.snapshots).toBe(1);
    expect(st.connections.public!.connects).toBe(1);
    expect(pipe.cap.markers('DATA_INTEGRITY_CHECKSUM_MISMATCH').map((l) => l.symbol)).toContain('BTC/USD');
    const bad = await db.pool.query(`select symbol, count(*)::int n from l2_snap_metrics where run_id = $1 and not checksum_ok group by 1`,
      [pipe.runId]);
    expect(bad.rows).toEqual([{ symbol: 'BTC/USD', n: st.checksumMismatches['book:BTC/USD'] }]);
    // Every message is accounted for: applied (in updates_applied) or ignored while the book was invalid.
    const upd = await perSymbol(db.pool, 'select symbol, sum(updates_applied) n from l2_snap_metrics where run_id = $1 group by symbol', pipe.runId);
    const sent = sentPerSymbol('book', 'messages');
    expect(upd['BTC/USD']! + st.bookIgnored).toBe(sent['BTC/USD']);
    for (const s of USD.filter((x) => x !== 'BTC/USD')) expect(upd[s]).toBe(sent[s]);
  });

  it('rejects and counts malformed frames without storing or crashing', async () => {
    sim = await startSimulator({ seed: 14, pairs: 10, rate: 400, faults: { malformedEvery: 25, unknownFields: true } });
    pipe = await startPipeline(db.pool, db.url, sim);
    await until('malformed frames seen', () => (pipe!.collector.stats().malformed['invalid JSON'] ?? 0) >= 5);
    sim.injectMalformed();
    await pipe.drainAndStop();
    const st = pipe.collector.stats();
    const sentMalformed = sim.sentCounts().faults.malformed ?? 0;
    expect(st.malformed).toEqual({ 'invalid JSON': sentMalformed });
    // Logged once for the kind, with a sample.
    const logged = pipe.cap.markers('DATA_INTEGRITY_MALFORMED_MESSAGE');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ kind: 'invalid JSON', sample: expect.stringContaining('"channel":"book"') });
    // Unknown extra fields are tolerated; the good data was stored in full.
    expect(await perSymbol(db.pool, 'select symbol, count(*) n from trade_samples where run_id = $1 group by symbol', pipe.runId))
      .toEqual(sentPerSymbol('trade', 'rows'));
  });

  it('detects a stall (not even heartbeats), reconnects, and streams again when the feed returns', async () => {
    sim = await startSimulator({ seed: 15, pairs: 10, rate: 400 });
    pipe = await startPipeline(db.pool, db.url, sim, { idleMs: 600 });
    await until('data flowing', () => (pipe!.collector.stats().received.trade?.['BTC/USD']?.rows ?? 0) > 3);
    sim.setFaults({ stall: true });
    await until('stall detected', () => pipe!.cap.markers('DATA_INTEGRITY_STALL').length > 0, 20_000);
    expect(pipe.cap.markers('DATA_INTEGRITY_STALL')[0]).toMatchObject({ connection: 'public', idle_ms: 600 });
    sim.setFaults({ stall: false });
    const before = pipe.collector.stats().received.trade!['BTC/USD']!.rows;
    await until('trades again', () => pipe!.collector.stats().received.trade!['BTC/USD']!.rows > before + 3, 30_000);
    expect(pipe.collector.stats().connections.public!.reconnects).toBeGreaterThan(0);
  });
});
