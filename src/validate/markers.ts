// Counts the markers in pino JSON log files: the evidence half of `kapitaal validate`.
import fs from 'node:fs';
import readline from 'node:readline';

export interface MarkerSeen {
  count: number;
  last: Record<string, unknown>;
}

export async function scanMarkers(files: string[]): Promise<Map<string, MarkerSeen>> {
  const seen = new Map<string, MarkerSeen>();
  for (const file of files) {
    if (!fs.existsSync(file)) continue;
    const lines = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
    for await (const line of lines) {
      if (!line.includes('"marker"')) continue;
      try {
        const rec = JSON.parse(line) as { marker?: unknown };
        if (typeof rec.marker !== 'string') continue;
        const s = seen.get(rec.marker) ?? { count: 0, last: {} };
        s.count++;
        s.last = rec as Record<string, unknown>;
        seen.set(rec.marker, s);
      } catch {
        // A line cut by a crash is not evidence either way.
      }
    }
  }
  return seen;
}
