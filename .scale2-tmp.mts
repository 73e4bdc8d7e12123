import pg from 'pg';
const c = new pg.Client({ connectionString: process.argv[2]! }); await c.connect();
await c.query('set search_path = kapitaal, public');
const time = async (label: string, sql: string) => {
  const t: number[] = [];
  for (let i = 0; i < 7; i++) {
    const { rows } = await c.query(`explain (analyze, format json) ${sql}`);
    t.push(rows[0]['QUERY PLAN'][0]['Execution Time']);
  }
  t.sort((a, b) => a - b);
  console.log(label.padEnd(44), 'median', t[3]!.toFixed(2), 'ms (min', t[0]!.toFixed(2), 'max', t[6]!.toFixed(2) + ')');
};
await time('decision_status (20 runs)', 'select * from decision_status order by run_id desc limit 20');
await time('evaluation_outcomes', 'select * from evaluation_outcomes');
await time('outcomes: hash agg + pk lookup', `select e.outcome, count(*) as evaluations, max(e.evaluated_at) as last_at,
  (select x.reason from evaluations x where x.evaluation_id = max(e.evaluation_id)) as last_reason
  from evaluations e where e.evaluated_at > now() - interval '1 hour' group by e.outcome`);
await c.query(`create index if not exists tmp_vis_run_visible_idx on state_generation_visibility (run_id, visible_at)`);
await c.query('analyze state_generation_visibility');
await time('decision_status with (run_id, visible_at) idx', 'select * from decision_status order by run_id desc limit 20');
await c.query(`drop index tmp_vis_run_visible_idx`);
await c.end();
