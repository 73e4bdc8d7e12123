// FrameBatch writes the same bytes as ws for ws.send(text) on an uncompressed server socket, at every
// header size boundary and for multi-byte text.
import { describe, expect, it } from 'vitest';
import * as ws from 'ws';
import { FrameBatch } from '../../../src/sim/frames.ts';

const wsFrame = (text: string): Buffer => {
  // ws's own frame encoder (exported by its ESM entry, not typed).
  const { frame } = (ws as unknown as { Sender: { frame(d: Buffer, o: object): Buffer[] } }).Sender;
  return Buffer.concat(frame(Buffer.from(text), { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false }));
};

describe('FrameBatch', () => {
  it('encodes text frames exactly like ws, back to back, across header sizes and growth', () => {
    const texts: string[] = [];
    for (const n of [0, 1, 41, 42, 43, 125, 126, 127, 21845, 21846, 65535, 65536, 70000]) {
      texts.push('x'.repeat(n), 'é'.repeat(Math.ceil(n / 2)), `${'€'.repeat(Math.floor(n / 3))}😀`);
    }
    const b = new FrameBatch();
    for (const t of texts) b.addText(t);
    expect(b.take().equals(Buffer.concat(texts.map(wsFrame)))).toBe(true);
    expect(b.pending).toBe(0);
    b.addText('{"channel":"heartbeat"}');
    expect(b.take().equals(wsFrame('{"channel":"heartbeat"}'))).toBe(true);
  });
});
