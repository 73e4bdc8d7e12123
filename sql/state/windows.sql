create or replace function kapitaal.state__bucket_width()
returns interval
language sql
immutable
parallel safe
as $$ select interval '10 seconds' $$;
comment on function kapitaal.state__bucket_width() is
  'Width of the state buckets (10 s). The 1-minute window is 6 buckets, the 5-minute window 30, the current bucket included.';

create or replace function kapitaal.state__windows(p_now timestamptz)
returns table (bucket_now timestamptz, from_1m timestamptz, from_5m timestamptz)
language sql
immutable
parallel safe
as $$
  select b, b - interval '1 minute' + kapitaal.state__bucket_width(), b - interval '5 minutes' + kapitaal.state__bucket_width()
    from date_bin(kapitaal.state__bucket_width(), p_now, timestamptz '2000-01-01 00:00:00+00') b
$$;
comment on function kapitaal.state__windows(timestamptz) is
  'Bucket bounds of the rolling windows at p_now: a window holds the buckets with from_Xm <= bucket_start <= bucket_now.';

create or replace function kapitaal.state__max_xid8()
returns xid8
language sql
immutable
parallel safe
as $$ select xid8 '18446744073709551615' $$;
comment on function kapitaal.state__max_xid8() is 'Largest xid8: the upper bound that reads every committed raw row (used by the recomputation).';
