-- Every proposal an evaluation ranked, with its rank and why it lost. Append-only record of
-- the competitive scoring; written only by evaluation_rankings__record.
create table if not exists kapitaal.evaluation_rankings (
  evaluation_id bigint not null,
  symbol text not null,
  strategy text not null,
  rank integer not null check (rank >= 1),
  score numeric,
  net_edge_bps numeric,
  selected boolean not null,
  reason text not null,
  inputs jsonb not null,
  run_id bigint not null,
  generation_id bigint,
  regime text,
  side text not null,
  entry_liquidity text not null,
  order_type text not null,
  post_only boolean not null,
  entry_price numeric,
  queue_ahead_qty numeric,
  gross_edge_bps numeric,
  fee_bps numeric,
  fill_probability numeric,
  selectable boolean not null,
  gates text[] not null,
  recorded_at timestamptz not null,
  primary key (evaluation_id, symbol, strategy),
  constraint evaluation_rankings_selected_is_selectable check (not selected or selectable),
  constraint evaluation_rankings_selected_is_rank_1 check (not selected or rank = 1)
);
create unique index if not exists evaluation_rankings_rank_idx on kapitaal.evaluation_rankings (evaluation_id, rank);
create unique index if not exists evaluation_rankings_one_selected_idx on kapitaal.evaluation_rankings (evaluation_id)
  where selected;
create index if not exists evaluation_rankings_run_idx on kapitaal.evaluation_rankings (run_id, evaluation_id);

comment on table kapitaal.evaluation_rankings is
  'The competitive scoring of one evaluation: every proposal (symbol x strategy) with its rank, score, net edge, '
  'whether it was selected and why it lost, and all inputs. No foreign key to evaluations (the decision layer''s '
  'table): join `evaluation_rankings r join evaluations e on e.evaluation_id = r.evaluation_id`; the decision layer''s '
  'evaluation_candidates (what passed its fan-out) has the same key: `left join evaluation_candidates c using '
  '(evaluation_id, symbol, strategy)`. At most one selected row per evaluation. Append-only.';
comment on column kapitaal.evaluation_rankings.evaluation_id is 'Id of the evaluation (evaluations.evaluation_id) that ranked these proposals.';
comment on column kapitaal.evaluation_rankings.rank is '1 = best; selectable proposals rank before blocked ones (strategy__rank).';
comment on column kapitaal.evaluation_rankings.score is 'net_edge_bps x fill_probability: what strategies and pairs compete on.';
comment on column kapitaal.evaluation_rankings.net_edge_bps is 'Expected edge after fees and adverse selection, bps of mid.';
comment on column kapitaal.evaluation_rankings.selected is 'The top-1 proposal of the evaluation (at most one per evaluation).';
comment on column kapitaal.evaluation_rankings.reason is
  'selected: ..., lower_score_than <strategy>/<symbol>: ..., or the first gate that blocked it (regime_ineligible, '
  'not_ready, route_stale, pair_not_tradable, no_signal, net_edge_not_positive, ...).';
comment on column kapitaal.evaluation_rankings.inputs is 'Every state value, derived number, policy coefficient and fee rate the proposal used.';
comment on column kapitaal.evaluation_rankings.generation_id is 'State generation the proposal read (run_symbol_state.generation_id).';
comment on column kapitaal.evaluation_rankings.gross_edge_bps is 'Expected move - entry cost - taker exit cost, bps of mid, before fees.';
comment on column kapitaal.evaluation_rankings.fee_bps is 'Round-trip fee: entry fee rate (maker or taker) + taker exit fee rate, in bps.';
comment on column kapitaal.evaluation_rankings.fill_probability is 'Maker: estimated probability that the bid fills within fill_horizon; taker: 1.';
comment on column kapitaal.evaluation_rankings.selectable is 'No gate blocked it (it could have won with the best score).';
comment on column kapitaal.evaluation_rankings.gates is 'Every gate that blocked it, in order; reason starts with the first.';
comment on column kapitaal.evaluation_rankings.recorded_at is 'p_now of the recording (the evaluation''s time).';
comment on column kapitaal.evaluation_rankings.symbol is 'Pair of the proposal, e.g. BTC/USD.';
comment on column kapitaal.evaluation_rankings.strategy is 'Strategy of the proposal (strategy_policy.strategy).';
comment on column kapitaal.evaluation_rankings.run_id is 'The ingest run whose state the proposal read.';
comment on column kapitaal.evaluation_rankings.regime is
  'The pair''s effective regime in that state (null: not established).';
comment on column kapitaal.evaluation_rankings.side is 'Side of the entry: buy (spot, long only).';
comment on column kapitaal.evaluation_rankings.entry_liquidity is
  'maker or taker, from strategy_policy.entry_liquidity.';
comment on column kapitaal.evaluation_rankings.order_type is 'limit or market, from strategy_policy.order_type.';
comment on column kapitaal.evaluation_rankings.post_only is
  'From strategy_policy.post_only: the entry would rest as a maker order only.';
comment on column kapitaal.evaluation_rankings.entry_price is
  'Entry price in quote currency: best ask (taker), best bid, or best bid + one tick (maker improving); null without a book.';
comment on column kapitaal.evaluation_rankings.queue_ahead_qty is
  'Base quantity ahead of a maker entry at entry_price (L3 touch queue; 0 when improving); null for taker entries.';
