// The hand-written fast path for hot messages must agree with the zod reference on every input:
// whatever it accepts, zod accepts with the same value; whatever it declines goes to zod anyway.
import { describe, expect, it } from 'vitest';
import { fastParseKrakenMessage, parseKrakenFrame } from '../../../src/kraken/fast-parse.ts';
import { parseKrakenMessage } from '../../../src/kraken/messages.ts';
import { Prng } from '../../../src/sim/prng.ts';

const SEEDS = [
  '{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,"qty":0.10000000}],"asks":[{"price": 45285.2 , "qty":1e-8}],"checksum":3310070434,"timestamp":"2023-10-06T17:35:55.440295Z"}]}',
  '{"channel":"book","type":"snapshot","data":[{"symbol":"ETH/USD","bids":[{"price":2000.01,"qty":1.5},{"price":1999.99,"qty":0.00000000}],"asks":[],"checksum":0}]}',
  '{"channel":"book","type":"update","x":1,"data":[{"symbol":"B/U","bids":[],"asks":[],"checksum":1,"y":{"z":2,"price":01,"s":"a\\"b\\u0041"}}],"x_sim_extra":{"note":"unknown field","n":1}}',
  '{"channel":"book","data":[{"asks":[{"qty":2,"price":3}],"checksum":4294967295,"bids":[],"symbol":"Z"}],"type":"update"}',
  '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"sell","price":45283.5,"qty":0.00100000,"ord_type":"market","trade_id":4665906,"timestamp":"2023-09-25T07:49:37.708706Z"},{"symbol":"BTC/USD","side":"buy","price":45283.6,"qty":2,"ord_type":"limit","trade_id":4665907,"timestamp":"2023-09-25T07:49:37.708706Z"}]}',
  '{"channel":"trade","type":"snapshot","data":[]}',
  '{"channel":"ticker","type":"snapshot","data":[{"symbol":"BTC/USD","bid":1.0,"bid_qty":2.0,"ask":1.1,"ask_qty":3.0,"last":1.0,"volume":10.0,"vwap":1.0,"low":0.9,"high":1.2,"change":-0.1,"change_pct":-9.09}]}',
  '{"channel":"ticker","type":"update","data":[{"symbol":"X/USD","bid":1.0,"bid_qty":2.0,"ask":1.1,"ask_qty":3.0,"last":1.0,"volume":10.0,"vwap":1.0,"low":0.9,"high":1.2,"change":-0.1,"change_pct":-9.09,"timestamp":"2023-09-25T07:49:37.708706Z"}]}',
  '{"channel":"level3","type":"snapshot","data":[{"symbol":"MATIC/USD","checksum":281817320,"bids":[{"order_id":"O6ZQNQ-BXL4E-5WGINO","limit_price":0.5629,"order_qty":111.56125344,"timestamp":"2023-10-06T17:35:00.279389650Z"}],"asks":[{"event":"add","order_id":"A","limit_price":0.5630,"order_qty":1,"timestamp":"t"}]}]}',
  '{"channel":"level3","type":"update","data":[{"symbol":"MATIC/USD","checksum":1,"bids":[{"event":"delete","order_id":"O6ZQNQ-BXL4E-5WGINO","limit_price":0.5629,"order_qty":111.56125344,"timestamp":"2023-10-06T17:35:00.279389650Z"}],"asks":[{"event":"modify","order_id":"B","limit_price":1e2,"order_qty":0.5,"timestamp":"2023-10-06T17:35:00.279389650Z"}],"timestamp":"2023-10-06T17:35:00.279389650Z"}]}',
  '{"channel":"heartbeat"}',
  '{"method":"pong","req_id":7,"time_in":"t1","time_out":"t2"}',
];

const ALPHABET = ['"', '{', '}', '[', ']', ',', ':', '0', '1', '-', '.', 'e', '\\', ' ', 'a', '\n', 'x', '"price":', '"event":"add",', '"bids":[],'];

function mutate(rng: Prng, raw: string): string {
  let out = raw;
  const n = 1 + rng.int(3);
  for (let k = 0; k < n; k++) {
    const at = rng.int(out.length + 1);
    switch (rng.int(7)) {
      case 0: out = out.slice(0, at) + out.slice(at + 1); break;
      case 1: out = out.slice(0, at) + ALPHABET[rng.int(ALPHABET.length)] + out.slice(at); break;
      case 2: out = out.slice(0, at) + ALPHABET[rng.int(ALPHABET.length)] + out.slice(at + 1); break;
      case 3: { const len = 1 + rng.int(20); out = out.slice(0, at) + out.slice(at, at + len) + out.slice(at); break; }
      case 4: out = out.slice(0, at) + ' \t'.slice(0, 1 + rng.int(2)) + out.slice(at); break;
      case 5: {
        // An unknown member right after some '{'.
        const brace = out.indexOf('{', at);
        if (brace >= 0) out = `${out.slice(0, brace + 1)}"u${rng.int(3)}":${['1', '{"price":2}', '[null,true]', '"\\u00e9"', '1.5e3'][rng.int(5)]},${out.slice(brace + 1)}`;
        break;
      }
      default: {
        // Digits replaced by other digit-ish text (leading zeros, exponents, strings).
        const m = /\d+(\.\d+)?/g;
        m.lastIndex = at;
        const hit = m.exec(out);
        if (hit) out = out.slice(0, hit.index) + ['0', '007', '1e5', '"1.5"', '-3', '4294967296', '99999999999999999', '1.'][rng.int(8)] + out.slice(hit.index + hit[0].length);
      }
    }
  }
  return out;
}

describe('fast parser vs zod reference', () => {
  it('gives the zod result on every seed message', () => {
    for (const raw of SEEDS) {
      expect(parseKrakenFrame(raw), raw).toEqual(parseKrakenMessage(raw));
    }
    // The fast path really handles the hot messages (not just declining everything).
    // (Seed 2 carries a leading-zero number in an unknown field: declined, zod decides.)
    for (const raw of SEEDS.slice(0, 10)) if (raw !== SEEDS[2]) expect(fastParseKrakenMessage(raw), raw).toBeDefined();
    expect(fastParseKrakenMessage(SEEDS[2]!.replace('01', '1'))).toEqual((parseKrakenMessage(SEEDS[2]!) as { message: unknown }).message);
  });

  it('accepts and rejects exactly what zod does on 15 000 random mutations', () => {
    const rng = new Prng(20251125);
    let fastAccepted = 0;
    let rejected = 0;
    for (let n = 0; n < 15_000; n++) {
      const raw = mutate(rng, SEEDS[rng.int(SEEDS.length)]!);
      const ref = parseKrakenMessage(raw);
      const fast = fastParseKrakenMessage(raw);
      if (fast !== undefined) {
        fastAccepted++;
        if (!ref.ok) throw new Error(`fast path accepted what zod rejects (${ref.error}): ${raw}`);
        expect(fast, raw).toEqual(ref.message);
      }
      expect(parseKrakenFrame(raw), raw).toEqual(ref);
      if (!ref.ok) rejected++;
    }
    expect(fastAccepted).toBeGreaterThan(2_000);
    expect(rejected).toBeGreaterThan(2_000);
  });
});
