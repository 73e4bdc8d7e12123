import { describe, expect, it } from 'vitest';
import { parseKrakenMessage, quoteDecimalFields, subscriptionRequest, SubscribeRequest } from '../../../src/kraken/messages.ts';

describe('parseKrakenMessage', () => {
  it('keeps number text of decimal fields, trailing zeros included', () => {
    const raw = '{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,"qty":0.10000000}],"asks":[{"price": 45285.2 , "qty":1e-8}],"checksum":3310070434,"timestamp":"2023-10-06T17:35:55.440295Z"}]}';
    const r = parseKrakenMessage(raw);
    expect(r.ok).toBe(true);
    if (!r.ok || r.message.kind !== 'book') throw new Error('expected book');
    expect(r.message.data[0]!.bids[0]).toEqual({ price: '45283.5', qty: '0.10000000' });
    expect(r.message.data[0]!.asks[0]).toEqual({ price: '45285.2', qty: '1e-8' });
    expect(r.message.data[0]!.checksum).toBe(3310070434);
  });

  it('keeps a connection_id above 2^53 exact', () => {
    const r = parseKrakenMessage('{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":18446744073709551615,"system":"online","version":"2.0.0"}]}');
    if (!r.ok || r.message.kind !== 'status') throw new Error(JSON.stringify(r));
    expect(r.message.data[0]!.connection_id).toBe('18446744073709551615');
  });

  it('does not touch look-alikes inside strings', () => {
    const raw = '{"error":"bad \\"price\\":1.50 here","method":"subscribe","success":false,"time_in":"a","time_out":"b"}';
    expect(quoteDecimalFields(raw)).toBe(raw);
    const r = parseKrakenMessage(raw);
    if (!r.ok || r.message.kind !== 'ack' || r.message.success) throw new Error(JSON.stringify(r));
    expect(r.message.error).toBe('bad "price":1.50 here');
  });

  it('parses acks, pong, heartbeat, trade, ticker, level3, instrument', () => {
    const ok = (raw: string, kind: string) => {
      const r = parseKrakenMessage(raw);
      expect(r.ok ? r.message.kind : r.error).toBe(kind);
    };
    ok('{"channel":"heartbeat"}', 'heartbeat');
    ok('{"method":"pong","req_id":7,"time_in":"t1","time_out":"t2"}', 'pong');
    ok('{"method":"subscribe","result":{"channel":"book","depth":10,"snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"t","time_out":"t","req_id":1}', 'ack');
    ok('{"error":"Currency pair not supported XBT/USD","method":"subscribe","success":false,"symbol":"XBT/USD","time_in":"t","time_out":"t","req_id":1}', 'ack');
    ok('{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"sell","price":45283.5,"qty":0.00100000,"ord_type":"market","trade_id":4665906,"timestamp":"2023-09-25T07:49:37.708706Z"}]}', 'trade');
    ok('{"channel":"ticker","type":"snapshot","data":[{"symbol":"BTC/USD","bid":1.0,"bid_qty":2.0,"ask":1.1,"ask_qty":3.0,"last":1.0,"volume":10.0,"vwap":1.0,"low":0.9,"high":1.2,"change":-0.1,"change_pct":-9.09}]}', 'ticker');
    ok('{"channel":"level3","type":"snapshot","data":[{"symbol":"MATIC/USD","checksum":281817320,"bids":[{"order_id":"O6ZQNQ-BXL4E-5WGINO","limit_price":0.5629,"order_qty":111.56125344,"timestamp":"2023-10-06T17:35:00.279389650Z"}],"asks":[]}]}', 'level3_snapshot');
    ok('{"channel":"level3","type":"update","data":[{"symbol":"MATIC/USD","checksum":1,"bids":[{"event":"delete","order_id":"O6ZQNQ-BXL4E-5WGINO","limit_price":0.5629,"order_qty":111.56125344,"timestamp":"2023-10-06T17:35:00.279389650Z"}],"asks":[]}]}', 'level3_update');
    ok('{"channel":"instrument","type":"snapshot","data":{"assets":[{"id":"BTC","status":"enabled","precision":10,"precision_display":5}],"pairs":[{"symbol":"BTC/USD","base":"BTC","quote":"USD","status":"online","qty_precision":8,"qty_increment":0.00000001,"price_precision":1,"price_increment":0.1,"cost_precision":5,"cost_min":0.5,"qty_min":0.0001}]}}', 'instrument');
  });

  it('strips unknown fields but rejects structurally wrong messages', () => {
    const extra = parseKrakenMessage('{"channel":"book","type":"update","x":1,"data":[{"symbol":"B/U","bids":[],"asks":[],"checksum":1,"y":{"z":2}}]}');
    expect(extra.ok).toBe(true);
    if (extra.ok) expect(JSON.stringify(extra.message)).not.toContain('"y"');
    const bad = [
      '{"channel":"book","type":"update","data":[{"symbol":"B/U","bids":[{"price":"abc","qty":1}],"asks":[],"checksum":1}]}',
      '{"channel":"book","type":"update","data":[{"symbol":"B/U","bids":[],"asks":[]}]}',
      '{"channel":"book","type":"update","data":[]}',
      '{"channel":"trade","type":"update","data":[{"symbol":"B/U","side":"up","price":1,"qty":1,"ord_type":"market","trade_id":1,"timestamp":"t"}]}',
      '{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":"x","system":"online","version":"1"}]}',
      '{"channel":"nope"}',
      '{"method":"subscribe","success":true,"time_in":"t","time_out":"t"}',
      '[1,2]',
      '{"channel":"book","type":"upd',
    ];
    for (const raw of bad) expect(parseKrakenMessage(raw).ok, raw).toBe(false);
  });

  it('builds requests that validate', () => {
    const text = subscriptionRequest('subscribe', { channel: 'book', symbol: ['BTC/USD'], depth: 10, snapshot: true }, 1);
    expect(SubscribeRequest.parse(JSON.parse(text)).req_id).toBe(1);
  });
});
