// LineBuffer: the writer's pending COPY lines as UTF-8 bytes; order, prepend and non-ASCII text survive.
import { describe, expect, it } from 'vitest';
import { LineBuffer } from '../../../src/ingest/line-buffer.ts';

describe('LineBuffer', () => {
  it('keeps the lines in order as UTF-8, across chunks, with their count and received_at range', () => {
    const b = new LineBuffer();
    const lines: string[] = [];
    for (let i = 0; i < 5000; i++) {
      // Some lines longer than a third of a chunk force new chunks; some carry multi-byte characters.
      const line = i % 1000 === 7 ? `${'x'.repeat(400_000)}\t${i}\n` : `1\tBTC/USD\t${i}\tévé€😀\n`;
      lines.push(line);
      b.append(line, 1000 + (i % 37));
    }
    expect(b.rows).toBe(5000);
    expect(b.firstMs).toBe(1000);
    expect(b.lastMs).toBe(1036);
    expect(b.bytes().toString('utf8')).toBe(lines.join(''));
    expect(b.bytes().toString('utf8')).toBe(lines.join('')); // bytes() is repeatable
  });

  it('prepend puts a batch given back in front of the lines that arrived after it', () => {
    const batch = new LineBuffer();
    batch.append('a\n', 5);
    batch.append('b\n', 6);
    const later = new LineBuffer();
    later.append('c\n', 9);
    expect(batch.bytes().toString()).toBe('a\nb\n'); // the batch was sent once before it came back
    later.prepend(batch);
    later.append('d\n', 10);
    expect(later.bytes().toString()).toBe('a\nb\nc\nd\n');
    expect([later.rows, later.firstMs, later.lastMs]).toEqual([4, 5, 10]);
    expect(new LineBuffer().bytes().length).toBe(0);
  });
});
