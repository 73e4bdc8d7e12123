create or replace function kapitaal.validation__decision_proofs(
  p_now timestamptz default now(),
  p_window interval default interval '10 minutes'
)
returns table (proof text, ok boolean, detail text)
language sql
stable
as $$
  with attach as (
    select * from kapitaal.execution_attach__resolve(p_now)
  ), evals as (
    select e.outcome, count(*) as n from kapitaal.evaluations e
     where e.evaluated_at >= p_now - p_window group by e.outcome
  ), closed as (
    -- A position opened and closed by fills of our own orders; its P&L must equal
    -- what the fills say: sells - buys - all fees, to the last decimal.
    select p.position_id, p.symbol, p.realised_pnl,
           sum(case f.side when 'sell' then f.price * f.qty else -(f.price * f.qty) end) - sum(f.fee) as from_fills,
           count(*) as fills
      from kapitaal.positions p
      join kapitaal.fills f on f.position_id = p.position_id
     where p.closed_at is not null
     group by p.position_id, p.symbol, p.realised_pnl
  )
  select 'attach',
         coalesce((select attached from attach), false),
         coalesce((select case when attached then format('bound to run %s epoch %s (%s symbols)', run_id, epoch, snapshot_symbols)
                               else 'attach blocked: ' || reason end from attach), 'no attach answer')
  union all
  select 'evaluation',
         exists (select 1 from evals),
         coalesce((select string_agg(format('%s %s', outcome, n), ', ' order by outcome) from evals),
                  'no evaluation in the window')
  union all
  select 'lifecycle',
         exists (select 1 from closed where realised_pnl = from_fills)
           and not exists (select 1 from closed where realised_pnl <> from_fills)
           and not exists (select 1 from kapitaal.positions__verify()),
         coalesce((select format('%s closed positions, P&L equals fills minus fees for %s; e.g. position %s %s: %s',
                                 count(*), count(*) filter (where realised_pnl = from_fills),
                                 min(position_id), min(symbol), (array_agg(realised_pnl order by position_id))[1])
                     from closed having count(*) > 0),
                  'no position opened and closed yet')
$$;
comment on function kapitaal.validation__decision_proofs(timestamptz, interval) is
  'Attach, evaluation and lifecycle proofs on the decision cluster: execution is bound to a live run, evaluations '
  'were stored (by outcome: economically_empty is not data_blocked is not attach_blocked), and a position was '
  'opened and closed with realised P&L equal to its fills minus fees and positions equal to their recomputation.';
