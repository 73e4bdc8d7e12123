// Fault injection switches. All can be set at start and flipped at runtime (Simulator.setFaults).
import type { PairStatus } from './pairs.ts';

export interface FaultConfig {
  /** Send nothing at all (no data, heartbeats, pongs or acks) while true. */
  stall: boolean;
  /** Symbols whose book and level3 checksums are sent wrong; `*` means every symbol. */
  corruptChecksum: string[];
  /** Every Nth data message per connection is preceded by a malformed JSON frame (0 = off). */
  malformedEvery: number;
  /** Every Nth data message per connection is sent twice (0 = off). */
  repeatEvery: number;
  /** Every Nth update per connection is held back and sent after the next update of the same channel and symbol (0 = off). */
  reorderEvery: number;
  /** Add unknown fields to envelopes and data objects. */
  unknownFields: boolean;
  /** Terminate each connection (no close frame) after it received N data messages (0 = off). */
  dropAfterMessages: number;
  /** Terminate all connections every N ms (0 = off). */
  dropEveryMs: number;
}

export const NO_FAULTS: FaultConfig = {
  stall: false, corruptChecksum: [], malformedEvery: 0, repeatEvery: 0, reorderEvery: 0,
  unknownFields: false, dropAfterMessages: 0, dropEveryMs: 0,
};

export interface FaultSpec { faults: Partial<FaultConfig>; pairStatus?: { symbol: string; status: PairStatus } }

/**
 * Parses one `--fault` value: `stall`, `corrupt-checksum[:SYM]`, `malformed[:N]`, `repeat[:N]`,
 * `reorder[:N]`, `unknown-fields`, `drop-after:N`, `drop-every:MS`, `cancel-only:SYM`.
 */
export function parseFaultSpec(spec: string): FaultSpec {
  const at = spec.indexOf(':');
  const name = at < 0 ? spec : spec.slice(0, at);
  const arg = at < 0 ? undefined : spec.slice(at + 1);
  const num = (dflt: number): number => {
    if (arg === undefined) return dflt;
    const n = Number(arg);
    if (!Number.isInteger(n) || n < 1) throw new Error(`fault ${name}: expected a positive integer, got ${arg}`);
    return n;
  };
  switch (name) {
    case 'stall': return { faults: { stall: true } };
    case 'corrupt-checksum': return { faults: { corruptChecksum: [arg ?? '*'] } };
    case 'malformed': return { faults: { malformedEvery: num(1000) } };
    case 'repeat': return { faults: { repeatEvery: num(100) } };
    case 'reorder': return { faults: { reorderEvery: num(100) } };
    case 'unknown-fields': return { faults: { unknownFields: true } };
    case 'drop-after': return { faults: { dropAfterMessages: num(10000) } };
    case 'drop-every': return { faults: { dropEveryMs: num(30000) } };
    case 'cancel-only':
      if (!arg) throw new Error('fault cancel-only needs a symbol, e.g. cancel-only:BTC/USD');
      return { faults: {}, pairStatus: { symbol: arg, status: 'cancel_only' } };
    default:
      throw new Error(`unknown fault ${JSON.stringify(spec)} (stall, corrupt-checksum[:SYM], malformed[:N], repeat[:N], reorder[:N], unknown-fields, drop-after:N, drop-every:MS, cancel-only:SYM)`);
  }
}
