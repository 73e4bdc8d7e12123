// A reader that checks, read after read, that the decision cluster shows one complete
// generation of a run: every state row carries the newest generation id, there are as many as
// it recorded, and the rows hash to its state_digest. One statement per read = one snapshot.
import type pg from 'pg';

export function visibilityReader(pool: pg.Pool, runId: number) {
  const violations: unknown[] = [];
  const generationsSeen = new Set<string>();
  let stopped = false;
  return {
    violations,
    generationsSeen,
    stop() {
      stopped = true;
    },
    async loop(): Promise<number> {
      let reads = 0;
      // Per reader: one session's reads never go back to an older generation.
      let lastSeen = 0n;
      while (!stopped) {
        const { rows } = await pool.query(
          `select g.generation_id, g.symbols, g.state_digest, kapitaal.run_symbol_state__digest($1) as digest,
                  (select count(*) from kapitaal.run_symbol_state s where s.run_id = $1)::int as total,
                  (select count(*) from kapitaal.run_symbol_state s where s.run_id = $1 and s.generation_id = g.generation_id)::int as own
             from (select * from kapitaal.state_generations where run_id = $1 order by generation_id desc limit 1) g`,
          [runId],
        );
        reads++;
        const r = rows[0];
        if (!r) continue;
        generationsSeen.add(String(r.generation_id));
        const gen = BigInt(r.generation_id);
        if (r.own !== r.symbols || r.total !== r.symbols || r.digest !== r.state_digest || gen < lastSeen) {
          violations.push({ ...r, lastSeen: String(lastSeen) });
        }
        if (gen > lastSeen) lastSeen = gen;
      }
      return reads;
    },
  };
}
